"""A gateway that does not render keeps the rendering stack, Alembic, the PostgreSQL driver (on
SQLite) and the console's templates (until a page is served) out of its memory."""

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

HEAVY = ("av", "numpy", "PIL", "alembic", "asyncpg", "jinja2")

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys

    import httpx

    from vidgate.server.app import create_app
    from vidgate.settings import Settings

    HEAVY = {heavy!r}


    def loaded():
        return sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)


    async def main():
        settings = Settings(data_dir={data_dir!r}, run_engine=False)
        app = create_app(settings)
        opened = loaded()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {{"Authorization": "Bearer {key}"}}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway", headers=headers
            ) as client:
                body = {{"prompt": "a cat", "duration": 2, "resolution": "480P"}}
                made = await client.post("/v1/tasks", json=body)
                read = await client.get(f"/v1/tasks/{{made.json()['task_id']}}")
        print(json.dumps({{
            "submit": made.status_code,
            "read": read.status_code,
            "after_open": opened,
            "after_request": loaded(),
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
    script = SCRIPT.format(heavy=HEAVY, data_dir=str(data_dir), key=key)
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
    assert result["after_request"] == []
