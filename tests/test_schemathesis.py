"""Schemathesis against ``/api/v1/openapi.json``: every operation, anonymous and as an admin,
with generated valid and invalid input. No answer may be a 5xx, and every answer the document
describes (success bodies and the ``Error`` body of every 4xx) must match its schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from oncall import db
from oncall.config import Settings
from oncall.models import SystemState, utcnow
from tests.conftest import Cast, web_app

EXAMPLES = 6  # per operation, mode and caller: about 1,500 requests in all


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """The app, ready: a sweeper ran, and stays fresh for the whole run (/ready is 200)."""
    with db.session_scope(settings.database_url) as s:
        s.merge(SystemState(key="sweeper", updated_at=utcnow()))
    yield from web_app(replace(settings, ready_max_sweep_age=3600))


def test_the_api_gives_no_5xx_and_answers_as_documented(
        app: Any, cast: Cast, admin_auth: dict[str, str]) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500 answer, as in production
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for headers in ({}, admin_auth):
                failures.extend(_run(operation, mode, headers))
    assert operations > 40
    assert failures == [], "\n".join(failures[:30])


def _run(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> list[str]:
    found: list[str] = []
    who = "admin" if headers else "anonymous"

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=[not_a_server_error,
                                                     response_schema_conformance])
        except (Exception, BaseExceptionGroup) as exc:  # one per (operation, mode, caller)
            if not found:
                found.append(f"{operation.label} ({mode.value}, {who}): "
                             f"{response.status_code} {str(exc)[:600]}")

    try:
        check()
    except Exception as exc:  # hypothesis could not generate any case: nothing to check
        if "Unsatisfiable" not in type(exc).__name__:
            raise
    return found
