"""Staff pages: ticket check-in at the door."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from ...htmx import is_partial_request
from ...models import utcnow
from ...security import staff_required
from ...services.door.checkin import CheckInResult, todays_shows
from ...services.door.checkin import check_in as check_in_ticket
from .forms import ANY_SHOW, CheckInForm

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _not_checked(form: CheckInForm) -> CheckInResult:
    """The panel for a form that did not validate: what is missing, or (for a show no
    longer listed) that the page is stale."""
    if "show_id" in form.errors:
        return CheckInResult(
            "invalid", "NOT CHECKED", "That show is not on today's list any more: reload the page."
        )
    messages = [m for errors in form.errors.values() for m in errors]
    return CheckInResult("invalid", "NOT CHECKED", " ".join(messages))


@bp.route("/check-in", methods=["GET", "POST"])
@staff_required
def check_in() -> tuple[str, int]:
    """The door scanner. GET: the form (optionally ?show=<id> preselected). POST: check a
    code and show the result panel — the fragment for htmx, the whole page otherwise (the
    result is not a redirect target: reloading re-checks the code, which is harmless, it
    then says "already used").

    Status: 200 valid (or a plain GET), 409 a genuine ticket refused (used, cancelled,
    other show/day), 422 an unreadable or forged code or an incomplete form.
    """
    now = utcnow()
    form = CheckInForm(shows=todays_shows(now))
    result: CheckInResult | None = None
    if request.method == "GET":
        form.preselect(request.args.get("show", ANY_SHOW, type=int))
    elif form.validate_on_submit():
        chosen = form.chosen_show()
        result = check_in_ticket(form.code.data or "", current_user.id, now, show_id=chosen)
        form.code.data = ""  # ready for the next ticket
    else:
        result = _not_checked(form)
    status = result.status if result is not None else 200
    if is_partial_request():
        return render_template("staff/_checkin_result.html", result=result), status
    return render_template("staff/check_in.html", form=form, result=result), status
