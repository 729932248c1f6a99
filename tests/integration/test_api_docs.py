"""`/docs` and `/redoc` work offline, and the OpenAPI document lists every route served."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from conftest import RunningGateway, start_gateway
from vidgate.engine.callbacks import CALLBACK_PATH
from vidgate.server.apidocs import ASSETS, DOCS_PATHS
from vidgate.server.metrics_http import route_contexts

NOT_DOCUMENTED = {*DOCS_PATHS, "/openapi.json", "/metrics", "/"}
"""Served but left out of the document, as docs/api.md says: the document itself, the pages
that show it and their assets, the Prometheus metrics, the web console's pages (`/` and, under
`NOT_DOCUMENTED_UNDER`, `/console/`), and the URLs upstream providers call back on, which no
API client calls."""
NOT_DOCUMENTED_UNDER = (f"{ASSETS}/", f"{CALLBACK_PATH}/", "/console/", "/console")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path_factory.mktemp("docs"), run_engine=False)
    yield running
    running.stop()


def test_every_served_route_is_in_the_openapi_document(served: RunningGateway) -> None:
    with served.client() as client:
        document = client.get("/openapi.json").json()
    paths = document["paths"]
    missing = []
    for context in route_contexts(served.app.routes):
        if getattr(context, "include_in_schema", True) is False and _catch_all(context):
            continue  # a dialect's answer to unknown paths and methods under its prefix
        path = context.path_format or context.path
        if path in NOT_DOCUMENTED or path.startswith(NOT_DOCUMENTED_UNDER):
            continue
        for method in sorted((context.methods or {"GET"}) - IGNORED_METHODS):
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    assert "get" in paths["/v1/tasks/{task_id}"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert paths["/v1/tasks/{task_id}"]["get"]["security"] == [{"bearer": []}]


def _catch_all(context: object) -> bool:
    endpoint = getattr(context, "endpoint", None)
    return getattr(endpoint, "__name__", "") == "unknown"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_every_asset_from_the_gateway(served: RunningGateway, page: str) -> None:
    with served.client() as client:
        html = client.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        referenced = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert referenced, html.text
        assert not re.search(r"https?://", html.text), "the page names an outside URL"
        for url in referenced:
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        spec_url = re.search(r"""(?:url: ?'|spec-url=")([^'"]+)""", html.text)
        assert spec_url is not None
        assert client.get(spec_url.group(1)).json()["openapi"].startswith("3.")
