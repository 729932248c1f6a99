"""Prices, per-key limits and fair dispatch, through a real gateway in front of a fake
DashScope upstream."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningGateway, start_gateway, wait_terminal
from upstreams import FAST
from vidgate.settings import ConfigError, load_providers
from vidgate.store import open_store
from vidgate.testing import FakeUpstream, Timing

SMALL: dict[str, Any] = {"prompt": "a red kite", "duration": 2, "resolution": "480P"}
SYNTHESIS = "/api/v1/services/aigc/video-generation/video-synthesis"
DIALECT_SUBMITS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "native": ("/v1/tasks", SMALL, {}),
    "openai": (
        "/v1/videos",
        {"model": "wan2.6-t2v", "prompt": "a kite", "seconds": "2", "size": "832x480"},
        {},
    ),
    "dashscope": (
        SYNTHESIS,
        {
            "model": "wan2.6-t2v",
            "input": {"prompt": "a red kite"},
            "parameters": {"duration": 2, "resolution": "480P"},
        },
        {"X-DashScope-Async": "enable"},
    ),
    "kik": ("/video/v1/tasks", SMALL, {}),
    "nebula": ("/v1/video/generations", SMALL, {}),
}


def write_config(path: Path, fake: FakeUpstream | None, prices: str = "", **extra: Any) -> Path:
    lines = []
    if fake is not None:
        fields = {"kind": "dashscope", "base_url": fake.base_url, "api_key": "sk-t", **FAST}
        fields.update(extra)
        lines.append("[providers.up]")
        lines.extend(f"{name} = {json.dumps(value)}" for name, value in fields.items())
        lines.append('[routes]\ndefault = ["up"]')
    path.write_text("\n".join(lines) + "\n" + prices)
    return path


def set_limits(gateway: RunningGateway, key: str, in_flight: int | None, rate: int | None) -> None:
    async def change() -> None:
        store = open_store(gateway.settings.database)
        await store.open()
        try:
            [found] = [k for k in await store.list_keys() if key.startswith(k.prefix)]
            await store.set_key_limits(found.id, in_flight, rate)
        finally:
            await store.close()

    asyncio.run(change())


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    started = FakeUpstream("dashscope", timing=Timing(queue_seconds=0.0, render_seconds=0.3))
    started.start()
    yield started
    started.stop()


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def start(data: str = "data", **settings: Any) -> RunningGateway:
        gateway = start_gateway(tmp_path / data, drain_timeout=0, **settings)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def test_over_the_submit_rate_every_dialect_answers_429_with_retry_after(
    gateways: Callable[..., RunningGateway],
) -> None:
    gateway = gateways(run_engine=False)
    for dialect, (path, body, headers) in DIALECT_SUBMITS.items():
        key = gateway.make_key(dialect, quota=100)
        set_limits(gateway, key, None, 1)
        with gateway.client(key) as api:
            assert api.post(path, json=body, headers=headers).status_code in (200, 202)
            refused = api.post(path, json=body, headers=headers)
            assert refused.status_code == 429, (dialect, refused.text)
            assert 1 <= int(refused.headers["Retry-After"]) <= 60, dialect
            assert "limit" in refused.text, dialect
            assert "/" not in json.dumps(refused.json()).replace("\\/", ""), dialect
            assert len(api.get("/v1/tasks").json()["data"]) == 1, dialect
            account = api.get("/v1/account").json()
            assert account["reserved"] == 2 and account["limits"]["max_submits_per_minute"] == 1


def test_over_the_in_flight_limit_tasks_wait_queued(
    fake: FakeUpstream, gateways: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    gateway = gateways(config=write_config(tmp_path / "p.toml", fake, concurrency=5))
    key = gateway.make_key("one-at-a-time")
    set_limits(gateway, key, 1, None)
    with gateway.client(key) as api:
        ids = [api.post("/v1/tasks", json=SMALL).json()["task_id"] for _ in range(3)]
        most = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = [t["status"] for t in api.get("/v1/tasks").json()["data"]]
            most = max(most, statuses.count("processing"))
            if all(s == "completed" for s in statuses):
                break
            time.sleep(0.03)
        assert most == 1
        assert [wait_terminal(api, i)["status"] for i in ids] == ["completed"] * 3


def test_one_key_s_backlog_delays_another_key_s_task_by_at_most_one_render(
    fake: FakeUpstream, gateways: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    gateway = gateways(config=write_config(tmp_path / "p.toml", fake, concurrency=2))
    busy, quiet = gateway.make_key("busy"), gateway.make_key("quiet")
    with gateway.client(busy) as a, concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: a.post("/v1/tasks", json=SMALL).status_code, range(200)))
        with gateway.client(quiet) as b:
            task_id = b.post("/v1/tasks", json=SMALL).json()["task_id"]
            deadline = time.monotonic() + 30
            while (task := b.get(f"/v1/tasks/{task_id}").json())["started_at"] is None:
                assert time.monotonic() < deadline, "the quiet key's task never started"
                time.sleep(0.02)
        waited = (moment(task["started_at"]) - moment(task["created_at"])).total_seconds()
        done = a.get("/v1/tasks", params={"status": "completed", "limit": 100}).json()["data"]
    renders = [(moment(t["finished_at"]) - moment(t["started_at"])).total_seconds() for t in done]
    render = statistics.median(renders)
    print(f"quiet key waited {waited:.3f} s; one render takes {render:.3f} s (median)")
    assert waited <= render + 0.2, (waited, render)


PRICES_V1 = """
[prices.default]
per_second = 1.0
[prices."wan2.6-t2v"]
480P = 2.0
per_task = 1.0
"""
PRICES_V2 = PRICES_V1.replace("480P = 2.0", "480P = 5.0")


def test_tasks_are_priced_settled_and_keep_the_price_they_were_accepted_at(
    fake: FakeUpstream, gateways: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    first = gateways(config=write_config(tmp_path / "v1.toml", fake, PRICES_V1), run_engine=False)
    key = first.make_key("priced", quota=100)
    with first.client(key) as api:
        old = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        assert api.get("/v1/account").json()["reserved"] == 5.0
    first.stop()
    second = gateways(config=write_config(tmp_path / "v2.toml", fake, PRICES_V2))
    with second.client(key) as api:
        new = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        old_done, new_done = wait_terminal(api, old), wait_terminal(api, new)
        assert old_done["usage"]["duration"] == 2 and old_done["usage"]["cost"] == 5.0
        assert new_done["usage"]["cost"] == 11.0
        account = api.get("/v1/account").json()
        assert account["unit"] == "credits"
        assert (account["used"], account["reserved"], account["balance"]) == (16.0, 0, 84.0)


def test_a_prices_table_naming_an_unknown_model_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path / "bad.toml", None, '[prices."no-such-model"]\nper_second = 1\n')
    with pytest.raises(ConfigError, match=r"prices\.no-such-model"):
        load_providers(path)
    path.write_text('[prices.default]\n"480P" = -1\n')
    with pytest.raises(ConfigError, match=r"prices\.default\.480P"):
        load_providers(path)
