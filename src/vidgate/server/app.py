"""The ASGI application: routes, error handling and the in-process engine."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate import __version__, logs
from vidgate.console import routes as console
from vidgate.runtime import Runtime
from vidgate.server.errors import install_error_handlers
from vidgate.server.fastread import FastReads, TaskReads
from vidgate.server.layers import wrap_outside
from vidgate.server.metrics_http import install_metrics
from vidgate.server.openapi import install_openapi
from vidgate.server.routes import (
    admin,
    dashscope,
    events,
    files,
    kik,
    media,
    meta,
    native,
    nebula,
    openai,
    upstream_callbacks,
    webhooks,
)
from vidgate.settings import Settings

__all__ = ["create_app"]


class RequestId:
    """Tags every response with `x-request-id` (the client's, or a new one).

    Routes read the same id as `request.state.request_id`, for bodies that carry it. New ids
    are 32 hex digits: a random prefix drawn once per process, then a counter, so making one
    costs no system call.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._prefix = secrets.token_hex(8)
        self._count = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
                break
        else:
            request_id = f"{self._prefix}{next(self._count):016x}".encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode("latin-1")
        logs.bind(request_id=scope["state"]["request_id"])

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id))
            await send(message)

        await self.app(scope, receive, tagged)


def create_app(settings: Settings | None = None, *, drain: float = 0.0) -> FastAPI:
    """The gateway app; it opens the store and starts the engine when it starts.

    When it stops, its engine gets ``drain`` seconds to finish renders in hand before it
    hands them back to the queue (`vidgate serve` passes ``VIDGATE_DRAIN_TIMEOUT``)."""
    config = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(config)
        app.state.runtime = runtime
        app.state.services = runtime.services
        runtime.follow_events()
        if config.run_engine:
            await runtime.engine.start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await runtime.close(drain)

    app = FastAPI(
        title="vidgate",
        version=__version__,
        summary="Asynchronous video-generation tasks behind one gateway.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # The gateway's metrics are its own (Prometheus, /metrics); FastAPI's OpenTelemetry
        # hooks would look for configured providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_openapi(app)
    app.router.routes.append(native.task_route)
    app.router.routes.append(native.create_route)
    for module in (meta, native, events, webhooks, files, media, dashscope, kik, nebula, openai):
        app.include_router(module.router)
    app.include_router(upstream_callbacks.router)
    app.include_router(admin.router)
    if config.console:
        app.include_router(console.router)
        app.mount(f"{console.PREFIX}/static", console.static_files(), name="console-static")
    app.state.task_reads = TaskReads()
    task_reads: TaskReads = app.state.task_reads
    wrap_outside(app, lambda stack: FastReads(stack, task_reads))
    wrap_outside(app, RequestId)
    install_metrics(app, config, lambda: app.state.services.keys)
    return app
