"""`vidgate`: serve the gateway, run workers, manage keys, and generate videos."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import importlib.util
import os
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from vidgate import __version__, logs

if TYPE_CHECKING:
    from vidgate.settings import Settings

__all__ = ["main"]

YOUNG_COLLECTION_OBJECTS = 50_000
"""Allocations between collections of the youngest generation (Python's default is 700).

A gateway holds thousands of long-lived objects per open stream or long-poll; at the default,
the objects of requests in flight are caught by young collections and promoted, so full
collections over every open connection's objects (above 1 s with 10,000 waiters open) come
every few seconds of load. With this threshold a request's objects die before a collection
sees them, and full collections become rare."""


def _tune_collector() -> None:
    """Set the garbage collector for a long-running server process."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_OBJECTS, middle, oldest)


def _skip_pydantic_v1() -> None:
    """Keep `pydantic.v1` out of a serving process.

    FastAPI imports the whole of `pydantic.v1` (1.6 MB resident) only to ask, for each route
    parameter, whether its type is a v1 model; no model in vidgate is, and FastAPI reads an
    `ImportError` there as "no v1 models". Marking the module absent answers it without the
    import. Processes that do import `pydantic.v1` have done so before this runs and keep it."""
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]


def _run_optimized() -> None:
    """Restart this process as `python -OO`, where that pays and the operator has not chosen.

    A serving process keeps every module it imports for its lifetime, and the docstrings of
    its libraries are about 4 MB of that: `-OO` leaves them (and `assert` statements) out. It
    pays only where the optimized bytecode of the standard library and of the installed
    packages is there to load (`make` compiles it) or can be written; otherwise every start
    would compile them anew. The operator's choice stands: an interpreter started with `-O`
    or `-OO`, or `PYTHONOPTIMIZE` set (`PYTHONOPTIMIZE=0` keeps docstrings and asserts), is not
    restarted. The process keeps its id, arguments, environment and open files."""
    if sys.flags.optimize or os.environ.get("PYTHONOPTIMIZE") or sys.platform == "win32":
        return
    if not sys.executable or not all(map(_has_optimized_bytecode, ("typing", "fastapi"))):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-OO", *sys.orig_argv[1:]])
    except OSError:
        return


def _has_optimized_bytecode(module: str) -> bool:
    """Whether `module`'s `-OO` bytecode is compiled, or can be written on first use."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return False
    cached = importlib.util.cache_from_source(spec.origin, optimization=2)
    if os.path.exists(cached):
        return True
    folder = os.path.dirname(cached)
    writable = os.access(folder if os.path.isdir(folder) else os.path.dirname(folder), os.W_OK)
    return writable and not sys.dont_write_bytecode


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vidgate.settings import Settings

    _tune_collector()
    _skip_pydantic_v1()

    from vidgate.server.app import create_app

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    logs.configure(settings.log_format, args.log_level)
    if not _providers_file_is_usable(settings):
        return 2
    listener = _bind(settings)
    if listener is None:
        return 2
    refusal = _refusal(settings, serving=True)
    if refusal is not None:
        listener.close()
        logs.announce(f"vidgate: {refusal}", error=True)
        return 2
    logs.announce(
        f"vidgate {__version__}: data dir {settings.data_dir}, store "
        f"{'sqlite' if settings.database_url is None else settings.database.split(':')[0]}, "
        f"listening on http://{settings.host}:{settings.port}"
    )
    app = create_app(settings, drain=settings.drain_timeout)
    if args.access_log:
        from vidgate.server.accesslog import AccessLog, LineWriter
        from vidgate.server.layers import wrap_outside

        writer = LineWriter() if settings.log_format == "text" else None
        wrap_outside(app, lambda stack: AccessLog(stack, writer))

    class Server(uvicorn.Server):
        """Tells open event streams of a shutdown at the signal, not once they have closed:
        uvicorn waits for connections to end before the app hears that it is stopping."""

        loop: asyncio.AbstractEventLoop | None = None

        async def serve(self, sockets: list[socket.socket] | None = None) -> None:
            self.loop = asyncio.get_running_loop()
            await super().serve(sockets)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None and self.loop is not None:
                self.loop.call_soon_threadsafe(runtime.stop_streams)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        log_config=logs.uvicorn_log_config(settings.log_format),
        access_log=False,  # vidgate's own AccessLog writes the lines
        ws="none",  # no route speaks WebSocket; loading a protocol for it costs 5 MB
        timeout_graceful_shutdown=max(1, round(settings.drain_timeout)),
    )
    Server(config).run(sockets=[listener])
    return 0


def _providers_file_is_usable(settings: Settings) -> bool:
    """Check the providers file before anything starts; say what is wrong in one line."""
    from vidgate.settings import ConfigError, load_providers

    try:
        load_providers(settings.config)
    except ConfigError as exc:
        logs.announce(f"vidgate: {exc}", error=True)
        return False
    return True


def _refusal(settings: Settings, *, serving: bool) -> str | None:
    """Why this node disagrees with the others sharing its database, in one line; None when
    it may start. A gateway opens its runtime once here, so uvicorn never starts in vain."""
    from vidgate.cluster import NodeRefused, public_url_refusal, shared_database
    from vidgate.runtime import Runtime

    problem = public_url_refusal(settings, serving=serving)
    if problem is not None or not serving or not shared_database(settings):
        return problem

    async def open_and_close() -> None:
        await (await Runtime.open(settings)).close()

    try:
        asyncio.run(open_and_close())
    except NodeRefused as exc:
        return str(exc)
    return None


def _bind(settings: Settings) -> socket.socket | None:
    """The listening socket, bound before the engine starts; None (with one line said) when the
    address cannot be had."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as exc:
        listener.close()
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc}"
        logs.announce(
            f"vidgate: port {settings.port} on {settings.host} {reason}; pick another with "
            "--port (or VIDGATE_PORT, or `make serve PORT=…`).",
            error=True,
        )
        return None
    listener.set_inheritable(True)
    return listener


