"""The benchmarks' harness: processes, keys, a raw HTTP/1.1 load generator, statistics, tables.

Every bench script imports what it needs from here. Everything runs on 127.0.0.1: the gateway
(`vidgate serve`), workers (`vidgate worker`), fake upstreams and helper processes each in their
own process, on free ports, with data in a temporary dir, all stopped on exit. API keys come
from `vidgate keys create`.

Run as a script it is one of the helper processes the benchmarks start, so that the server, the
load and the orchestrating script each have their own interpreter (and GIL):

    python bench/harness.py bare --port P --body-file F
        a bare Starlette app on uvicorn that answers every request with the bytes of F as JSON
    python bench/harness.py load --port P --method GET --path /v1/tasks/ID --header 'K: V' ...
        the time-bounded load generator; prints one JSON object with its measurements

The load generators are written on raw asyncio protocols (uvloop when installed) rather than an
HTTP client library, so that they cost the two-core machine as little CPU as possible: the
time-bounded one drives a bare uvicorn app faster than that app answers on one core, and
reports its own CPU and the server's over the measured window to show which side was the
bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal, TypeVar, cast

import httpx

HOST = "127.0.0.1"
LOOPBACK_NETWORK = "127.0.0.0/8"
ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).resolve()
VIDGATE_CLI = (sys.executable, "-m", "vidgate.cli.main")
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 60.0
TERMINAL = ("completed", "failed", "cancelled")
MAX_PAGES = 10_000
DRAIN_SECONDS = 15.0

T = TypeVar("T")
R = TypeVar("R")
P = TypeVar("P", bound="Process")
Header = tuple[str, str]
PercentileRule = Literal["nearest-rank", "floor-index", "rounded-index"]


# --------------------------------------------------------------------------------------------
# the machine


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def load_average() -> str:
    """The 1, 5 and 15 min load averages as `1.2/0.9/0.5`."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def load_note(*, after: bool = False) -> str:
    """The machine's load average: other processes on a shared machine skew every figure."""
    one, five, _ = os.getloadavg()
    when = "after" if after else "before"
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {cpu_count()} cores"


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


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_memory_kib(pid: int) -> dict[str, int]:
    """`VmRSS` and `VmHWM` (the RSS peak) of a process, in KiB (Linux /proc/PID/status)."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE (children inherit it) towards `wanted`; the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    if signum == signal.SIGALRM:
        raise TimeoutError("the benchmark ran past its time limit")
    sys.exit(128 + signum)


@contextlib.contextmanager
def bounded(seconds: int | None = None) -> Iterator[None]:
    """SIGTERM, and after `seconds` SIGALRM, unwind through `finally`: every process is stopped."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGALRM, _exit_on_signal)
    if seconds:
        signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on uvloop when it is installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def parse_with_quick(
    parser: argparse.ArgumentParser, quick: Mapping[str, Any], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse with a `--quick` flag that swaps the defaults for `quick`'s (a smoke run)."""
    shown = ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"smoke-run sizes: {shown}")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


# --------------------------------------------------------------------------------------------
# processes


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without any `VIDGATE_*` setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.pop("XDG_DATA_HOME", None)
    env.pop("PYTHONOPTIMIZE", None)  # `vidgate serve` chooses its own (cli/main.py)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def vidgate_env(
    data_dir: Path,
    *,
    port: int = 0,
    run_engine: bool = True,
    config: Path | None = None,
    allow_loopback: bool = False,
) -> dict[str, str]:
    """A clean environment for the vidgate CLI on `data_dir`, bound to 127.0.0.1:`port`."""
    settings = {
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_HOST": HOST,
        "VIDGATE_PORT": str(port),
        "VIDGATE_RUN_ENGINE": "true" if run_engine else "false",
    }
    if config is not None:
        settings["VIDGATE_CONFIG"] = str(config)
    if allow_loopback:
        settings["VIDGATE_ALLOW_NETWORKS"] = LOOPBACK_NETWORK
    return clean_env(settings)


