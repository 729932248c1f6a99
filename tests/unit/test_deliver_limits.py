"""Which receiver a callback URL names, and the webhook limits read from settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vidgate.engine.deliver import DeliveryLimits, destination
from vidgate.settings import Settings


def test_a_receiver_is_its_scheme_host_and_port() -> None:
    assert destination("https://Hooks.Example.com/a?x=1") == "https://hooks.example.com:443"
    assert destination("http://hooks.example.com/b") == "http://hooks.example.com:80"
    assert destination("http://hooks.example.com:8080/c") == "http://hooks.example.com:8080"
    assert destination("http://[::1]:9000/d") == "http://::1:9000"


def test_limits_come_from_settings_and_the_lease_outlasts_an_attempt() -> None:
    settings = Settings(webhook_attempt_timeout=3, webhook_host_concurrency=2, webhook_lease=9)
    limits = DeliveryLimits.from_settings(settings)
    assert (limits.attempt_timeout, limits.host_concurrency, limits.lease) == (3, 2, 9)
    assert limits.max_answer == 64 * 1024
    with pytest.raises(ValidationError, match="webhook_lease"):
        Settings(webhook_attempt_timeout=30, webhook_lease=20)
