"""Fuzz every operation of the served OpenAPI document with schemathesis.

A real gateway on loopback (engine off, so created tasks stay queued and nothing renders)
serves `/openapi.json`; each operation gets `EXAMPLES` positive and `EXAMPLES` negative
examples (derandomized, so every run sends the same ones), sent with a valid bearer key, and
every response must pass `not_a_server_error`, `status_code_conformance`,
`content_type_conformance` and `response_schema_conformance`.

Exclusions and constraints, each for the time an example would take, not for its answer:

- `GET /v1/events` is left out: it streams the key's events until the client goes away.
- `POST /v1/tasks/sync` gets positive examples only, with `timeout` required and capped at
  0.2 s here (the served document allows 300 s, and 60 s when it is absent): a negative
  example may drop `timeout` or set it anywhere up to 300 s, and wait that long. Its body is
  parsed by the same code as `POST /v1/tasks`, which gets negative examples.
- `GET /v1/tasks/{task_id}` has its `wait` capped at 0.2 s here (120 s served).
- The admin routes (`/admin/v1/…`) get positive examples only: the fuzz key is no admin key,
  so each answers 403 before it reads its input, whatever the example.
- Negative examples are skipped where none can exist (`/healthz`, `/readyz`, and
  `/v1/media/{name}`, whose only parameters are strings).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import RunningGateway
from vidgate.server.routes.native import MAX_LONG_POLL, MAX_SYNC_WAIT

EXCLUDED = {("GET", "/v1/events")}
BOTH = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
MODES = {"/v1/tasks/sync": (GenerationMode.POSITIVE,)}
SHORT_WAIT = 0.2
EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CREATE_PATHS = (
    "/v1/tasks",
    "/v1/tasks/sync",
    "/api/v1/services/aigc/video-generation/video-synthesis",
    "/api/v1/services/aigc/image2video/video-synthesis",
    "/video/v1/tasks",
    "/v1/video/generations",
    "/v1/videos",
)


def _document(gateway: RunningGateway) -> dict[str, Any]:
    response = httpx.get(f"{gateway.url}/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _short_waits(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the sync `timeout` and the long-poll `wait` capped at `SHORT_WAIT`."""
    doc = copy.deepcopy(document)
    sync = doc["components"]["schemas"]["NativeSyncCreate"]
    sync["properties"]["timeout"]["maximum"] = SHORT_WAIT
    sync["required"] = [*sync.get("required", []), "timeout"]
    for parameter in doc["paths"]["/v1/tasks/{task_id}"]["get"]["parameters"]:
        if parameter["name"] == "wait":
            parameter["schema"]["maximum"] = SHORT_WAIT
    return doc


def _fuzz(cases: st.SearchStrategy[Any], send: Callable[[Any], None]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def run(case: Any) -> None:
        send(case)

    run()


def test_document_covers_every_dialect(gateway: RunningGateway) -> None:
    document = _document(gateway)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    public = {"/healthz", "/readyz", "/v1/media/{name}", "/api/v1/uploads/form"}
    for method, path, operation in _operations(document):
        assert "422" not in operation["responses"], (method, path)
        assert ("security" in operation) is (path not in public), (method, path)
    for path in CREATE_PATHS:
        assert "application/json" in document["paths"][path]["post"]["requestBody"]["content"]
    for path in ("/v1/files", "/v1/videos", "/api/v1/uploads/form"):
        body = document["paths"][path]["post"]["requestBody"]
        assert "multipart/form-data" in body["content"], path
    timeout = document["components"]["schemas"]["NativeSyncCreate"]["properties"]["timeout"]
    assert timeout["maximum"] == MAX_SYNC_WAIT
    wait = document["paths"]["/v1/tasks/{task_id}"]["get"]["parameters"][1]
    assert (wait["name"], wait["schema"]["maximum"]) == ("wait", MAX_LONG_POLL)
    dashscope = document["paths"]["/api/v1/tasks"]["get"]["responses"]["400"]
    assert dashscope["content"]["application/json"]["schema"]["$ref"].endswith("DashScopeError")


def test_query_validation_answers_400_in_each_dialect(gateway: RunningGateway) -> None:
    with gateway.client(gateway.make_key()) as client:
        native = client.get("/v1/tasks", params={"limit": "x"})
        dashscope = client.get("/api/v1/tasks", params={"page_size": "0"})
        openai = client.get("/v1/videos", params={"order": "sideways"})
    assert native.status_code == dashscope.status_code == openai.status_code == 400
    assert native.json()["error"]["param"] == "limit"
    assert dashscope.json()["code"] == "InvalidParameter"
    assert openai.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.timeout(300)
def test_openapi_fuzz(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(run_engine=False)
    auth = {"Authorization": f"Bearer {gateway.make_key('fuzz')}"}
    document = _short_waits(_document(gateway))
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    fuzzed: list[str] = []
    sent = 0
    with requests.Session() as session:

        def send(case: Any) -> None:
            nonlocal sent
            response = case.call(base_url=gateway.url, session=session, headers=auth, timeout=30)
            sent += 1
            case.validate_response(response, checks=CHECKS, headers=auth)

        for result in schema.get_all_operations():
            operation = result.ok()
            name = f"{operation.method.upper()} {operation.path}"
            if (operation.method.upper(), operation.path) in EXCLUDED:
                continue
            fuzzed.append(name)
            admin = operation.path.startswith("/admin/")
            for mode in MODES.get(operation.path, (GenerationMode.POSITIVE,) if admin else BOTH):
                try:
                    _fuzz(operation.as_strategy(generation_mode=mode), send)
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE, name
                except Exception as exc:
                    failures.append(f"{name} ({mode.value}): {exc}")
    assert len(fuzzed) == len(_operations(document)) - len(EXCLUDED)
    assert sent > len(fuzzed) * EXAMPLES
    assert not failures, "\n\n".join(failures)
