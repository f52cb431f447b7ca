"""The whole API against its own OpenAPI document (schemathesis, bounded): valid and
invalid requests for every operation, and no answer is a 5xx or strays from the spec."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings

from filmsphere.models import Role
from filmsphere.services.accounts.api_tokens import create_token
from tests import factories as f

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Per operation and mode: 13 operations × 2 modes × this many requests (a few seconds).
EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"RATELIMIT_ENABLED": False}  # the fuzzer is one very fast client


def fuzz(app: Flask, secret: str, only: str | None = None) -> tuple[list[str], int]:
    """Run every operation (or those whose path contains `only`) in both modes; return the
    failures and how many requests were made."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {secret}"}
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if only is not None and only not in operation.path:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                nonlocal calls
                case.headers = {**(case.headers or {}), **headers}
                response = case.call()
                calls += 1
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except BaseException as exc:  # collect every operation's failure, then report
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:600]}")
    return failures, calls


def seed(app: Flask) -> str:
    with app.app_context():
        staff = f.make_user(Role.STAFF)
        show = f.make_show()
        f.make_booking(staff, show, ("A1",))
        return create_token(staff.id, "fuzz", ["read", "book", "check-in"], f.now()).secret


@pytest.mark.postgres_only
def test_api_conforms_to_its_spec_and_never_fails(backend: str, app: Flask) -> None:
    failures, calls = fuzz(app, seed(app))
    assert failures == [], "\n\n".join(failures)
    assert calls >= 13 * 2 * 5  # every operation, both modes, really exercised


@pytest.mark.postgres_only
def test_the_fuzz_run_finds_a_server_error(
    backend: str, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: a wallet endpoint that crashes is reported (under TESTING the
    exception reaches the run instead of becoming a 500; either way it is a failure)."""

    def crash(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("filmsphere.blueprints.api.present.wallet", crash)
    failures, _ = fuzz(app, seed(app), only="/wallet")
    assert failures and all("boom" in failure for failure in failures)
