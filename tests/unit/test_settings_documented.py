"""Every FILMSPHERE_* setting the code reads is documented in .env.example and the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_read_by_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "filmsphere").rglob("*.py"):
        source = path.read_text()
        names |= set(re.findall(r'env(?:_int|_bool)?\(\s*"([A-Z0-9_]+)"', source))
        names |= {
            n.removeprefix("FILMSPHERE_") for n in re.findall(r'"(FILMSPHERE_[A-Z0-9_]+)"', source)
        }
    return {f"FILMSPHERE_{n}" for n in names}


def test_code_reads_settings() -> None:
    assert "FILMSPHERE_SECRET_KEY" in settings_read_by_code()


def test_every_setting_is_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*(FILMSPHERE_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert sorted(settings_read_by_code() - documented) == []


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        n
        for n in sorted(settings_read_by_code())
        if n not in readme and n.removeprefix("FILMSPHERE_") not in readme
    ]
    assert missing == []
