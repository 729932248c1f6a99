"""Every dialect's GET-by-id, answered before FastAPI's routing from bytes kept per version.

Pollers ask for one task over and over while it stays the same. For a plain
`GET <dialect's task path>/{id}` (no query string) this answers from the response rendered
last time, once the store's `task_version` (the task's row, read cheaply) shows that the task
has not changed since and, for a finished task, that its result URL would be signed for the
same window. Anything else, and every error (no key, a wrong key, someone else's task, an
unknown id, the store down), goes on to the dialect's own route, which answers as always. The
bytes are those that route renders: the same response builders make them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vidgate.dialects import dashscope, kik, nebula
from vidgate.models import Task
from vidgate.records import KeyRecord
from vidgate.server.routes.native import task_response
from vidgate.server.routes.openai import video_response
from vidgate.service import Services

__all__ = ["FastReads", "TaskReads"]

Builder = Callable[[Services, Task, str], Response]
MAX_ENTRIES = 4096
REQUEST_ID_HEAD = b'{"request_id":'
EMPTY_REQUEST_ID = REQUEST_ID_HEAD + b'""'


def _dashscope(_services: Services, task: Task, request_id: str) -> Response:
    return JSONResponse(dashscope.render_task(task, request_id))


def _kik(_services: Services, task: Task, _request_id: str) -> Response:
    return JSONResponse(kik.render_task(task))


def _nebula(_services: Services, task: Task, _request_id: str) -> Response:
    return JSONResponse(nebula.render_task(task))


def _native(services: Services, task: Task, _request_id: str) -> Response:
    return task_response(services, task)


def _openai(services: Services, task: Task, _request_id: str) -> Response:
    return video_response(services, task)


@dataclass(frozen=True)
class Dialect:
    """One dialect's read: the path before the id, its response builder, and whether its
    body starts with the request id (DashScope's does), which is then put in per request."""

    name: str
    prefix: str
    build: Builder
    carries_request_id: bool = False


DIALECTS = (
    Dialect("native", "/v1/tasks/", _native),
    Dialect("openai", "/v1/videos/", _openai),
    Dialect("dashscope", "/api/v1/tasks/", _dashscope, carries_request_id=True),
    Dialect("kik", "/video/v1/tasks/", _kik),
    Dialect("nebula", "/v1/video/generations/", _nebula),
)


@dataclass(frozen=True)
class Rendered:
    """A response as the route rendered it, for the task version and signing window it was
    rendered at. With a request id in the body, ``body`` is what follows it."""

    owner_id: str
    version: object
    window: int | None
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    request_id_spliced: bool
    stamp: int | None = None
    """The store's change stamp read before the rendering was last found current; None: it
    must be checked against the store at the next read."""
    audit_id: int | None = None
    """The last audit id when it was last found current: the key was current then."""


def _signed_for_now(services: Services, kept: Rendered) -> bool:
    """Whether a result URL in ``kept`` (if any) was signed for the current window."""
    return kept.window is None or kept.window == services.presenter.signing_window()


def _match(path: str) -> tuple[Dialect, str] | None:
    for dialect in DIALECTS:
        if path.startswith(dialect.prefix):
            task_id = path[len(dialect.prefix) :]
            if task_id and "/" not in task_id:
                return dialect, task_id
    return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def _request_id(scope: Scope) -> str | None:
    state = scope.get("state")
    if not isinstance(state, dict):
        return None
    found: object = state.get("request_id")
    return found if isinstance(found, str) else None


class TaskReads:
    """The rendered reads, by dialect and task id, and how often they were reused."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.entries: dict[tuple[str, str], Rendered] = {}
        self.reused = 0
        self.rendered = 0

    def keep(self, key: tuple[str, str], rendered: Rendered) -> None:
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = rendered


def _render(
    services: Services, dialect: Dialect, task: Task, owner_id: str, version: object, window: int
) -> Rendered:
    response = dialect.build(services, task, "")
    body = bytes(response.body)
    spliced = dialect.carries_request_id and body.startswith(EMPTY_REQUEST_ID)
    if spliced:
        body = body[len(EMPTY_REQUEST_ID) :]
    return Rendered(
        owner_id=owner_id,
        version=version,
        window=window if task.result is not None else None,
        status=response.status_code,
        headers=tuple(response.raw_headers),
        body=body,
        request_id_spliced=spliced,
    )


class TurnStamp:
    """The store's change stamp, read at most once per turn of the event loop.

    Every read answered in a turn arrived before the turn began (the loop takes in the bytes
    first, then runs the tasks they start), so a write whose result any of them could have
    seen committed before the turn as well, and a stamp read during the turn shows it. A
    write committed later in the same turn is concurrent with those reads, and the next turn
    reads the stamp afresh.
    """

    def __init__(self) -> None:
        self._stamp: int | None = None
        self._fresh = False

    def read(self, services: Services) -> int | None:
        if not self._fresh:
            self._stamp = services.tasks.store.change_stamp()
            self._fresh = True
            asyncio.get_running_loop().call_soon(self._forget)
        return self._stamp

    def _forget(self) -> None:
        self._fresh = False


class FastReads:
    """ASGI middleware answering GET-by-id from `TaskReads` while the task is unchanged."""

    def __init__(self, app: ASGIApp, reads: TaskReads) -> None:
        self.app = app
        self.reads = reads
        self.stamp = TurnStamp()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]
            or not await self._answer(scope, send)
        ):
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Answer the read and return True, or False to leave it to the routes."""
        matched = _match(scope["path"])
        if matched is None:
            return False
        dialect, task_id = matched
        services: Services | None = getattr(scope["app"].state, "services", None)
        key = _bearer(scope)
        request_id = _request_id(scope)
        if services is None or key is None or (dialect.carries_request_id and request_id is None):
            return False
        rendered = await self._rendered(services, dialect, task_id, key)
        if rendered is None:
            return False
        headers = list(rendered.headers)
        body = rendered.body
        if rendered.request_id_spliced:
            assert request_id is not None
            quoted = json.dumps(request_id, ensure_ascii=False).encode("utf-8")
            body = b"".join((REQUEST_ID_HEAD, quoted, body))
            length = str(len(body)).encode("latin-1")
            headers = [(n, length if n == b"content-length" else v) for n, v in headers]
        await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def _unchanged(self, services: Services, kept: Rendered, key: str) -> bool:
        """Whether ``kept`` answers this read with nothing read from a table: the key was
        read a moment ago under the audit id the rendering was checked under, nothing was
        written to the store since that check (the store's change stamp), and a result URL
        in it is signed for the current window."""
        if kept.stamp is None:
            return False
        recent = services.keys.recently_read(key)
        return (
            recent is not None
            and recent[0].id == kept.owner_id
            and recent[1] == kept.audit_id
            and _signed_for_now(services, kept)
            and self.stamp.read(services) == kept.stamp
        )

    @staticmethod
    async def _caller_and_version(
        services: Services, task_id: str, key: str
    ) -> tuple[KeyRecord, object, int | None] | None:
        """The caller, its task's version (None for no such task) and the audit id the key
        is known current under (None when it was authenticated afresh): one read for a key
        known a moment ago, the version with the last audit id, which says whether the key
        is still current."""
        keys, store = services.keys, services.tasks.store
        recent = keys.recently_read(key)
        if recent is not None:
            known, read_under = recent
            audited = await store.audited_task_version(task_id, known.id)
            if audited is None:
                return None
            audit_id, version = audited
            if audit_id == read_under:
                return known, version, audit_id
        caller = await keys.authenticate(key)
        version = await store.task_version(task_id, caller.id)
        return None if version is None else (caller, version, None)

    @staticmethod
    def _current(services: Services, kept: Rendered, owner_id: str, version: object) -> bool:
        """Whether ``kept`` renders this version of the owner's task, signed for now."""
        return (
            kept.owner_id == owner_id
            and kept.version == version
            and _signed_for_now(services, kept)
        )

    async def _rendered(
        self, services: Services, dialect: Dialect, task_id: str, key: str
    ) -> Rendered | None:
        store = services.tasks.store
        cache_key = (dialect.name, task_id)
        try:
            kept = self.reads.entries.get(cache_key)
            if kept is not None and self._unchanged(services, kept, key):
                self.reads.reused += 1
                return kept
            stamp = self.stamp.read(services)
            found = await self._caller_and_version(services, task_id, key)
            if found is None:
                return None
            caller, version, audit_id = found
            if audit_id is None:  # the key was authenticated afresh: check the store next time
                stamp = None
            if kept is not None and self._current(services, kept, caller.id, version):
                self.reads.reused += 1
                if (kept.stamp, kept.audit_id) != (stamp, audit_id):
                    self.reads.keep(cache_key, replace(kept, stamp=stamp, audit_id=audit_id))
                return kept
            record = await store.task(task_id, caller.id)
            if record is None:
                return None
            window = services.presenter.signing_window()
            task = services.presenter.task(record)
            rendered = _render(services, dialect, task, caller.id, version, window)
            self.reads.rendered += 1
            if (
                services.presenter.signing_window() == window
                and await store.task_version(task_id, caller.id) == version
            ):
                self.reads.keep(cache_key, replace(rendered, stamp=stamp, audit_id=audit_id))
        except Exception:
            # The dialect's route answers instead, in its own shape, as it answers errors.
            return None
        return rendered
