"""The signed-in user's menu: which pages they may open."""

from __future__ import annotations

from flask import current_app

NAV_USER_LINKS = [
    ("bookings.my_bookings", "My bookings", None),
    ("wallet.wallet", "Wallet", None),
    ("staff.check_in", "Check-in", "staff"),
    ("admin.dashboard", "Admin", "admin"),
    ("auth.account", "Account", None),
]


def nav_user_links() -> list[tuple[str, str]]:
    """The signed-in user's navigation: only links to pages that exist and they may open."""
    from flask_login import current_user

    return [
        (endpoint, label)
        for endpoint, label, role in NAV_USER_LINKS
        if endpoint in current_app.view_functions and (role is None or current_user.has_role(role))
    ]
