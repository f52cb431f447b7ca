"""One page of an ordered query: its rows, the page (clamped into range), pages and total."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, func, select

from ..extensions import db


def one_page(query: Select[Any], page: int, page_size: int) -> tuple[list[Row[Any]], int, int, int]:
    """Rows of `page` of the ordered `query`, with the page actually shown (a page past
    the end shows the last one), the number of pages (at least 1) and the row count."""
    total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    rows = db.session.execute(query.offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), page, pages, total