@dataclass
class Process:
    """One started process, its log, and the loopback port it serves on (0: none)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for it to end; whether it did."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def logged_errors(self) -> list[str]:
        """The exceptions it logged, counted by the last line of their tracebacks."""
        found: Counter[str] = Counter()
        for line in self.log_text().splitlines():
            if re.match(r"^[\w.]+(Error|Exception)\b.*: ", line):
                found[line[:160]] += 1
        return [f"{self.name} logged {n} x {line}" for line, n in found.most_common(5)]


@dataclass
class Gateway(Process):
    """A `vidgate serve` process, the API key made for it and its data dir."""

    key: str = ""
    data_dir: Path = Path()

    @property
    def auth(self) -> Header:
        return ("Authorization", f"Bearer {self.key}")

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=dict([self.auth]), timeout=timeout)


class Processes:
    """Every process a benchmark starts, in one temporary dir; all stopped on exit."""

    def __init__(self, prefix: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
        self.workdir = Path(self._tmp.name)
        self.started: list[Process] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        try:
            if isinstance(error, Exception):
                for process in self.started:
                    state = "running" if process.running() else "exited"
                    print(f"--- {process.name} ({state}), log tail:", file=sys.stderr)
                    print(process.log_tail(), file=sys.stderr)
            for process in reversed(list(self.started)):
                self.stop(process)
        finally:
            self._tmp.cleanup()

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None, port: int = 0
    ) -> Process:
        """Start `argv` in the repository root with its output in `NAME.log`."""
        return self._track(Process(name, *self._launch(name, argv, env), port))

    def _launch(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=dict(env if env is not None else clean_env()),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return popen, log

    def _track(self, process: P) -> P:
        self.started.append(process)
        return process

    def stop(self, process: Process, *, hard: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (SIGKILL when `hard`), then SIGKILL after `timeout`; this process only."""
        if process in self.started:
            self.started.remove(process)
        if process.running():
            if hard:
                process.popen.kill()
            else:
                process.popen.terminate()
            try:
                process.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)

    def helper(
        self, name: str, script: Path, *argv: str, port: int = 0, python: Sequence[str] = ()
    ) -> Process:
        """`python [PYTHON...] SCRIPT ARGV...` (a bench helper process), clean environment."""
        return self.start(name, [sys.executable, *python, str(script), *argv], port=port)

    def create_key(
        self, data_dir: Path, name: str = "bench", *, database_url: str | None = None
    ) -> str:
        """`vidgate keys create --name NAME` on `data_dir` (or `database_url`); the key."""
        env = vidgate_env(data_dir)
        if database_url is not None:
            env["VIDGATE_DATABASE_URL"] = database_url
        done = subprocess.run(
            [*VIDGATE_CLI, "keys", "create", "--name", name],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"keys create failed:\n{done.stderr}")
        return done.stdout.strip()

    def gateway(
        self,
        name: str,
        *,
        data_dir: Path | None = None,
        key: str | None = None,
        run_engine: bool = True,
        config: Path | None = None,
        allow_loopback: bool = False,
        wait: bool = True,
        database_url: str | None = None,
        access_log: bool = False,
        extra_env: Mapping[str, str] | None = None,
    ) -> Gateway:
        """`vidgate serve --no-access-log` on a free port (and a key first, unless given);
        with `access_log`, `vidgate serve` with its access log (to the process's log file)."""
        data_dir = data_dir or self.workdir / name
        key = key or self.create_key(data_dir, database_url=database_url)
        port = free_port()
        env = vidgate_env(
            data_dir, port=port, run_engine=run_engine, config=config, allow_loopback=allow_loopback
        )
        if database_url is not None:
            env["VIDGATE_DATABASE_URL"] = database_url
        env.update(extra_env or {})
        quiet = [] if access_log else ["--no-access-log"]
        argv = [*VIDGATE_CLI, "serve", *quiet, "--log-level", "info" if access_log else "warning"]
        gateway = self._track(Gateway(name, *self._launch(name, argv, env), port, key, data_dir))
        if wait:
            wait_http(gateway, "/healthz")
        return gateway

    def worker(
        self,
        name: str,
        data_dir: Path,
        *,
        config: Path | None = None,
        allow_loopback: bool = False,
    ) -> Process:
        """`vidgate worker` (the engine without the API) on `data_dir`, once it runs."""
        env = vidgate_env(data_dir, config=config, allow_loopback=allow_loopback)
        worker = self.start(name, [*VIDGATE_CLI, "worker"], env)
        wait_until(worker, lambda: "running" in worker.log_text())
        return worker

    def bare(self, name: str, body: bytes) -> Process:
        """The baseline: a bare Starlette app answering `body` as JSON, on uvicorn as vidgate's."""
        body_file = self.workdir / f"{name}.json"
        body_file.write_bytes(body)
        port = free_port()
        bare = self.helper(
            name, HARNESS, "bare", "--port", str(port), "--body-file", str(body_file), port=port
        )
        wait_http(bare, "/")
        return bare

    def run_load(
        self,
        target: Process,
        *,
        method: str,
        path: str,
        headers: Sequence[Header] = (),
        body: bytes | None = None,
        concurrency: int,
        duration: float,
        warmup: float,
        sequence_header: Header | None = None,
        count_tasks: bool = False,
        paths: Sequence[str] = (),
    ) -> LoadResult:
        """Drive `target` from a separate load-generator process; what it measured.

        `sequence_header` is sent with the request's sequence number after its value, `count_tasks`
        counts the distinct `task_id`s the window's 200 and 202 answers carried; `paths`, when
        given, are requested in turn instead of `path`.
        """
        latency_file = self.workdir / f"latencies-{target.name}.bin"
        argv = [
            *(sys.executable, str(HARNESS), "load", "--port", str(target.port)),
            *("--method", method, "--path", path, "--concurrency", str(concurrency)),
            *("--duration", str(duration), "--warmup", str(warmup)),
            *("--server-pid", str(target.pid), "--latency-file", str(latency_file)),
        ]
        for name, value in headers:
            argv += ["--header", f"{name}: {value}"]
        if sequence_header is not None:
            argv += ["--sequence-header", ": ".join(sequence_header)]
        if count_tasks:
            argv.append("--count-tasks")
        if paths:
            paths_file = self.workdir / f"paths-{target.name}.txt"
            paths_file.write_text("\n".join(paths))
            argv += ["--path-file", str(paths_file)]
        if body is not None:
            body_file = self.workdir / f"load-{target.name}.json"
            body_file.write_bytes(body)
            argv += ["--body-file", str(body_file)]
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=warmup + duration + DRAIN_SECONDS + 60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{done.stderr}\n{target.log_tail()}")
        latencies = array("d")
        latencies.frombytes(latency_file.read_bytes())
        return LoadResult(**json.loads(done.stdout), latencies=latencies.tolist())


