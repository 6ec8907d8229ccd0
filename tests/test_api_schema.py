"""The JSON API against its own OpenAPI description: generated requests, in process.

schemathesis reads ``/api/openapi.json`` from the app and, for every operation, sends
requests generated from the parameter schemas - valid ones and invalid ones - then checks
that no answer is a server error and that each answer's status, content type and body match
what the description promises. The number of examples is bounded so this runs in well under
a minute.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from trialscope.web.openapi import OPENAPI, endpoints

pytest_plugins = ["web_fixtures"]

EXAMPLES_PER_OPERATION = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The description is data in the package, so it is loaded without a server; each generated
# request then goes to the in-process app through the session's test client.
schema = schemathesis.openapi.from_dict(OPENAPI)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_every_generated_request_as_described(case: Any, client: TestClient) -> None:
    """No 500 for any generated input; statuses, content types and bodies as documented."""
    request = case.as_transport_kwargs(base_url="http://testserver")
    body = {key: request[key] for key in ("json", "content") if key in request}  # POST /api/v1/match
    response = client.request(
        request["method"],
        request["url"],
        params=request.get("params"),
        headers=request.get("headers"),
        **body,
    )
    case.validate_response(response, checks=CHECKS)


def test_the_docs_examples_are_answered(client: TestClient) -> None:
    """The examples the docs page gives are answered with 200 (a POST's with its example body)."""
    for endpoint in endpoints():
        if endpoint.method == "POST":
            response = client.post(endpoint.example, content=endpoint.body.encode())
        else:
            response = client.get(endpoint.example)
        assert response.status_code == 200, endpoint.example
