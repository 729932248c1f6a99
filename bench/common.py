"""Shared benchmark plumbing: server subprocesses, a raw HTTP/1.1 load generator, reporting.

Imported by `bench/task_reads.py` and `bench/submits.py`. Run as a script it is one of the
helper processes those benchmarks start, so that the server, the load generator and the
orchestrating script each have their own interpreter (and GIL):

    python bench/common.py bare --port P --body-file F
        a bare Starlette app on uvicorn that answers every GET with the bytes of F as JSON
    python bench/common.py load --port P --method GET --path /v1/tasks/ID --header 'K: V' ...
        the load generator; prints one JSON object with its measurements on stdout

The load generator keeps `--concurrency` HTTP/1.1 keep-alive connections to 127.0.0.1, each
with one request in flight, for a warm-up and then a measured window. It is written on raw
asyncio protocols (with uvloop when installed) rather than an HTTP client library, so that it
can drive a bare uvicorn app faster than that app can answer on one core: it reports its own CPU
use and the server's over the window, which shows which side was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
COMMON = Path(__file__).resolve()
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 30.0

__all__ = [
    "HOST",
    "LoadResult",
    "Server",
    "Servers",
    "bottleneck_note",
    "combine",
    "cpu_count",
    "free_port",
    "install_sigterm_exit",
    "load_note",
    "run_load",
    "server_stack",
    "table_header",
    "table_row",
    "verdict",
    "workspace",
]


# --------------------------------------------------------------------------------------------
# small helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def install_sigterm_exit() -> None:
    """Turn SIGTERM into SystemExit so that `finally` blocks stop the servers we started."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))


def server_stack() -> str:
    """The loop and HTTP implementations uvicorn's defaults (`auto`) resolve to here."""
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return f"uvicorn loop=auto ({loop}), http=auto ({http}), 1 worker, no access log"


def load_note(*, after: bool = False) -> str:
    """The machine's load average: other processes on a shared machine skew every figure."""
    one, five, _ = os.getloadavg()
    when = "after" if after else "before"
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {cpu_count()} cores"


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads included (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --------------------------------------------------------------------------------------------
# server subprocesses


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.pop("XDG_DATA_HOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Servers:
    """Every subprocess a benchmark starts, stopped on exit whatever happens."""

    workdir: Path
    started: list[Server] = field(default_factory=list)

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        for server in reversed(self.started):
            self.stop(server)

    def _spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], port: int, health: str
    ) -> Server:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                list(argv), cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
            )
        server = Server(name, process, port, log)
        self.started.append(server)
        self._wait_ready(server, health)
        return server

    def _wait_ready(self, server: Server, path: str) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited at start:\n{server.log_tail()}")
            try:
                if httpx.get(server.url + path, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} did not start:\n{server.log_tail()}")
            time.sleep(0.05)

    def stop(self, server: Server, *, hard: bool = False) -> None:
        """Stop one server: SIGTERM (or SIGKILL when `hard`), then SIGKILL after 10 s."""
        if server in self.started:
            self.started.remove(server)
        process = server.process
        if process.poll() is None:
            if hard:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    # vidgate

    def gateway_env(self, data_dir: Path, port: int, *, run_engine: bool) -> dict[str, str]:
        return _clean_env(
            {
                "VIDGATE_DATA_DIR": str(data_dir),
                "VIDGATE_HOST": HOST,
                "VIDGATE_PORT": str(port),
                "VIDGATE_RUN_ENGINE": "true" if run_engine else "false",
            }
        )

    def create_key(self, data_dir: Path, name: str = "bench") -> str:
        """`vidgate keys create --name NAME` in the data dir; returns the key."""
        env = self.gateway_env(data_dir, 0, run_engine=False)
        done = subprocess.run(
            [sys.executable, "-m", "vidgate.cli.main", "keys", "create", "--name", name],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"keys create failed:\n{done.stderr}")
        return done.stdout.strip()

    def gateway(self, name: str, data_dir: Path, *, run_engine: bool) -> Server:
        """`vidgate serve --no-access-log` in its own process, ready to answer."""
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "vidgate.cli.main",
            "serve",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        env = self.gateway_env(data_dir, port, run_engine=run_engine)
        return self._spawn(name, argv, env, port, "/healthz")

    def bare(self, name: str, body: bytes) -> Server:
        """The baseline: a bare Starlette app answering `body` as JSON, same uvicorn settings."""
        port = free_port()
        body_file = self.workdir / f"{name}.json"
        body_file.write_bytes(body)
        argv = [sys.executable, str(COMMON), "bare", "--port", str(port), "--body-file"]
        return self._spawn(name, [*argv, str(body_file)], _clean_env({}), port, "/")