def wait_until(process: Process, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
    """Wait until `ready()`, or raise with the log's tail if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not process.running():
            raise RuntimeError(f"{process.name} exited at start:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not start:\n{process.log_tail()}")
        time.sleep(0.05)


def wait_http(process: Process, path: str, timeout: float = START_TIMEOUT) -> None:
    """Wait until `GET path` answers 200."""

    def answers() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(process.url + path, timeout=10.0).status_code == 200
        return False

    wait_until(process, answers, timeout)


# --------------------------------------------------------------------------------------------
# the HTTP API, through httpx


def list_tasks(client: httpx.Client, **params: str | int) -> list[dict[str, Any]]:
    """Every task `GET /v1/tasks` lists for the client's key, following `next_after`."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        query: dict[str, str | int] = {"limit": 100, **params}
        if after is not None:
            query["after"] = after
        response = client.get("/v1/tasks", params=query)
        response.raise_for_status()
        page = response.json()
        found.extend(page["data"])
        if not page["has_more"]:
            return found
        after = page["next_after"]
    raise RuntimeError(f"GET /v1/tasks still had more after {MAX_PAGES} pages")


def epoch(stamp: str) -> float:
    """An ISO 8601 time from the gateway (`...Z`, `...+00:00` or naive UTC) as epoch seconds."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# --------------------------------------------------------------------------------------------
# raw HTTP/1.1


def request_bytes(
    method: str, path: str, port: int, headers: Sequence[Header] = (), body: bytes | None = None
) -> bytes:
    """One HTTP/1.1 keep-alive request to 127.0.0.1:`port`; a body is sent as JSON."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: vidgate-bench"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def content_length(head: bytes) -> int:
    """The Content-Length of a message head (without its blank line); 0 when absent."""
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    stop = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + 17 : stop if stop >= 0 else len(lowered)])


