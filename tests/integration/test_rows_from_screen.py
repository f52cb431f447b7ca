"""Layouts run from the screen backwards (issue 16): the data migration keeps every seat
where it is and every row letter as its admin gave it; new layouts letter from the screen."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from filmsphere.extensions import db
from filmsphere.models import Screen, Seat
from filmsphere.services.catalogue import screens as screen_service

from ..factories import make_user, now
from .test_migrations import _fresh_database


def test_a_new_layout_letters_row_a_nearest_the_screen() -> None:
    specs = screen_service.parse_layout("SS\nS.S\nPPP")
    assert [(s.row_label, s.number, s.grid_row, s.grid_col) for s in specs[:3]] == [
        ("A", 1, 0, 0),
        ("A", 2, 0, 1),
        ("B", 1, 1, 0),
    ]
    back = screen_service.parse_layout("SS\nS.S\nPPP", row_a_at_back=True)
    assert [s.row_label for s in back] == ["C", "C", "B", "B", "A", "A", "A"]
    assert [label for label, _ in screen_service.preview_rows("SS\nSS", True)] == ["B", "A"]


def test_the_migration_flips_rows_and_keeps_letters(
    backend: str, database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from flask_migrate import downgrade, upgrade

    from filmsphere import create_app

    url, drop = _fresh_database(backend, database_url, tmp_path)
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path)}
    )
    try:
        with app.app_context():
            upgrade(revision="p16b_rows_from_screen-1")
            # The old way: line 1 is row A, the back row; row C nearest the screen. Seat 9 is
            # retired (an old ticket's seat) at row B's first cell.
            db.session.execute(
                text(
                    "INSERT INTO screens (id, name, layout, is_active, created_at, layout_version)"
                    " VALUES (1, 'Old', 'VV\nSS\nS.', true, :now, 1)"
                ),
                {"now": now()},
            )
            seats = [
                (1, "A", 1, 0, 0, "vip", True),
                (2, "A", 2, 0, 1, "vip", True),
                (3, "B", 1, 1, 0, "standard", True),
                (4, "B", 2, 1, 1, "standard", True),
                (5, "C", 1, 2, 0, "standard", True),
                (9, "B", 1, 1, 0, "premium", False),
            ]
            for sid, label, number, row, col, category, active in seats:
                db.session.execute(
                    text(
                        "INSERT INTO seats (id, screen_id, row_label, number, grid_row, grid_col,"
                        " category, is_active) VALUES (:id, 1, :label, :number, :row, :col,"
                        " :category, :active)"
                    ),
                    {
                        "id": sid,
                        "label": label,
                        "number": number,
                        "row": row,
                        "col": col,
                        "category": category,
                        "active": active,
                    },
                )
            db.session.commit()
            upgrade(revision="p16b_rows_from_screen")
            rows = dict(db.session.execute(text("SELECT id, grid_row FROM seats")).all())
            assert rows == {1: 2, 2: 2, 3: 1, 4: 1, 5: 0, 9: 1}
            labels = dict(db.session.execute(text("SELECT id, row_label FROM seats")).all())
            assert labels == {1: "A", 2: "A", 3: "B", 4: "B", 5: "C", 9: "B"}
            screen = db.session.execute(text("SELECT layout, row_a_at_back FROM screens")).one()
            assert screen.layout == "S.\nSS\nVV" and bool(screen.row_a_at_back)
            db.session.commit()

            # A save of the same layout changes no seat: the letters still run from the back.
            admin = make_user(coins=0)
            screen_service.update_layout(admin.id, 1, "Old", "S.\nSS\nVV", now())
            active = db.session.scalars(
                select(Seat).where(Seat.screen_id == 1, Seat.is_active.is_(True))
            ).all()
            assert sorted((s.id, s.label, s.grid_row) for s in active) == [
                (1, "A1", 2),
                (2, "A2", 2),
                (3, "B1", 1),
                (4, "B2", 1),
                (5, "C1", 0),
            ]
            assert db.session.get(Screen, 1).layout_version == 2  # type: ignore[union-attr]
            db.session.commit()

            downgrade(revision="p16b_rows_from_screen-1")
            rows = dict(db.session.execute(text("SELECT id, grid_row FROM seats")).all())
            assert rows == {1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 9: 1}
            layout = db.session.execute(text("SELECT layout FROM screens")).scalar_one()
            assert layout == "VV\nSS\nS."
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()


def test_refund_deadlines_are_the_moments_refund_percent_changes(backend: str, ctx) -> None:  # type: ignore[no-untyped-def]
    from filmsphere.services.booking.cancellation import refund_deadlines, refund_percent

    starts = now() + timedelta(hours=5)
    limits = refund_deadlines(starts, now())
    assert limits.full_until == starts - timedelta(hours=2)
    assert limits.partial_until == starts - timedelta(minutes=20)
    assert limits.percent_now == 100
    assert refund_percent(starts, limits.full_until) == 100
    assert refund_percent(starts, limits.full_until + timedelta(seconds=1)) == 80
    assert refund_percent(starts, limits.partial_until) == 80
    assert refund_percent(starts, limits.partial_until + timedelta(seconds=1)) == 0