# --------------------------------------------------------------------------------------------
# the bare app (runs in its own process)


def serve_bare(port: int, body: bytes) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def constant(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", constant, methods=["GET", "POST"])])
    # The same call as `vidgate serve`: uvicorn's default loop and http (auto), one worker.
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


# --------------------------------------------------------------------------------------------
# the load generator (runs in its own process)


@dataclass
class LoadResult:
    """What one load run measured; `window` figures cover the measured window only."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses_window: dict[str, int]
    statuses_total: dict[str, int]
    server_cpu: float
    loadgen_cpu: float
    lost_connections: int
    concurrency: int
    latencies: list[float] = field(default_factory=list, repr=False)
    """Every latency of the window in seconds, sorted."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, status: int, *, total: bool = False) -> int:
        counts = self.statuses_total if total else self.statuses_window
        return counts.get(str(status), 0)

    def unexpected(self, expected: int) -> int:
        """Responses in the whole run whose status was not `expected`."""
        return sum(n for code, n in self.statuses_total.items() if code != str(expected))


def combine(results: Sequence[LoadResult]) -> LoadResult:
    """Several runs of one scenario as one: their windows added up, latencies merged."""
    seconds = sum(r.seconds for r in results)
    merged = sorted(x for r in results for x in r.latencies)
    window: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in results:
        window.update(r.statuses_window)
        total.update(r.statuses_total)
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=seconds,
        p50_ms=_percentile(merged, 0.50) * 1000,
        p99_ms=_percentile(merged, 0.99) * 1000,
        statuses_window=dict(sorted(window.items())),
        statuses_total=dict(sorted(total.items())),
        server_cpu=sum(r.server_cpu * r.seconds for r in results) / seconds,
        loadgen_cpu=sum(r.loadgen_cpu * r.seconds for r in results) / seconds,
        lost_connections=sum(r.lost_connections for r in results),
        concurrency=results[0].concurrency,
        latencies=merged,
    )


