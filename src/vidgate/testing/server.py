"""`FakeUpstream`: a fake API served by uvicorn on loopback, in a thread or in the foreground."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Self

import uvicorn

from vidgate.models import TaskError
from vidgate.testing.app import API_BASES, create_app
from vidgate.testing.counters import Counters
from vidgate.testing.faults import Faults, TaskFailure
from vidgate.testing.state import DAY, Dialect, FakeState
from vidgate.testing.tasks import FakeTask, Timing

__all__ = ["FakeUpstream"]

START_TIMEOUT = 30.0
EXIT_CHECK = 0.01


class _Server(uvicorn.Server):
    """uvicorn, ticking as usual but noticing `should_exit` within 10 ms, so fakes stop fast."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            for _ in range(10):
                if self.should_exit:
                    return
                await asyncio.sleep(EXIT_CHECK)
            counter = (counter + 1) % 864000


class FakeUpstream:
    """A real HTTP server speaking one upstream dialect, with faults and counters.

    Use it as a context manager (sync or async); it listens on `host` at `port` (0 picks a
    free port) until the block ends::

        with FakeUpstream("dashscope", timing=Timing(time_scale=600)) as fake:
            client = httpx.Client(base_url=fake.base_url)
            ...
            assert fake.counters.calls("submit") == 1
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timing: Timing | None = None,
        faults: Faults | None = None,
        keys: Iterable[str] | None = None,
        models: Iterable[str] | None = None,
        result_ttl: float = DAY,
        video: bytes | None = None,
        match_request: bool = False,
        clock: Callable[[], float] = time.time,
        log_level: str = "warning",
    ) -> None:
        if dialect not in API_BASES:
            raise ValueError(f"unknown dialect {dialect!r}; pick one of {', '.join(API_BASES)}")
        self.state = FakeState(
            dialect=dialect,
            timing=timing or Timing(),
            faults=faults or Faults(),
            keys=frozenset(keys) if keys is not None else None,
            models=frozenset(models) if models is not None else None,
            result_ttl=result_ttl,
            video=video,
            match_request=match_request,
            clock=clock,
        )
        self.app = create_app(self.state)
        self._host = host
        self._port = port
        self._log_level = log_level
        self._socket: socket.socket | None = None
        self._url: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def dialect(self) -> Dialect:
        return self.state.dialect

    @property
    def url(self) -> str:
        """The server's root URL, e.g. `http://127.0.0.1:54321`."""
        if self._url is None:
            raise RuntimeError("the fake upstream has not been started")
        return self._url

    @property
    def base_url(self) -> str:
        """The URL a client of this dialect takes as its base (`…/api/v1` for DashScope)."""
        return self.url + API_BASES[self.dialect]

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def counters(self) -> Counters:
        return self.state.counters

    @property
    def timing(self) -> Timing:
        return self.state.timing

    @property
    def tasks(self) -> dict[str, FakeTask]:
        """Every task received, by id, oldest first."""
        return {task.task_id: task for task in reversed(self.state.tasks())}

    def complete_now(self, task_id: str) -> None:
        """Finish the task successfully at once. Raises KeyError for an unknown id."""
        self.state.finish(task_id)

    def fail_now(self, task_id: str, code: str | None = None, message: str | None = None) -> None:
        """Fail the task at once, with this code or the dialect's default failure."""
        error: TaskError = self.state.style.task_error(TaskFailure(code, message))
        self.state.finish(task_id, error)

    def reset(self) -> None:
        """Forget every task, count and fault; timing and keys stay."""
        self.state.reset()

    def bind(self) -> Self:
        """Take the port now, so `url` is known before serving starts; done once."""
        if self._server is None:
            self._bind()
        return self

    def _bind(self) -> _Server:
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self._url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            lifespan="off",
            timeout_graceful_shutdown=2,
            access_log=self._log_level == "debug",
        )
        self._server = _Server(config)
        self.state.closing.clear()
        return self._server

    def start(self) -> Self:
        """Start serving in a background thread; returns once the server accepts calls."""
        if self._thread is not None:
            raise RuntimeError("the fake upstream is already started")
        server = self._server or self._bind()
        sockets = [self._socket] if self._socket is not None else []
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="vidgate-fake", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake upstream did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT or SIGTERM."""
        server = self._server or self._bind()
        try:
            server.run(sockets=[self._socket] if self._socket is not None else None)
        finally:
            self.state.closing.set()
            self._server = None
            self._close_socket()

    def stop(self) -> None:
        """Stop serving: hung calls are released and the port is freed."""
        self.state.closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT)
            self._thread = None
        self._server = None
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
