"""Audit log queries for /admin/audit: filters and pagination."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select

from ...clock import local_day_bounds
from ...extensions import db
from ...models import AuditEntry, User
from ..paging import Key, Page, keyset_page

PAGE_SIZE = 50


def audit_actions() -> list[str]:
    return list(
        db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    )


def list_audit(
    *,
    actor: str = "",
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    cursor: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Page[tuple[AuditEntry, str | None]]:
    """The page `cursor` names of the audit rows (entry, actor username), newest first.
    `actor` matches username or email; `action` an exact action or a prefix ending in "."
    ("film."); dates are cinema-local and inclusive. Reads only; raises BadCursor."""
    query = select(AuditEntry, User.username).outerjoin(User, User.id == AuditEntry.actor_id)
    if actor.strip():
        pattern = f"%{actor.strip().lower()}%"
        query = query.where(
            or_(func.lower(User.username).like(pattern), func.lower(User.email).like(pattern))
        )
    if action.strip():
        action = action.strip()
        query = query.where(
            AuditEntry.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if date_from is not None:
        query = query.where(AuditEntry.created_at >= local_day_bounds(date_from)[0])
    if date_to is not None:
        query = query.where(AuditEntry.created_at < local_day_bounds(date_to)[1])
    page = keyset_page(
        query, [Key(AuditEntry.id, int)], lambda r: [r[0].id], cursor, page_size, descending=True
    )
    return page.with_rows([(entry, name) for entry, name in page.rows])
