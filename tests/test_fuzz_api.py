"""Schemathesis against the app's own OpenAPI schema, in-process: every documented operation is
called with generated data and the bearer token, and every answer must be no 5xx, with a status
code, content type, headers and body that the schema declares. Data that does not fit the schema
(negative mode) must also be refused with a 4xx.

Bounded and repeatable for CI: a fixed number of examples per operation and strategy,
derandomized, no deadline (the first call of an operation warms caches); a fresh database per
mode. Random emails find no customer, so in positive mode the customer endpoints and
`POST /v1/responses` also run pinned to one customer and the configured surveys, to reach the
paths that find and change records. The operations are driven here rather than by
`schemathesis.pytest.from_fixture`, whose lazy loader does not run under pytest 9.2 (it reads
`Function._nodeid`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode, Response
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from daemon.run.services import Services
from daemon.web import create_app

from helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def rejected(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Invalid data must be refused; a body over server.max_body_bytes is, with 413 (which
    schemathesis does not count among refusals)."""
    return None if response.status_code == 413 else negative_data_rejection(ctx, response, case)


EXTRA = {GenerationMode.POSITIVE: [], GenerationMode.NEGATIVE: [rejected]}
EXAMPLES = 25
KNOWN = "ann@example.com"


def strategies(
    operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, surveys: list[str]
) -> list[st.SearchStrategy[Case[Any]]]:
    found = [operation.as_strategy(generation_mode=mode)]
    if mode is not GenerationMode.POSITIVE:
        return found
    if operation.path == "/v1/customers/{email}":
        found.append(operation.as_strategy(path_parameters={"email": KNOWN}))
    if operation.label == "POST /v1/responses":
        found.append(
            st.tuples(st.integers(0, 10), st.sampled_from(surveys)).flatmap(
                lambda pick: operation.as_strategy(
                    body={"customer": {"email": KNOWN}, "survey": pick[1], "score": pick[0]}
                )
            )
        )
    return found


@pytest.mark.slow
@pytest.mark.sqlite_only(
    "schemathesis calls the app from an event loop of its own in another thread (starlette's "
    "portal), where the asyncpg pool opened on the test's loop cannot be used"
)
@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_every_operation_answers_as_documented(services: Services, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
    surveys = sorted(services.config.surveys)
    answered: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the schema documents an operation wrongly
            raise result.err()
        operation = result.ok()
        for strategy in strategies(operation, mode, surveys):

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            def exercise(case: Case[Any]) -> None:
                response = case.call_and_validate(headers=AUTH, checks=[*CHECKS, *EXTRA[mode]])
                answered[case.operation.label, response.status_code] += 1

            try:
                exercise()
            except Unsatisfiable:  # nothing in the operation can be made invalid (no parameters)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup is a BaseExceptionGroup
                failures.append(f"{operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)
    if mode is GenerationMode.POSITIVE:  # the pinned runs reached the records
        assert answered["POST /v1/responses", 202] and answered["GET /v1/customers/{email}", 200]
        assert answered["DELETE /v1/customers/{email}", 200] and answered["POST /v1/events", 202]
    else:
        assert answered["POST /v1/events", 422] and answered["GET /v1/reports/nps", 422]
