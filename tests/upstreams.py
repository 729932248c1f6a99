"""Fixtures for a gateway in front of fake upstreams, configured by a real providers file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningGateway, start_gateway
from vidgate.testing import FakeUpstream, Timing

RELAY_DIALECTS = ("native", "kik", "nebula")
FAST = {
    "poll_interval": 0.05,
    "max_poll_interval": 0.5,
    "expected_time_scale": 0.0001,
    "requests_per_second": 200,
    "timeout": 2,
}


def providers_file(
    path: Path, providers: dict[str, dict[str, Any]], routes: dict[str, list[str]]
) -> Path:
    lines = []
    for name, fields in providers.items():
        lines.append(f"[providers.{name}]")
        lines.extend(
            f"{key} = {json.dumps(value)}" for key, value in fields.items() if value is not None
        )
    lines.append("[routes]")
    lines.extend(f"{json.dumps(model)} = {json.dumps(names)}" for model, names in routes.items())
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fakes() -> Iterator[Callable[..., FakeUpstream]]:
    started: list[FakeUpstream] = []

    def start(dialect: str, **kwargs: Any) -> FakeUpstream:
        kwargs.setdefault("timing", Timing(queue_seconds=0.1, render_seconds=0.3))
        fake = FakeUpstream(dialect, **kwargs).start()  # type: ignore[arg-type]
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def fronted(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """Start a gateway whose providers are the given fakes (name → (fake, extra fields))."""
    started: list[RunningGateway] = []

    def start(
        upstreams: dict[str, tuple[FakeUpstream, dict[str, Any]]],
        routes: dict[str, list[str]],
        **settings: Any,
    ) -> RunningGateway:
        providers = {}
        for name, (fake, extra) in upstreams.items():
            kind = "relay" if fake.dialect in RELAY_DIALECTS else fake.dialect
            fields: dict[str, Any] = {
                "kind": kind,
                "base_url": fake.base_url,
                "api_key": "sk-test",
                **FAST,
            }
            if kind == "relay":
                fields["dialect"] = fake.dialect
            fields.update(extra)
            providers[name] = fields
        path = providers_file(tmp_path / f"providers{len(started)}.toml", providers, routes)
        gateway = start_gateway(tmp_path / f"data{len(started)}", config=path, **settings)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
