"""The app's one pager: keyset pages of an ordered query behind opaque, validated cursors.

A page is found by the sort key of the row next to it ("after this key", "before this
key"), never by OFFSET, so a deep page reads as few rows as the first one and a row added
while someone pages neither repeats nor hides a row on the next page. The cursor is the
key in base64url JSON: opaque to the reader, checked on the way in (a forged or truncated
cursor is a 400 with a message, never a 500), and harmless if well-formed but invented,
because the query it bounds stays scoped to what the caller may see.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Row, Select, literal, tuple_

from .. import MAX_DB_INT
from ..extensions import db
from .errors import DomainError

R = TypeVar("R")
T = TypeVar("T")

LAST = "last"  # the cursor of the page at the end of the order
MAX_TEXT_KEY = 200  # the longest text a cursor's key may hold (a film's title)
MAX_CURSOR_LENGTH = 400


class BadCursor(DomainError):
    """A page cursor this app did not make (edited, truncated or from another list)."""

    status = 400

    def __init__(self) -> None:
        super().__init__("That page link is not valid: go back to the first page.")


@dataclass(frozen=True)
class Key:
    """One column of the sort key, and the type its cursor value must have."""

    column: Any
    kind: type[int] | type[str] | type[datetime]


@dataclass(frozen=True)
class Page(Generic[R]):
    """One page: its rows in the list's order, the cursors of the pages before and after
    it (None at either end), and whether it is the first page."""

    rows: list[R]
    previous: str | None
    next: str | None
    is_first: bool

    def with_rows(self, rows: list[T]) -> Page[T]:
        """The same page showing `rows` (the rows made into what the template needs)."""
        return Page(rows, self.previous, self.next, self.is_first)


def encode_cursor(direction: str, values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps([direction, plain], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[Key]) -> tuple[str, list[Any]]:
    """("a" or "b", the key values) from a cursor; raises BadCursor unless it is one this
    pager made for a key of this shape."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise BadCursor()
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise BadCursor() from None
    if (
        not isinstance(data, list)
        or len(data) != 2
        or data[0] not in ("a", "b")
        or not isinstance(data[1], list)
        or len(data[1]) != len(keys)
    ):
        raise BadCursor()
    return data[0], [_value(raw, key.kind) for raw, key in zip(data[1], keys, strict=True)]


def _value(raw: Any, kind: type) -> Any:
    if kind is int:
        if type(raw) is not int or not -MAX_DB_INT <= raw <= MAX_DB_INT:
            raise BadCursor()
        return raw
    if kind is str:
        if not isinstance(raw, str) or len(raw) > MAX_TEXT_KEY:
            raise BadCursor()
        return raw
    if not isinstance(raw, str) or len(raw) > 40:
        raise BadCursor()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadCursor() from None
    if value.tzinfo is None:
        raise BadCursor()
    return value


def _beyond(keys: Sequence[Key], values: Sequence[Any], greater: bool) -> ColumnElement[bool]:
    """Rows whose key is past `values` (row-value comparison: one index range on both
    databases)."""
    columns = [k.column for k in keys]
    bound = [literal(v, k.column.type) for v, k in zip(values, keys, strict=True)]
    left: Any = columns[0] if len(keys) == 1 else tuple_(*columns)
    right: Any = bound[0] if len(keys) == 1 else tuple_(*bound)
    return left > right if greater else left < right


def keyset_page(
    query: Select[Any],
    keys: Sequence[Key],
    row_key: Callable[[Row[Any]], Sequence[Any]],
    cursor: str | None,
    size: int,
    *,
    descending: bool,
) -> Page[Row[Any]]:
    """The page of `query` (unordered; filtered to what the caller may see) that `cursor`
    names, in the order of `keys` (all ascending or all descending; the last key unique).
    No cursor: the first page; LAST: the last one. Reads only; one statement, or two when
    a "before" cursor lands in front of the first page (then the first page is shown).
    Raises BadCursor for a cursor the pager did not make."""
    if cursor == LAST:
        return _backward(query, keys, row_key, None, size, descending)
    if not cursor:
        return _forward(query, keys, row_key, None, size, descending)
    direction, values = decode_cursor(cursor, keys)
    if direction == "a":
        return _forward(query, keys, row_key, values, size, descending)
    page = _backward(query, keys, row_key, values, size, descending)
    return page if page.rows else _forward(query, keys, row_key, None, size, descending)


def _ordered(query: Select[Any], keys: Sequence[Key], descending: bool) -> Select[Any]:
    return query.order_by(*[k.column.desc() if descending else k.column.asc() for k in keys])


def _forward(
    query: Select[Any],
    keys: Sequence[Key],
    row_key: Callable[[Row[Any]], Sequence[Any]],
    after: Sequence[Any] | None,
    size: int,
    descending: bool,
) -> Page[Row[Any]]:
    if after is not None:
        query = query.where(_beyond(keys, after, greater=not descending))
    rows = list(db.session.execute(_ordered(query, keys, descending).limit(size + 1)).all())
    more, rows = len(rows) > size, rows[:size]
    return Page(
        rows,
        previous=encode_cursor("b", row_key(rows[0])) if after is not None and rows else None,
        next=encode_cursor("a", row_key(rows[-1])) if more else None,
        is_first=after is None,
    )


def _backward(
    query: Select[Any],
    keys: Sequence[Key],
    row_key: Callable[[Row[Any]], Sequence[Any]],
    before: Sequence[Any] | None,
    size: int,
    descending: bool,
) -> Page[Row[Any]]:
    if before is not None:
        query = query.where(_beyond(keys, before, greater=descending))
    found = db.session.execute(_ordered(query, keys, not descending).limit(size + 1)).all()
    more = len(found) > size
    rows = list(reversed(found[:size]))
    return Page(
        rows,
        previous=encode_cursor("b", row_key(rows[0])) if more else None,
        next=encode_cursor("a", row_key(rows[-1])) if before is not None and rows else None,
        is_first=not more,
    )
