"""Screenshots the browser tests leave for a reviewer, under artefacts/screenshots/ at the
repository root (ignored by git; see README, Tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artefacts" / "screenshots"


def save_screenshot(page: Any, name: str) -> Path:
    """The page's viewport as artefacts/screenshots/<name>.png (what the user sees first)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
