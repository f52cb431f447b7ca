"""axe-core over every page type (visitor, customer, staff, admin): zero violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveServer
from .pwa_pages import available_pages, role_pages, seed, visit

pytestmark = pytest.mark.browser

# Vendored from the npm package; injected by the tests only, never shipped in pages.
AXE = Path(__file__).resolve().parents[2] / "filmsphere/static/vendor/axe-core-4.14.1.min.js"


def axe_violations(page: Any) -> list[str]:
    """Run axe-core with its default rules (WCAG 2.x A/AA and best practices)."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    problems = []
    for violation in results["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
        problems.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}"
        )
    return problems


def structure_problems(page: Any) -> list[str]:
    """House rules axe leaves to best practice: exactly one h1, no skipped heading level."""
    levels = page.eval_on_selector_all(
        "h1, h2, h3, h4, h5, h6", "els => els.map(e => Number(e.tagName[1]))"
    )
    problems = []
    if levels.count(1) != 1:
        problems.append(f"{levels.count(1)} h1 elements")
    for before, after in zip(levels, levels[1:], strict=False):
        if after > before + 1:
            problems.append(f"heading level jumps from h{before} to h{after}")
            break
    return problems


def test_every_page_type_has_no_axe_violations(browser: Any, live: LiveServer) -> None:
    data = seed(live)
    pages = available_pages(live, data)
    report: dict[str, list[str]] = {}
    # bypass_csp: the strict CSP (rightly) refuses the injected axe script.
    with role_pages(browser, live, data, bypass_csp=True, service_workers="block") as page_for:
        for page_type in pages:
            page = page_for(page_type.role)
            problem = visit(page, live, data, page_type)
            if problem:
                report[page_type.name] = [problem]
                continue
            found = axe_violations(page) + structure_problems(page)
            if found:
                report[f"{page_type.name} {page.url}"] = found
    assert len(pages) >= 3
    assert report == {}, "\n".join(f"{name}: {probs}" for name, probs in report.items())


def _indicator_transition(browser: Any, live: LiveServer, reduced_motion: str) -> str:
    """The htmx indicator's transition duration with that motion preference."""
    context = browser.new_context(reduced_motion=reduced_motion, service_workers="block")
    try:
        page = context.new_page()
        page.goto(live.path("/offline"))
        return str(
            page.evaluate(
                """() => {
                    const el = document.createElement('span');
                    el.className = 'htmx-indicator';
                    document.body.appendChild(el);
                    return getComputedStyle(el).transitionDuration;
                }"""
            )
        )
    finally:
        context.close()


def test_reduced_motion_stops_animation(browser: Any, live: LiveServer) -> None:
    """With prefers-reduced-motion, app.css cuts transitions (e.g. the htmx indicator)."""
    assert _indicator_transition(browser, live, "reduce") in {"1e-05s", "0.00001s"}
    assert _indicator_transition(browser, live, "no-preference") == "0.2s"


def test_axe_check_catches_a_broken_page(browser: Any, live: LiveServer) -> None:
    """Negative control: the same check reports a missing label and poor contrast."""
    context = browser.new_context(bypass_csp=True, service_workers="block")
    try:
        page = context.new_page()
        page.goto(live.path("/offline"))
        assert axe_violations(page) == []
        page.evaluate(
            """() => {
                const main = document.querySelector('main');
                main.insertAdjacentHTML('beforeend',
                    '<input type="text"><p class="muted">Some faint text nobody can read</p>'
                    + '<h4>skipped</h4>');
                main.lastElementChild.previousElementSibling.style.color = '#2a2735';
            }"""
        )
        found = " ".join(axe_violations(page))
        assert "label" in found
        assert "color-contrast" in found
        assert structure_problems(page) == ["heading level jumps from h2 to h4"]
    finally:
        context.close()