def take_message(buffer: bytearray) -> tuple[bytes, bytes] | None:
    """Cut one whole message (head, Content-Length body) off the front of `buffer`, if there."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end])
    total = end + 4 + content_length(head)
    if len(buffer) < total:
        return None
    body = bytes(buffer[end + 4 : total])
    del buffer[:total]
    return head, body


def status_of(head: bytes) -> int:
    """The status code of a response head (`HTTP/1.1 200 OK`)."""
    return int(head[9:12])


@dataclass(frozen=True)
class Reply:
    """One answered request: status, body, and when it was sent and answered (epoch seconds)."""

    status: int
    body: bytes
    sent_at: float
    received_at: float


class _Exchange(asyncio.Protocol):
    """The protocol under `Connection`: one request in flight, stamped as its bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: asyncio.Future[tuple[int, bytes, float]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.pending is None or self.pending.done():
            return
        message = take_message(self.buffer)
        if message is not None:
            head, body = message
            self.pending.set_result((status_of(head), body, time.time()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.pending is not None and not self.pending.done():
            self.pending.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    async def request(self, data: bytes) -> Reply:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("connection closed")
        self.pending = asyncio.get_running_loop().create_future()
        sent_at = time.time()
        self.transport.write(data)
        status, body, received_at = await self.pending
        return Reply(status, body, sent_at, received_at)


class Connection:
    """One keep-alive connection to 127.0.0.1:`port`, opened on first use and after a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._exchange: _Exchange | None = None

    async def request(self, data: bytes, *, timeout: float | None = None) -> Reply:
        if self._exchange is None or self._exchange.closed:
            loop = asyncio.get_running_loop()
            _, self._exchange = await loop.create_connection(_Exchange, HOST, self.port)
        try:
            return await asyncio.wait_for(self._exchange.request(data), timeout)
        except BaseException:
            self.close()  # an answer may still be on its way: never reuse this connection
            raise

    def close(self) -> None:
        if self._exchange is not None and self._exchange.transport is not None:
            self._exchange.transport.close()
        self._exchange = None


async def fan_out(
    port: int,
    items: Sequence[T],
    exchange: Callable[[Connection, T], Awaitable[R]],
    *,
    concurrency: int,
    rate: float = 0.0,
) -> list[R]:
    """The count-bounded load: `exchange` once per item, in order, over `concurrency` connections.

    With `rate` > 0 the i-th item does not start before `start + i / rate`. Returns what each
    exchange returned, in the order of `items`.
    """
    results: dict[int, R] = {}
    cursor = iter(range(len(items)))
    start = time.monotonic()

    async def worker() -> None:
        conn = Connection(port)
        try:
            for index in cursor:
                delay = start + index / rate - time.monotonic() if rate > 0 else 0.0
                if delay > 0:
                    await asyncio.sleep(delay)
                results[index] = await exchange(conn, items[index])
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    return [results[index] for index in range(len(items))]


# --------------------------------------------------------------------------------------------
# the time-bounded load generator (runs in its own process)


@dataclass
class LoadResult:
    """What one time-bounded load run measured; `window` figures cover the measured window."""

    requests: int
    seconds: float
    statuses_window: dict[str, int]
    statuses_total: dict[str, int]
    server_cpu: float
    loadgen_cpu: float
    lost_connections: int
    concurrency: int
    distinct_tasks: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)
    """Every latency of the window in seconds, ascending."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 0.50, "floor-index") * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99, "floor-index") * 1000

    def count(self, status: int, *, total: bool = False) -> int:
        counts = self.statuses_total if total else self.statuses_window
        return counts.get(str(status), 0)

    def unexpected(self, expected: int) -> int:
        """Answers in the whole run whose status was not `expected`."""
        return sum(n for code, n in self.statuses_total.items() if code != str(expected))


def combine(results: Sequence[LoadResult]) -> LoadResult:
    """Several runs of one scenario as one: their windows added up, latencies merged."""
    seconds = sum(r.seconds for r in results)
    window: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in results:
        window.update(r.statuses_window)
        total.update(r.statuses_total)
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=seconds,
        statuses_window=dict(sorted(window.items())),
        statuses_total=dict(sorted(total.items())),
        server_cpu=sum(r.server_cpu * r.seconds for r in results) / seconds,
        loadgen_cpu=sum(r.loadgen_cpu * r.seconds for r in results) / seconds,
        lost_connections=sum(r.lost_connections for r in results),
        concurrency=results[0].concurrency,
        distinct_tasks=sum(r.distinct_tasks for r in results),
        latencies=sorted(x for r in results for x in r.latencies),
    )


class _Window:
    """The shared state of one load run: the request, the window, what was answered."""

    def __init__(self, request: Callable[[], bytes], count_tasks: bool) -> None:
        self.request = request
        self.count_tasks = count_tasks
        self.start = float("inf")
        self.end = float("inf")
        self.stopping = False
        self.latencies: list[float] = []
        self.window: Counter[int] = Counter()
        self.total: Counter[int] = Counter()
        self.task_ids: set[str] = set()
        self.lost = 0

    def record(self, status: int, body: bytes, sent_at: float, now: float) -> None:
        self.total[status] += 1
        if self.start <= now < self.end:
            self.window[status] += 1
            self.latencies.append(now - sent_at)
            if self.count_tasks and status in (200, 202):
                self.task_ids.add(json.loads(body)["task_id"])


class _LoadConnection(asyncio.Protocol):
    """One keep-alive connection of the load, sending its next request as an answer completes."""

    def __init__(self, run: _Window, closed: asyncio.Future[None]) -> None:
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
        self.transport.write(self.run.request())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        message = take_message(self.buffer)
        if message is None:
            return
        head, body = message
        self.run.record(status_of(head), body, self.sent_at, time.perf_counter())
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.clean_close:
            self.run.lost += 1
        if not self.closed.done():
            self.closed.set_result(None)


def _request_source(args: argparse.Namespace) -> Callable[[], bytes]:
    """What each connection sends: the same bytes, or with a sequence header numbered anew."""
    body = Path(args.body_file).read_bytes() if args.body_file else None
    headers = [cast(Header, tuple(p.strip() for p in h.split(":", 1))) for h in args.header]
    if args.path_file:
        paths = Path(args.path_file).read_text().split()
        each = [request_bytes(args.method, path, args.port, headers, body) for path in paths]
        turn = iter(range(1 << 62))
        return lambda: each[next(turn) % len(each)]
    if not args.sequence_header:
        fixed = request_bytes(args.method, args.path, args.port, headers, body)
        return lambda: fixed
    name, prefix = (part.strip() for part in args.sequence_header.split(":", 1))
    marker = "\x00sequence\x00"
    template = request_bytes(args.method, args.path, args.port, [*headers, (name, marker)], body)
    before, after = template.split(marker.encode())
    sequence = iter(range(1 << 62))
    return lambda: before + f"{prefix}{next(sequence)}".encode() + after


async def _load(args: argparse.Namespace) -> tuple[list[float], dict[str, Any]]:
    run = _Window(_request_source(args), args.count_tasks)
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
        factory = functools.partial(_LoadConnection, run, future)
        await loop.create_connection(factory, HOST, args.port)
    run.start = time.perf_counter() + args.warmup
    run.end = run.start + args.duration
    await asyncio.sleep(args.warmup)
    server_cpu0 = process_cpu_seconds(args.server_pid) if args.server_pid else 0.0
    own_cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, run.end - time.perf_counter()))
    own_cpu = time.process_time() - own_cpu0
    server_cpu = process_cpu_seconds(args.server_pid) - server_cpu0 if args.server_pid else 0.0
    run.stopping = True
    # Each connection closes once its request in flight is answered; bounded in time.
    await asyncio.wait(closed, timeout=args.drain)
    if errors:
        raise RuntimeError("load generator errors: " + "; ".join(errors[:3]))
    if not run.window:
        raise RuntimeError("no response was received in the measured window")
    return sorted(run.latencies), {
        "requests": sum(run.window.values()),
        "seconds": args.duration,
        "statuses_window": {str(k): v for k, v in sorted(run.window.items())},
        "statuses_total": {str(k): v for k, v in sorted(run.total.items())},
        "server_cpu": server_cpu / args.duration,
        "loadgen_cpu": own_cpu / args.duration,
        "lost_connections": run.lost,
        "concurrency": args.concurrency,
        "distinct_tasks": len(run.task_ids),
    }


