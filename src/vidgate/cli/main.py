"""`vidgate`: serve the gateway, run workers, manage keys, and generate videos."""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

from vidgate import __version__
from vidgate.settings import Settings

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vidgate.server.app import create_app

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    if not _providers_file_is_usable(settings):
        return 2
    listener = _bind(settings)
    if listener is None:
        return 2
    refusal = _refusal(settings, serving=True)
    if refusal is not None:
        listener.close()
        print(f"vidgate: {refusal}", file=sys.stderr)
        return 2
    print(
        f"vidgate {__version__}: data dir {settings.data_dir}, store "
        f"{'sqlite' if settings.database_url is None else settings.database.split(':')[0]}, "
        f"listening on http://{settings.host}:{settings.port}",
        file=sys.stderr,
    )
    app = create_app(settings, drain=settings.drain_timeout)

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
                self.loop.call_soon_threadsafe(runtime.stopping.set)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        access_log=args.access_log,
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
        print(f"vidgate: {exc}", file=sys.stderr)
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
        print(
            f"vidgate: port {settings.port} on {settings.host} {reason}; pick another with "
            "--port (or VIDGATE_PORT, or `make serve PORT=…`).",
            file=sys.stderr,
        )
        return None
    listener.set_inheritable(True)
    return listener


async def _worker(settings: Settings) -> None:
    from vidgate.runtime import Runtime

    runtime = await Runtime.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runtime.follow_events()
    await runtime.engine.start()
    print(f"vidgate worker {runtime.engine.worker} running", file=sys.stderr)
    try:
        await stop.wait()
        print(
            f"vidgate worker {runtime.engine.worker} stopping: draining for up to "
            f"{settings.drain_timeout:g}s",
            file=sys.stderr,
        )
    finally:
        # Stop claiming, let what can finish finish, hand the rest back uncounted.
        await runtime.close(settings.drain_timeout if stop.is_set() else 0.0)


async def _keys_create(name: str, quota: float | None) -> str:
    from vidgate.service.keys import create_key
    from vidgate.store import open_store

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.database)
    try:
        await store.open()
        return (await create_key(store, name, quota)).key
    finally:
        await store.close()


async def _keys_list() -> list[str]:
    from vidgate.store import open_store

    settings = Settings()
    store = open_store(settings.database)
    try:
        await store.open()
        keys = await store.list_keys()
    finally:
        await store.close()
    lines = []
    for key in keys:
        quota = "unlimited" if key.quota_seconds is None else f"{key.quota_seconds:g}s"
        lines.append(
            f"{key.id}\t{key.name}\t{key.prefix}…\tquota={quota}\t"
            f"used={key.used_seconds:g}s\treserved={key.reserved_seconds:g}s\t"
            f"webhook_secret={key.webhook_secret or '-'}"
        )
    return lines


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

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key and print it alone on stdout")
    create.add_argument("--name", required=True, help="a label for the key")
    create.add_argument(
        "--quota", type=float, help="seconds of output video it may render (default unlimited)"
    )
    key_commands.add_parser("list", help="list keys (never their secrets)")

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
        settings = Settings()
        if not _providers_file_is_usable(settings):
            return 2
        from vidgate.cluster import NodeRefused

        refusal = _refusal(settings, serving=False)
        if refusal is None:
            try:
                asyncio.run(_worker(settings))
                return 0
            except NodeRefused as exc:
                refusal = str(exc)
        print(f"vidgate: {refusal}", file=sys.stderr)
        return 2
    if args.keys_command == "create":
        if args.quota is not None and args.quota < 0:
            print("Error: --quota must be zero or more seconds", file=sys.stderr)
            return 2
        print(asyncio.run(_keys_create(args.name, args.quota)))
        return 0
    for line in asyncio.run(_keys_list()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
