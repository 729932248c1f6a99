"""`GET /metrics` and who may read it, and the count of every HTTP response by its route.

The route label is the route's template, prefixes of included routers and all, also for
requests answered before FastAPI's routing (`server/fastread.py`), so that no id becomes a label.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import fastapi.routing
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.errors import VidgateError
from vidgate.metrics import count_http
from vidgate.server.layers import wrap_outside

if TYPE_CHECKING:
    from vidgate.records import KeyRecord
    from vidgate.settings import Settings

__all__ = [
    "HttpMetrics",
    "MetricsAccess",
    "MetricsServer",
    "install_metrics",
    "metrics_app",
    "metrics_route",
    "route_contexts",
]

UNMATCHED = "unmatched"
"""The route label of a request no route serves."""
MAX_PARENTS = 1024
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled as themselves; any other is `other`, so a client cannot mint labels."""
route_contexts: Callable[[Sequence[BaseRoute]], Iterable[Any]] = getattr(
    fastapi.routing, "iter_route_contexts", iter
)
"""The routes as served, routers included with their prefixes (a FastAPI that copies included
routes into the app's own list has no such function: there, the routes themselves)."""


class _RouteTemplates:
    """The route template of a request: that of the route FastAPI matched, or of the plain
    Starlette route's endpoint; else (requests answered before routing, and 404s) a match
    against the routes, remembered by the path's parent where the template ends in its one
    parameter. Templates are the served paths, prefixes of included routers and all."""

    def __init__(self, routes: Callable[[], list[BaseRoute]]) -> None:
        self.routes = routes
        self.contexts: list[tuple[Any, str]] = []
        self.by_route: dict[int, str] = {}
        self.by_endpoint: dict[object, str] = {}
        self.literal: set[str] = set()
        """Paths without parameters, which a remembered parent never answers for."""
        self.by_parent: dict[tuple[str, str], str] = {}
        self.ready = False

    def _learn(self) -> None:
        for context in route_contexts(self.routes()):
            path = context.path_format or context.path or UNMATCHED
            self.contexts.append((context, path))
            self.by_route.setdefault(id(context.original_route), path)
            if type(context.original_route) is Route:
                self.by_endpoint.setdefault(context.endpoint, path)
            if "{" not in path:
                self.literal.add(path)
        self.ready = True

    def __call__(self, scope: Scope) -> str:
        if not self.ready:
            self._learn()
        route = scope.get("route")
        if route is not None and id(route) in self.by_route:
            return self.by_route[id(route)]
        endpoint = scope.get("endpoint")
        if endpoint is not None and endpoint in self.by_endpoint:
            return self.by_endpoint[endpoint]
        method, path = scope["method"], scope["path"]
        parent = (method, path.rpartition("/")[0])
        if path not in self.literal and parent in self.by_parent:
            return self.by_parent[parent]
        template = self._match(method, path)
        head, _, last = template.rpartition("/")
        by_parameter = head == parent[1] and last.startswith("{")
        if (by_parameter or template == UNMATCHED) and len(self.by_parent) < MAX_PARENTS:
            self.by_parent[parent] = template
        return template

    def _match(self, method: str, path: str) -> str:
        probe = {"type": "http", "path": path, "root_path": "", "method": method}
        partial = None
        for context, template in self.contexts:
            match, _ = context.matches(probe)
            if match is Match.FULL:
                return template
            if match is Match.PARTIAL and partial is None:
                partial = template
        return partial or UNMATCHED


class HttpMetrics:
    """Counts every HTTP response as `vidgate_http_requests_total{method,route,code}`.

    Add it outermost, so that responses served before routing are counted too."""

    def __init__(self, app: ASGIApp, routes: Callable[[], list[BaseRoute]]) -> None:
        self.app = app
        self.template = _RouteTemplates(routes)
        self.counts: dict[tuple[str, str, int], int] = {}
        count_http(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                method = scope["method"] if scope["method"] in METHODS else "other"
                key = (method, self.template(scope), message["status"])
                self.counts[key] = self.counts.get(key, 0) + 1
            await send(message)

        await self.app(scope, receive, counted)


class Authenticator(Protocol):
    async def authenticate(self, key: str | None) -> KeyRecord:
        """The key's record; raises for an unknown or revoked key."""
        ...


class MetricsAccess:
    """Who may read `/metrics`: loopback clients (unless turned off), the metrics token, and
    admin keys (where ``keys`` is given: the API keys of a gateway)."""

    def __init__(
        self,
        *,
        token: str | None,
        loopback: bool,
        keys: Callable[[], Authenticator] | None = None,
    ) -> None:
        self.token = token
        self.loopback = loopback
        self.keys = keys

    @classmethod
    def of(
        cls, settings: Settings, keys: Callable[[], Authenticator] | None = None
    ) -> MetricsAccess:
        return cls(token=settings.metrics_token, loopback=settings.metrics_loopback, keys=keys)

    async def _is_admin(self, bearer: str) -> bool:
        if self.keys is None:
            return False
        try:
            record = await self.keys().authenticate(bearer)
        except VidgateError:
            return False
        return record.admin

    async def allows(self, scope: Scope) -> bool:
        client = scope.get("client")
        if self.loopback and client and _is_loopback(client[0]):
            return True
        bearer = _bearer(scope)
        if bearer is None:
            return False
        if self.token and hmac.compare_digest(bearer.encode(), self.token.encode()):
            return True
        return await self._is_admin(bearer)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bearer(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def metrics_route(access: MetricsAccess, path: str = "/metrics") -> Route:
    """`GET /metrics`: this process's metrics in the Prometheus text format, for ``access``."""

    async def metrics(request: Request) -> Response:
        allowed = await access.allows(request.scope)
        if allowed:
            return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
        given = _bearer(request.scope) is not None
        message = (
            "The metrics are open to loopback clients, to the metrics token "
            "(Authorization: Bearer TOKEN) and to admin keys."
        )
        code, status = ("forbidden", 403) if given else ("unauthorized", 401)
        headers = {} if given else {"WWW-Authenticate": "Bearer"}
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status_code=status, headers=headers)

    return Route(path, metrics, methods=["GET"], name="metrics")


def metrics_app(access: MetricsAccess) -> Starlette:
    """A bare app serving only `GET /metrics`, for processes without the API (workers)."""
    return Starlette(routes=[metrics_route(access)])


def install_metrics(
    app: Starlette, settings: Settings, keys: Callable[[], Authenticator] | None = None
) -> None:
    """Serve `GET /metrics` from ``app``, and count every response it gives, outside all its
    middleware (500s and responses given before routing included)."""
    app.router.routes.append(metrics_route(MetricsAccess.of(settings, keys)))
    wrap_outside(app, lambda stack: HttpMetrics(stack, lambda: app.routes))


class MetricsServer:
    """`GET /metrics` on `host`:`metrics_port` for a process without the API (`vidgate
    worker`), served in its event loop; the process keeps its own signal handling."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.host = settings.host
        self.port = settings.metrics_port or 0
        config = uvicorn.Config(
            metrics_app(MetricsAccess.of(settings)),
            lifespan="off",
            access_log=False,
            log_config=None,
        )
        self.server = Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve; OSError (saying which address) where it cannot be bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise OSError(f"the metrics port {self.port} on {self.host}: {exc.strerror}") from exc
        self.port = listener.getsockname()[1]
        self.task = asyncio.create_task(self.server.serve([listener]), name="metrics-server")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
