"""The libraries' floor for `idle_rss.py`: what the gateway's own libraries cost, alone.

One FastAPI route on uvicorn, configured as `vidgate serve` configures it, in a process that
also imports SQLAlchemy with its SQLite dialect, pydantic-settings and prometheus-client, and
opens one SQLite connection. It imports nothing else (not even the bench harness), so that its
resident size is the floor under any gateway built on these libraries. Usage:

    .venv/bin/python bench/library_floor.py --port PORT
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

BODY = b'{"ok": true}'


def serve(port: int) -> None:
    """Serve BODY on every path of 127.0.0.1:`port` until stopped."""
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]  # as `vidgate serve`
    import prometheus_client  # noqa: F401
    import pydantic_settings  # noqa: F401
    import sqlalchemy
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/{path:path}")
    async def constant(path: str) -> Response:
        return Response(BODY, media_type="application/json")

    with tempfile.TemporaryDirectory() as scratch:
        engine = sqlalchemy.create_engine(f"sqlite:///{Path(scratch) / 'floor.db'}")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        uvicorn.run(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="none"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the libraries' floor for idle_rss.py")
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
