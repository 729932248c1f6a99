"""`vidgate fake-upstream` flags map onto the fake's timing and faults."""

from __future__ import annotations

import argparse

import pytest

from vidgate.cli import fake_upstream
from vidgate.testing import SubmitFailure, TaskFailure


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    fake_upstream.add_parser(commands)
    return parser.parse_args(["fake-upstream", *argv])


def test_flags_become_timing_and_faults() -> None:
    args = parse(
        *("openai", "--port", "9", "--key", "a", "--key", "b", "--time-scale", "600"),
        *("--render-seconds", "600", "--error-rate", "0.25", "--throttle", "3"),
        *("--retry-after", "0.5", "--delay", "1", "--hang", "--malformed-rate", "0.1"),
        *("--unknown-status", "weird", "--unknown-polls", "0", "--expired-results"),
        *("--fail-tasks", "moderation_blocked", "--fail-submits", "insufficient_quota"),
        *("--fail-submits-count", "2", "--fault-routes", "submit,query", "--seed", "4"),
    )
    fake = fake_upstream.build_fake(args)
    assert fake.dialect == "openai"
    assert fake.state.keys == frozenset({"a", "b"})
    assert fake.timing.plan(4) == (1.0 / 600, 1.0)
    faults = fake.faults
    assert (faults.error_rate, faults.throttled, faults.retry_after) == (0.25, 3, 0.5)
    assert (faults.delay, faults.hang, faults.malformed_rate) == (1.0, True, 0.1)
    assert (faults.unknown_status, faults.unknown_polls) == ("weird", None)
    assert faults.expired_results is True
    assert faults.task_failure == TaskFailure("moderation_blocked")
    assert faults.submit_failure == SubmitFailure("insufficient_quota")
    assert faults.submit_failures == 2
    assert faults.routes == frozenset({"submit", "query"})


def test_defaults_are_well_behaved() -> None:
    fake = fake_upstream.build_fake(parse("dashscope", "--fail-tasks"))
    assert fake.state.keys is None
    assert fake.faults.task_failure == TaskFailure(None)
    assert fake.faults.submit_failure is None
    assert (fake.faults.error_rate, fake.faults.hang) == (0.0, False)


@pytest.mark.parametrize(
    "argv",
    [("nowhere",), ("kik", "--error-rate", "2"), ("kik", "--fault-routes", "submit,bogus")],
)
def test_bad_flags_are_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