def _load_main(args: argparse.Namespace) -> None:
    ordered, result = run_async(_load(args))
    if args.latency_file:
        with open(args.latency_file, "wb") as handle:
            array("d", ordered).tofile(handle)
    print(json.dumps(result))


def _serve_bare(port: int, body: bytes) -> None:
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
# statistics and tables


def percentile(values: Iterable[float], q: float, rule: PercentileRule = "nearest-rank") -> float:
    """The `q` (0-1) percentile of `values`; NaN when there are none.

    `nearest-rank` is the ceil(q n)-th smallest; `floor-index` the one at index floor(q n);
    `rounded-index` the one at index round(q (n - 1)).
    """
    ordered = sorted(values)
    if not ordered:
        return math.nan
    size = len(ordered)
    if rule == "nearest-rank":
        index = math.ceil(q * size) - 1
    elif rule == "floor-index":
        index = int(q * size)
    else:
        index = round(q * (size - 1))
    return ordered[min(size - 1, max(0, index))]


def backoff(schedule: Sequence[float]) -> Iterator[float]:
    """The intervals of `schedule`, then its last one forever."""
    yield from schedule
    while True:
        yield schedule[-1]


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def ratio_line(label: str, expression: str, measured: float, baseline: float, target: float) -> str:
    """`LABEL = EXPRESSION = measured / baseline = ratio (target >= T) PASS|MISS`."""
    ratio = measured / baseline if baseline else 0.0
    return (
        f"{label} = {expression} = {measured:.0f} / {baseline:.0f} = {ratio:.3f} "
        f"(target >= {target:g}) {verdict(ratio >= target)}"
    )


