"""Faults are used up one answer at a time, and reset to a well-behaved upstream."""

from __future__ import annotations

from vidgate.testing import API_ROUTES, Faults, SubmitFailure


def test_counted_throttles_and_errors_are_used_up() -> None:
    faults = Faults(errors=1, error_status=503)
    faults.throttle(2, retry_after=0.25)
    assert [faults.take_throttle() for _ in range(3)] == [0.25, 0.25, None]
    assert [faults.take_error() for _ in range(2)] == [503, None]


def test_rates_follow_their_seed() -> None:
    first, second = Faults(error_rate=0.5, seed=11), Faults(error_rate=0.5, seed=11)
    assert [first.take_error() for _ in range(50)] == [second.take_error() for _ in range(50)]
    later = Faults(error_rate=0.5)
    later.seed = 11
    again = Faults(error_rate=0.5, seed=11)
    assert [later.take_error() for _ in range(50)] == [again.take_error() for _ in range(50)]
    assert Faults(error_rate=1.0).take_error() == 500
    assert Faults(malformed_rate=1.0).take_malformed() is True
    assert Faults().take_malformed() is False


def test_unknown_statuses_for_n_polls_or_until_cleared() -> None:
    faults = Faults()
    faults.emit_unknown("SUSPENDED", polls=2)
    assert [faults.take_unknown() for _ in range(3)] == ["SUSPENDED", "SUSPENDED", None]
    assert faults.unknown_status is None
    faults.emit_unknown("weird", polls=None)
    assert {faults.take_unknown() for _ in range(5)} == {"weird"}


def test_submit_failures_for_n_submits_or_all() -> None:
    faults = Faults()
    faults.fail_submits("Arrearage", count=1)
    assert faults.take_submit_failure() == SubmitFailure("Arrearage")
    assert faults.take_submit_failure() is None
    faults.fail_submits("Throttling.RateQuota", 429, "slow down", retry_after=3)
    assert all(faults.take_submit_failure() is not None for _ in range(5))


def test_reset_restores_every_default() -> None:
    faults = Faults(error_rate=1, delay=2, hang=True, routes=frozenset({"submit"}))
    faults.fail_tasks("DataInspectionFailed")
    faults.reset()
    assert faults == Faults()
    assert faults.routes == API_ROUTES
    assert "result" not in API_ROUTES
    assert faults.applies_to("query") and not faults.applies_to("result")
