"""`vidgate fake-upstream DIALECT`: serve a fake upstream API in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from vidgate.testing import (
    DIALECTS,
    ROUTE_KINDS,
    FakeUpstream,
    Faults,
    SubmitFailure,
    TaskFailure,
    Timing,
)

__all__ = ["add_arguments", "add_parser", "build_fake", "main", "run"]

HELP = f"serve a fake upstream ({', '.join(DIALECTS)}) with fault injection"


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction within 0-1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not zero or more seconds")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not zero or more")
    return value


def _routes(text: str) -> frozenset[str]:
    kinds = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = kinds - ROUTE_KINDS
    if unknown or not kinds:
        allowed = ", ".join(sorted(ROUTE_KINDS))
        raise argparse.ArgumentTypeError(f"route kinds are a comma-separated subset of {allowed}")
    return kinds


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments, on any parser."""
    parser.add_argument("dialect", choices=DIALECTS, help="the API to fake")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument(
        "--key", action="append", dest="keys", metavar="KEY", help="accept only this key (repeat)"
    )
    parser.add_argument(
        "--model", action="append", dest="models", metavar="MODEL", help="accept only this model"
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning"])

    timing = parser.add_argument_group("timing")
    timing.add_argument("--queue-seconds", type=_seconds, default=1.0, metavar="S")
    timing.add_argument(
        "--render-seconds", type=_seconds, metavar="S", help="default: duration x render factor"
    )
    timing.add_argument("--render-factor", type=_seconds, default=6.0, metavar="X")
    timing.add_argument(
        "--time-scale", type=float, default=1.0, metavar="X", help="600: 10 minutes in 1 s"
    )
    timing.add_argument(
        "--result-ttl", type=_seconds, default=86400.0, metavar="S", help="result URL lifetime"
    )
    timing.add_argument(
        "--match-request", action="store_true", help="render results at the requested size"
    )

    faults = parser.add_argument_group("faults")
    faults.add_argument("--error-rate", type=_rate, default=0.0, metavar="R")
    faults.add_argument("--error-status", type=int, default=500, metavar="N")
    faults.add_argument("--errors", type=_count, default=0, metavar="N", help="next N calls 5xx")
    faults.add_argument("--throttle", type=_count, default=0, metavar="N", help="next N calls 429")
    faults.add_argument("--retry-after", type=_seconds, default=1.0, metavar="S")
    faults.add_argument("--delay", type=_seconds, default=0.0, metavar="S")
    faults.add_argument("--hang", action="store_true", help="never answer")
    faults.add_argument("--malformed-rate", type=_rate, default=0.0, metavar="R")
    faults.add_argument("--unknown-status", metavar="WORD", help="an undocumented status word")
    faults.add_argument(
        "--unknown-polls", type=_count, default=1, metavar="N", help="0: every query"
    )
    faults.add_argument("--expired-results", action="store_true")
    faults.add_argument(
        "--fail-tasks",
        nargs="?",
        const="",
        metavar="CODE",
        help="fail every task (with CODE, or the dialect's default failure)",
    )
    faults.add_argument("--fail-tasks-message", metavar="TEXT")
    faults.add_argument("--fail-submits", metavar="CODE", help="refuse submits with CODE")
    faults.add_argument("--fail-submits-status", type=int, metavar="N")
    faults.add_argument("--fail-submits-message", metavar="TEXT")
    faults.add_argument("--fail-submits-count", type=_count, metavar="N", help="default: all")
    faults.add_argument(
        "--fault-routes", type=_routes, metavar="KINDS", help="e.g. submit,query (default: API)"
    )
    faults.add_argument("--seed", type=int, help="seed for the rate-based faults")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `fake-upstream` on `vidgate`'s subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "fake-upstream", help=HELP, description=HELP
    )
    add_arguments(parser)
    return parser


def _faults(args: argparse.Namespace) -> Faults:
    faults = Faults(
        error_rate=args.error_rate,
        error_status=args.error_status,
        errors=args.errors,
        throttled=args.throttle,
        retry_after=args.retry_after,
        delay=args.delay,
        hang=args.hang,
        malformed_rate=args.malformed_rate,
        unknown_status=args.unknown_status,
        unknown_polls=args.unknown_polls or None,
        expired_results=args.expired_results,
        seed=args.seed,
    )
    if args.fault_routes is not None:
        faults.routes = args.fault_routes
    if args.fail_tasks is not None:
        faults.task_failure = TaskFailure(args.fail_tasks or None, args.fail_tasks_message)
    if args.fail_submits:
        faults.submit_failure = SubmitFailure(
            args.fail_submits, args.fail_submits_status, args.fail_submits_message
        )
        faults.submit_failures = args.fail_submits_count
    return faults


def build_fake(args: argparse.Namespace) -> FakeUpstream:
    """The fake the parsed arguments describe, not yet started."""
    timing = Timing(
        queue_seconds=args.queue_seconds,
        render_seconds=args.render_seconds,
        render_factor=args.render_factor,
        time_scale=args.time_scale,
    )
    return FakeUpstream(
        args.dialect,
        host=args.host,
        port=args.port,
        timing=timing,
        faults=_faults(args),
        keys=args.keys,
        models=args.models,
        result_ttl=args.result_ttl,
        match_request=args.match_request,
        log_level=args.log_level,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; prints the URLs first, on stdout."""
    if args.time_scale <= 0:
        print("Error: --time-scale must be more than 0", file=sys.stderr)
        return 2
    fake = build_fake(args)
    try:
        fake.bind()
    except OSError as exc:
        print(f"Error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print(
        f"vidgate fake-upstream {args.dialect} listening on {fake.url} "
        f"(base URL {fake.base_url}); Ctrl-C stops it",
        flush=True,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()
    print("vidgate fake-upstream stopped", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vidgate fake-upstream", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
