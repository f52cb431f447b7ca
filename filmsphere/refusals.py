"""How a refused action answers: the one DomainError → (status, message) mapping, the
app-level handler, and the hook a view uses to render its refusals its own way.

Views don't catch DomainError: they call the service and let a refusal propagate. The
handler asks the view's registered renderer (`@renders_refusals(fn)`) first; without
one, a refusal is the standard error page (or, for htmx, the error fragment) with the
mapping's status and message. A JSON API reuses `status_and_message` (and can register
its own handler on its blueprint, which Flask prefers to this app-level one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from .errors import render_error
from .services.errors import DomainError

RefusalRenderer = Callable[[DomainError], ResponseReturnValue]
View = TypeVar("View", bound=Callable[..., Any])


def status_and_message(error: DomainError) -> tuple[int, str]:
    """The HTTP status and the user-facing sentence for a refusal (the service's own
    words). The one mapping: pages, fragments and a JSON API all answer with it."""
    return error.status, error.message


def renders_refusals(renderer: RefusalRenderer) -> Callable[[View], View]:
    """Register how this view's refusals render (e.g. the seat map's grid fragment, a
    form re-shown with the message). The renderer gets the error and returns a response;
    a refusal the renderer itself meets (the thing it would redraw is gone: 404; a forged
    page link in the query: BadCursor) answers with its own status and message, an HTTP
    error it raises (abort) like any other."""

    def register(view: View) -> View:
        view.renders_refusal = renderer  # type: ignore[attr-defined]
        return view

    return register


def _renderer_for_request() -> RefusalRenderer | None:
    view: Any = current_app.view_functions.get(request.endpoint or "")
    while view is not None:  # through decorators (functools.wraps keeps __wrapped__)
        renderer = getattr(view, "renders_refusal", None)
        if renderer is not None:
            return renderer
        view = getattr(view, "__wrapped__", None)
    return None


def default_response(error: DomainError) -> ResponseReturnValue:
    """The standard error page (or, for htmx, the error fragment) with the service's
    sentence."""
    status, message = status_and_message(error)
    return render_error(status, message)


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def refused(error: DomainError) -> ResponseReturnValue:
        renderer = _renderer_for_request()
        if renderer is None:
            return default_response(error)
        try:
            return renderer(error)
        except DomainError as redraw_refused:
            return default_response(redraw_refused)
        except HTTPException as http:  # e.g. a bad query argument met while redrawing
            return app.handle_http_exception(http)