class _Run:
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.window_start = float("inf")
        self.window_end = float("inf")
        self.stopping = False
        self.latencies: list[float] = []
        self.window: Counter[int] = Counter()
        self.total: Counter[int] = Counter()
        self.lost = 0

    def record(self, status: int, sent_at: float, now: float) -> None:
        self.total[status] += 1
        if self.window_start <= now < self.window_end:
            self.window[status] += 1
            self.latencies.append(now - sent_at)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight at a time."""

    def __init__(self, run: _Run, closed: asyncio.Future[None]) -> None:
        self.run = run
        self.closed = closed
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0
        self.clean_close = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if self.run.stopping:
            self.clean_close = True
            self.transport.close()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError("response without content-length")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        now = time.perf_counter()
        status = int(self.buffer[9:12])
        del self.buffer[:total]
        self.run.record(status, self.sent_at, now)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.clean_close:
            self.run.lost += 1
        if not self.closed.done():
            self.closed.set_result(None)


def _request_bytes(
    method: str, path: str, port: int, headers: Sequence[str], body: bytes | None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: vidgate-bench"]
    lines.extend(headers)
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(args: argparse.Namespace) -> tuple[list[float], dict[str, Any]]:
    body = Path(args.body_file).read_bytes() if args.body_file else None
    run = _Run(_request_bytes(args.method, args.path, args.port, args.header, body))
    loop = asyncio.get_running_loop()
    errors: list[str] = []
    closed: list[asyncio.Future[None]] = []

    def on_error(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append(f"{context.get('message')}: {context.get('exception')!r}")
        run.stopping = True
        for future in closed:
            if not future.done():
                future.set_result(None)

    loop.set_exception_handler(on_error)
    for _ in range(args.concurrency):
        future: asyncio.Future[None] = loop.create_future()
        closed.append(future)
        await loop.create_connection(functools.partial(_Connection, run, future), HOST, args.port)
    run.window_start = time.perf_counter() + args.warmup
    run.window_end = run.window_start + args.duration
    await asyncio.sleep(args.warmup)
    server_cpu0 = process_cpu_seconds(args.server_pid) if args.server_pid else 0.0
    own_cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, run.window_end - time.perf_counter()))
    own_cpu = time.process_time() - own_cpu0
    server_cpu = process_cpu_seconds(args.server_pid) - server_cpu0 if args.server_pid else 0.0
    run.stopping = True
    # Each connection closes once its request in flight is answered; bounded in time.
    await asyncio.wait(closed, timeout=args.drain)
    if errors:
        raise RuntimeError("load generator errors: " + "; ".join(errors[:3]))
    if not run.window:
        raise RuntimeError("no response was received in the measured window")
    ordered = sorted(run.latencies)
    return ordered, {
        "requests": sum(run.window.values()),
        "seconds": args.duration,
        "p50_ms": _percentile(ordered, 0.50) * 1000,
        "p99_ms": _percentile(ordered, 0.99) * 1000,
        "statuses_window": {str(k): v for k, v in sorted(run.window.items())},
        "statuses_total": {str(k): v for k, v in sorted(run.total.items())},
        "server_cpu": server_cpu / args.duration,
        "loadgen_cpu": own_cpu / args.duration,
        "lost_connections": run.lost,
        "concurrency": args.concurrency,
    }


def load_main(args: argparse.Namespace) -> None:
    try:
        import uvloop
    except ImportError:
        ordered, result = asyncio.run(_load(args))
    else:
        ordered, result = uvloop.run(_load(args))
    if args.latency_file:
        with open(args.latency_file, "wb") as handle:
            array("d", ordered).tofile(handle)
    print(json.dumps(result))


def run_load(
    server: Server,
    *,
    method: str,
    path: str,
    headers: Sequence[str] = (),
    body: bytes | None = None,
    concurrency: int,
    duration: float,
    warmup: float,
    workdir: Path,
) -> LoadResult:
    """Drive `server` from a separate load-generator process and return what it measured."""
    argv = [
        sys.executable,
        str(COMMON),
        "load",
        "--port",
        str(server.port),
        "--method",
        method,
        "--path",
        path,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--server-pid",
        str(server.process.pid),
    ]
    latency_file = workdir / f"latencies-{server.name}.bin"
    argv += ["--latency-file", str(latency_file)]
    for header in headers:
        argv += ["--header", header]
    if body is not None:
        body_file = workdir / f"load-{server.name}.json"
        body_file.write_bytes(body)
        argv += ["--body-file", str(body_file)]
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env=_clean_env({}),
        capture_output=True,
        text=True,
        timeout=warmup + duration + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr}\n{server.log_tail()}")
    latencies = array("d")
    with open(latency_file, "rb") as handle:
        latencies.frombytes(handle.read())
    return LoadResult(**json.loads(done.stdout), latencies=latencies.tolist())


# --------------------------------------------------------------------------------------------
# reporting


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "MISS"


def table_row(label: str, result: LoadResult) -> str:
    return (
        f"{label:<34} {result.rps:>9.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
        f"{result.server_cpu:>10.0%} {result.loadgen_cpu:>11.0%}"
    )


def table_header(unit: str) -> str:
    return (
        f"{'scenario':<34} {unit:>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'server cpu':>10} {'loadgen cpu':>11}"
    )


def bottleneck_note(bare: LoadResult) -> str:
    """Whether the bare run was bound by the server (as it should be) or by the load generator."""
    figures = (
        f"load generator check: bare server at {bare.server_cpu:.0%} of a core, "
        f"load generator at {bare.loadgen_cpu:.0%}"
    )
    if bare.loadgen_cpu >= 0.9:
        return f"{figures}: WARNING, the load generator may be the bottleneck"
    if bare.server_cpu >= 0.85:
        return f"{figures}: the server is the bottleneck (ok)"
    return (
        f"{figures}: not the bottleneck (ok), but the server did not get a whole core: "
        "other processes are loading this machine (see the load average)"
    )


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="benchmark helper processes")
    commands = parser.add_subparsers(dest="command", required=True)
    bare = commands.add_parser("bare", help="serve a constant JSON body (the baseline app)")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--body-file", required=True)
    load = commands.add_parser("load", help="run the load generator and print JSON")
    load.add_argument("--port", type=int, required=True)
    load.add_argument("--method", default="GET")
    load.add_argument("--path", required=True)
    load.add_argument("--header", action="append", default=[])
    load.add_argument("--body-file")
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--duration", type=float, default=5.0)
    load.add_argument("--warmup", type=float, default=1.0)
    load.add_argument("--drain", type=float, default=15.0)
    load.add_argument("--server-pid", type=int, default=0)
    load.add_argument("--latency-file", help="write the window's sorted latencies here")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "bare":
        serve_bare(args.port, Path(args.body_file).read_bytes())
    else:
        load_main(args)


if __name__ == "__main__":
    main()
