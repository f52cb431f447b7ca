"""/api/docs in Chromium: Swagger UI draws the API under the app's CSP, and axe finds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LiveServer
from .test_accessibility import axe_violations, structure_problems

pytestmark = pytest.mark.browser


def _open_docs(page: Any, live: LiveServer) -> None:
    page.goto(live.path("/api/docs"))
    # Drawn from openapi.json: one block per operation.
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() >= 13


def test_docs_page_draws_the_api_with_no_csp_violation(browser: Any, live: LiveServer) -> None:
    context = browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('Content Security Policy violation: ' + e.violatedDirective))"
        )
        _open_docs(page, live)
        assert "/api/v1/shows/{show_id}/checkout" in page.content()
        page.wait_for_timeout(300)  # late style or script insertions would report by now
        assert refused == []
        # The listener hears a violation when there is one (an inline <style>).
        page.evaluate(
            "() => { const s = document.createElement('style');"
            " s.textContent = 'body { color: red }'; document.head.appendChild(s); }"
        )
        page.wait_for_timeout(200)
        assert refused, "the CSP check must be able to fail"
    finally:
        context.close()


def test_docs_page_has_no_axe_violations(browser: Any, live: LiveServer) -> None:
    # bypass_csp: the strict CSP (rightly) refuses the injected axe script.
    context = browser.new_context(bypass_csp=True, service_workers="block")
    try:
        page = context.new_page()
        _open_docs(page, live)
        found = axe_violations(page) + structure_problems(page)
        assert found == [], "\n".join(found)
    finally:
        context.close()


def test_opened_operations_have_no_axe_violations(browser: Any, live: LiveServer) -> None:
    """One at a time, as a reader opens them: array parameters, a header and a body, a
    409 with a body, the door's check-in."""
    context = browser.new_context(bypass_csp=True, service_workers="block")
    try:
        page = context.new_page()
        _open_docs(page, live)
        for operation in (
            "get_api_v1_films",
            "post_api_v1_shows__show_id__checkout",
            "get_api_v1_bookings__reference__refund_quote",
            "post_api_v1_check_in",
        ):
            control = page.locator(f"#operations-api-{operation} .opblock-summary-control")
            control.click()
            page.locator(f"#operations-api-{operation} .responses-wrapper").wait_for()
            found = axe_violations(page)
            assert found == [], f"{operation}: " + "\n".join(found)
            control.click()
    finally:
        context.close()
