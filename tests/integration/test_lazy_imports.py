"""A gateway that does not render keeps the rendering stack, Alembic, the PostgreSQL driver (on
SQLite), the console's templates (until a page is served) and the SDK out of its memory, and
builds the models that only its OpenAPI document shows when the document is asked for."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from vidgate.service.keys import create_key
from vidgate.settings import Settings
from vidgate.store import open_store

HEAVY = ("av", "numpy", "PIL", "alembic", "asyncpg", "jinja2", "httpx", "aiohttp")
PARTS = (
    "vidgate.client",
    "vidgate.store.memory",
    *(
        f"vidgate.dialects.{name}_outbound"
        for name in ("dashscope", "runway", "luma", "fal", "replicate", "kling", "minimax", "veo")
    ),
)
"""Parts of vidgate itself that a gateway does not load: the SDK, the in-memory store (on
SQLite), and the wire formats of upstream providers it has none of."""

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys

    from vidgate.server import openapi
    from vidgate.server.app import create_app
    from vidgate.server.metrics_http import route_contexts
    from vidgate.settings import Settings

    HEAVY = {heavy!r}
    PARTS = {parts!r}


    def loaded():
        return sorted(
            name
            for name in sys.modules
            if name.split(".")[0] in HEAVY
            or any(name == part or name.startswith(part + ".") for part in PARTS)
        )


    def documented():
        models = {{**openapi.WIRE_MODELS, **openapi.ERROR_MODELS}}
        return {{
            name: model for name, model in models.items() if model.__module__ == openapi.__name__
        }}


    def built():
        return sorted(name for name, model in documented().items() if model.__pydantic_complete__)


    def response_serializers(app):
        contexts = route_contexts(app.routes)
        routes = (getattr(context, "original_route", context) for context in contexts)
        return sum(len(getattr(route, "response_fields", {{}})) for route in routes)


    async def main():
        settings = Settings(data_dir={data_dir!r}, run_engine=False)
        app = create_app(settings)
        opened = loaded()
        async with app.router.lifespan_context(app):
            started = loaded()
            import httpx  # this script's client, which the gateway itself does not load

            transport = httpx.ASGITransport(app=app)
            headers = {{"Authorization": "Bearer {key}"}}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway", headers=headers
            ) as client:
                body = {{"prompt": "a cat", "duration": 2, "resolution": "480P"}}
                made = await client.post("/v1/tasks", json=body)
                read = await client.get(f"/v1/tasks/{{made.json()['task_id']}}")
                after_request = [name for name in loaded() if name.split(".")[0] != "httpx"]
                built_after_request = built()
                document = await client.get("/openapi.json")
        print(json.dumps({{
            "submit": made.status_code,
            "read": read.status_code,
            "after_open": opened,
            "after_start": started,
            "after_request": after_request,
            "documented": sorted(documented()),
            "built_after_request": built_after_request,
            "response_serializers": response_serializers(app),
            "document": document.status_code,
            "built_after_document": built(),
            "schemas": sorted(document.json()["components"]["schemas"]),
        }}))


    asyncio.run(main())
    """
)


async def migrated_key(data_dir: Path) -> str:
    """Open a new database (which migrates it, with Alembic) and make a key in it."""
    store = open_store(Settings(data_dir=data_dir).database)
    await store.open()
    try:
        return (await create_key(store, "lazy")).key
    finally:
        await store.close()


def run_api_only(data_dir: Path, key: str) -> dict[str, object]:
    script = SCRIPT.format(heavy=HEAVY, parts=PARTS, data_dir=str(data_dir), key=key)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_api_only_gateway_does_not_import_the_rendering_stack(tmp_path: Path) -> None:
    # The first open of a new database migrates it, which needs Alembic; the gateway's open
    # then finds the schema current with a plain query.
    key = asyncio.run(migrated_key(tmp_path))
    result = run_api_only(tmp_path, key)
    assert result["submit"] == 202
    assert result["read"] == 200
    assert result["after_open"] == []
    assert result["after_start"] == []
    assert result["after_request"] == []


def test_api_only_gateway_builds_the_document_models_for_the_document(tmp_path: Path) -> None:
    key = asyncio.run(migrated_key(tmp_path))
    result = run_api_only(tmp_path, key)
    documented = result["documented"]
    schemas = result["schemas"]
    assert isinstance(documented, list)
    assert isinstance(schemas, list)
    # The error bodies and the request bodies the routes parse by hand, each dialect's.
    assert {"NativeError", "DashScopeError", "OpenAIError", "RelayError"} <= set(documented)
    assert {"NativeCreate", "DashScopeCreate", "OpenAICreate", "FileUpload"} <= set(documented)
    assert result["built_after_request"] == []
    assert result["response_serializers"] == 0
    assert result["document"] == 200
    assert result["built_after_document"] == documented
    assert set(documented) <= set(schemas)
