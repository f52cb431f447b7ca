"""Audit log queries for /admin/audit: filters and pagination."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select

from ..clock import local_day_bounds
from ..extensions import db
from ..models import AuditEntry, User
from .paging import one_page

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditPage:
    rows: list[tuple[AuditEntry, str | None]]  # entry, actor username
    page: int
    pages: int
    total: int


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
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """Audit rows, newest first. `actor` matches username or email; `action` an exact
    action or a prefix ending in "." ("film."); dates are cinema-local and inclusive."""
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
    rows, page, pages, total = one_page(query.order_by(AuditEntry.id.desc()), page, page_size)
    return AuditPage([(e, n) for e, n in rows], page, pages, total)