@dataclass(frozen=True)
class Column:
    title: str
    width: int = 0
    align: Literal["<", ">"] = ">"


def table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[str]],
    style: Literal["plain", "ruled", "markdown"] = "plain",
) -> list[str]:
    """The lines of a table of pre-formatted cells.

    `plain` pads every cell to its column's width (a longer one pushes its row on) and `ruled`
    adds a line of dashes under the header; `markdown` widens each column to its widest cell.
    """
    body = [list(row) for row in rows]
    if style == "markdown":
        widths = [
            max([len(c.title), *(len(row[i]) for row in body)]) for i, c in enumerate(columns)
        ]
        line = "| {} |".format
        header = line(" | ".join(c.title.ljust(w) for c, w in zip(columns, widths, strict=True)))
        rule = line(" | ".join("-" * w for w in widths))
        cells = [line(" | ".join(x.ljust(w) for x, w in zip(r, widths, strict=True))) for r in body]
        return [header, rule, *cells]

    def plain(cells: Sequence[str]) -> str:
        return " ".join(f"{x:{c.align}{c.width}}" for x, c in zip(cells, columns, strict=True))

    header = plain([c.title for c in columns])
    ruled = [header, "-" * len(header)] if style == "ruled" else [header]
    return [*ruled, *(plain(row) for row in body)]


def load_table(unit: str, rows: Sequence[tuple[str, LoadResult]]) -> list[str]:
    """Load results, one a row: rate in `unit`, p50/p99, server and load-generator CPU."""
    columns = [
        Column("scenario", 34, "<"),
        Column(unit, 9),
        Column("p50 ms", 8),
        Column("p99 ms", 8),
        Column("server cpu", 10),
        Column("loadgen cpu", 11),
    ]
    cells = [
        [
            label,
            f"{r.rps:.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.server_cpu:.0%}",
            f"{r.loadgen_cpu:.0%}",
        ]
        for label, r in rows
    ]
    return table(columns, cells)


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


# --------------------------------------------------------------------------------------------
# entry point of the helper processes


def helper_parser(
    description: str, **commands: str
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """A helper process's parser: a subcommand per `name=help`, each with `--port` (127.0.0.1)."""
    parser = argparse.ArgumentParser(description=description)
    subparsers = parser.add_subparsers(dest="command", required=True)
    made: dict[str, argparse.ArgumentParser] = {}
    for name, summary in commands.items():
        made[name] = subparsers.add_parser(name, help=summary)
        made[name].add_argument("--port", type=int, required=True)
    return parser, made


def _parser() -> argparse.ArgumentParser:
    parser, commands = helper_parser(
        "benchmark helper processes",
        bare="serve a constant JSON body (the baseline app)",
        load="run the time-bounded load and print JSON",
    )
    commands["bare"].add_argument("--body-file", required=True)
    add = commands["load"].add_argument
    add("--method", default="GET")
    add("--path", required=True)
    add("--header", action="append", default=[], help="'Name: value'")
    add("--sequence-header", help="'Name: prefix', numbered per request")
    add("--path-file", help="paths to request in turn, one a line (instead of --path)")
    add("--body-file")
    add("--count-tasks", action="store_true", help="distinct task_ids answered")
    add("--concurrency", type=int, default=32)
    add("--duration", type=float, default=5.0)
    add("--warmup", type=float, default=1.0)
    add("--drain", type=float, default=DRAIN_SECONDS)
    add("--server-pid", type=int, default=0)
    add("--latency-file", help="write the window's sorted latencies here")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "bare":
        _serve_bare(args.port, Path(args.body_file).read_bytes())
    else:
        _load_main(args)


if __name__ == "__main__":
    main()
