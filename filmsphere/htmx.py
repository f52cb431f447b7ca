"""htmx request detection and response helpers; nothing else."""

from __future__ import annotations

import json

from flask import Response, request
from werkzeug.wrappers import Response as BaseResponse

REDIRECTS = (301, 302, 303, 307, 308)


def is_partial_request() -> bool:
    """True when htmx asks for a fragment (and not for a history-restore full page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def trigger(response: Response, *events: str) -> Response:
    """Add past-tense events (e.g. "seats-changed") to the HX-Trigger header."""
    existing = response.headers.get("HX-Trigger")
    names = json.loads(existing) if existing and existing.startswith("{") else {}
    if existing and not names:
        names = {name.strip(): None for name in existing.split(",")}
    names.update({event: None for event in events})
    response.headers["HX-Trigger"] = json.dumps(names)
    return response


def redirect_as_hx_redirect(response: Response) -> BaseResponse:
    """An after_request hook for blueprints whose forms htmx posts: htmx would follow a
    redirect inside its request and swap a whole page into the target; for htmx, a
    redirect (log in, verify, paid, cancelled) becomes HX-Redirect instead."""
    if is_partial_request() and response.status_code in REDIRECTS and response.location:
        response.headers["HX-Redirect"] = response.location
        del response.headers["Location"]
        response.status_code = 204
        response.set_data(b"")
    return response