async def _worker(settings: Settings) -> None:
    from vidgate.runtime import Runtime
    from vidgate.server.metrics_http import MetricsServer

    runtime = await Runtime.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runtime.follow_events()
    await runtime.engine.start()
    scrape = MetricsServer(settings) if settings.metrics_port is not None else None
    try:
        if scrape is not None:
            await scrape.start()
            logs.announce(f"vidgate worker metrics on http://{settings.host}:{scrape.port}/metrics")
        logs.announce(f"vidgate worker {runtime.engine.worker} running")
        await stop.wait()
        logs.announce(
            f"vidgate worker {runtime.engine.worker} stopping: draining for up to "
            f"{settings.drain_timeout:g}s"
        )
    finally:
        # Stop claiming, let what can finish finish, hand the rest back uncounted.
        await runtime.close(settings.drain_timeout if stop.is_set() else 0.0)
        if scrape is not None:
            await scrape.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidgate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vidgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the HTTP API (and run the engine in-process)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or VIDGATE_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000, or VIDGATE_PORT)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")

    commands.add_parser("worker", help="run the engine without the API, for separate processes")

    from vidgate.cli import keys

    keys.add_parser(commands)

    commands.add_parser(
        "fake-upstream",
        add_help=False,
        help="serve a fake upstream API for offline tests (`vidgate fake-upstream --help`)",
    )
    commands.add_parser(
        "video",
        add_help=False,
        help="generate a video: submit, poll, resume, download (`vidgate video --help`)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if argv is None and arguments[:1] == ["serve"]:
        _run_optimized()
    if arguments[:1] == ["video"]:
        from vidgate.cli import video

        return video.main(arguments[1:])
    if arguments[:1] == ["fake-upstream"]:
        from vidgate.cli import fake_upstream

        return fake_upstream.main(arguments[1:])
    args = build_parser().parse_args(arguments)
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        from vidgate.settings import Settings

        settings = Settings()
        logs.configure(settings.log_format)
        if not _providers_file_is_usable(settings):
            return 2
        from vidgate.cluster import NodeRefused

        refusal = _refusal(settings, serving=False)
        if refusal is None:
            _tune_collector()
            try:
                asyncio.run(_worker(settings))
                return 0
            except (NodeRefused, OSError) as exc:
                refusal = str(exc)
        logs.announce(f"vidgate: {refusal}", error=True)
        return 2
    from vidgate.cli import keys

    return keys.run(args)


if __name__ == "__main__":
    sys.exit(main())
