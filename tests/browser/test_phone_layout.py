"""A 360 × 740 phone: no page scrolls sideways; touch targets are big enough to hit."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LiveServer
from .pwa_pages import available_pages, role_pages, seed, visit

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "service_workers": "block",
}

# Measures every visible control. Links inside running text are exempt (WCAG 2.5.8
# "inline" exception). A checkbox or radio counts with its label: that is what people tap.
MEASURE_TARGETS = """() => {
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
  const CONTROL = 'button, select, textarea, .button, '
    + 'input:not([type=checkbox]):not([type=radio])';
  const out = [];
  for (const el of controls) {
    let box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.closest('.visually-hidden, .skip-link')) continue;
    // Not a pointer target at all (the seat map's overview: a tap there magnifies the map).
    if (style.pointerEvents === 'none') continue;
    if (el.tagName === 'A' && style.display === 'inline') {
      const own = (el.textContent || '').trim().length;
      if ((el.parentElement.textContent || '').trim().length > own) continue;
    }
    const checkable = el.matches('input[type=checkbox], input[type=radio]');
    if (checkable && el.labels && el.labels.length) {
      const l = el.labels[0].getBoundingClientRect();
      box = {left: Math.min(box.left, l.left), top: Math.min(box.top, l.top),
             right: Math.max(box.right, l.right), bottom: Math.max(box.bottom, l.bottom)};
    }
    const name = (el.getAttribute('aria-label') || el.textContent || el.name || el.tagName)
      .trim().replace(/\\s+/g, ' ').slice(0, 40);
    out.push({tag: el.tagName.toLowerCase(), name, checkable,
              dense: !!el.closest('#seat-grid, .seat-grid, [data-dense-grid]'),
              control: el.matches(CONTROL),
              left: box.left, top: box.top, right: box.right, bottom: box.bottom});
  }
  return out;
}"""


def _distance_to_box(x: float, y: float, t: dict[str, Any]) -> float:
    dx = max(t["left"] - x, 0.0, x - t["right"])
    dy = max(t["top"] - y, 0.0, y - t["bottom"])
    return float((dx * dx + dy * dy) ** 0.5)


def target_size_failures(targets: list[dict[str, Any]]) -> list[str]:
    """WCAG 2.5.8 (AA): a target under 24 x 24 px passes only if a 24 px circle centred on
    it touches no other target and no other undersized target's circle."""
    failures = []
    for t in targets:
        t["width"], t["height"] = t["right"] - t["left"], t["bottom"] - t["top"]
        t["small"] = min(t["width"], t["height"]) < 24
        t["cx"], t["cy"] = (t["left"] + t["right"]) / 2, (t["top"] + t["bottom"]) / 2
    for t in targets:
        if not t["small"]:
            continue
        for other in targets:
            if other is t:
                continue
            if other["small"]:
                crowded = ((t["cx"] - other["cx"]) ** 2 + (t["cy"] - other["cy"]) ** 2) ** 0.5 < 24
            else:
                crowded = _distance_to_box(t["cx"], t["cy"], other) < 12
            if crowded:
                failures.append(f"{label(t)} crowds {label(other)}")
                break
    return failures


def label(t: dict[str, Any]) -> str:
    return f"{t['tag']} '{t['name']}' {round(t['width'])}x{round(t['height'])}"


# The widest offenders, for the failure message; areas that scroll on purpose are skipped.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const describe = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.split(' ')[0] : '');
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .filter(e => !e.closest('.table-wrap, .date-strip, [data-scroll-x], #seat-grid'))
    .slice(0, 3).map(describe);
  return {scroll: document.documentElement.scrollWidth, client: width, wide};
}"""


def overflow(page: Any) -> str | None:
    sizes = page.evaluate(OVERFLOW)
    if sizes["scroll"] > sizes["client"]:
        return f"scrollWidth {sizes['scroll']} > clientWidth {sizes['client']}: {sizes['wide']}"
    return None


def small_targets(page: Any) -> tuple[list[str], list[str]]:
    """(failures, advisories). Failures: WCAG 2.5.8 target size, and buttons or form fields
    under 44 px tall (outside dense grids such as the seat map). Advisories: other targets
    under 44 px tall (links in tables and lists, where a 44 px row would waste the room)."""
    targets = page.evaluate(MEASURE_TARGETS)
    hard = target_size_failures(targets)
    soft = []
    for t in targets:
        if t["height"] >= 44 - 0.5 or t["dense"]:
            continue
        if t["control"]:
            hard.append(f"{label(t)} under 44 px")
        else:
            soft.append(label(t))
    return hard, soft


def test_every_page_type_fits_a_phone(browser: Any, live: LiveServer) -> None:
    data = seed(live)
    pages = available_pages(live, data)
    failures: dict[str, list[str]] = {}
    advisories: dict[str, list[str]] = {}
    with role_pages(browser, live, data, **PHONE) as page_for:
        for page_type in pages:
            page = page_for(page_type.role)
            problem = visit(page, live, data, page_type)
            if problem:
                failures[page_type.name] = [problem]
                continue
            found = []
            wide = overflow(page)
            if wide:
                found.append(wide)
            hard, soft = small_targets(page)
            found += hard
            if found:
                failures[page_type.name] = found
            if soft:
                advisories[page_type.name] = soft
    if advisories:
        # Not failures (links in tables and lists where a full 44 px row would waste room),
        # but worth seeing: printed with -s / on failure.
        print("targets under 44 px:", advisories)
    assert len(pages) >= 3
    assert failures == {}, "\n".join(f"{name}: {probs}" for name, probs in failures.items())
