"""For a task's owner only: redelivering a webhook that gave up, and reading the request the
task was accepted with (what the console's task page shows)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import RunningGateway, wait_terminal
from receiver import Receiver, start_receiver

SMALL = {"prompt": "hook", "duration": 2, "resolution": "480P"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.close()


def log_when(
    api: httpx.Client, task_id: str, status: str, timeout: float = 15
) -> list[dict[str, Any]]:
    """The task's delivery log once every delivery has ``status``."""
    deadline = time.monotonic() + timeout
    while True:
        log: list[dict[str, Any]] = api.get(f"/v1/tasks/{task_id}/deliveries").json()["data"]
        if log and all(d["status"] == status for d in log):
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries never all {status}: {log}")
        time.sleep(0.05)


def test_owner_redelivers_a_failed_delivery_and_others_get_404(
    gateway_factory: Any, receiver: Receiver
) -> None:
    gateway: RunningGateway = gateway_factory(webhook_retry_base=0.1, webhook_retry_window=0.5)
    receiver.down = True
    with (
        gateway.client(gateway.make_key("owner")) as api,
        gateway.client(gateway.make_key("other")) as other,
    ):
        task_id = api.post("/v1/tasks", json={**SMALL, "callback_url": receiver.url}).json()[
            "task_id"
        ]
        wait_terminal(api, task_id)
        [failed] = log_when(api, task_id, "failed")
        assert failed["attempts"] and all(a["status_code"] == 503 for a in failed["attempts"])
        path = f"/v1/tasks/{task_id}/deliveries/{failed['id']}/redeliver"

        refused = other.post(path)
        assert refused.status_code == 404
        assert refused.json()["error"]["param"] == "task_id"
        unknown = api.post(f"/v1/tasks/{task_id}/deliveries/msg_nope/redeliver")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["param"] == "delivery_id"
        assert receiver.received == []

        receiver.down = False
        queued = api.post(path)
        assert queued.status_code == 202
        assert queued.json()["id"] == failed["id"]
        assert queued.json()["status"] == "pending"
        [got] = receiver.wait_for(1)
        assert got.headers["webhook-id"] == failed["id"]
        [delivered] = log_when(api, task_id, "delivered")
        assert delivered["attempts"][: len(failed["attempts"])] == failed["attempts"]
        assert delivered["attempts"][-1]["status_code"] == 204


def test_request_shows_parameters_and_stored_inputs_to_its_owner_only(
    gateway: RunningGateway,
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 90)).save(picture, "PNG")
    with (
        gateway.client(gateway.make_key("owner")) as api,
        gateway.client(gateway.make_key("other")) as other,
    ):
        upload = api.post("/v1/files", files={"file": ("a.png", picture.getvalue())}).json()
        body = {**SMALL, "img_url": upload["url"], "seed": 9, "metadata": {"run": 1}}
        task_id = api.post("/v1/tasks", json=body).json()["task_id"]

        accepted = api.get(f"/v1/tasks/{task_id}/request")
        assert accepted.status_code == 200
        shown = accepted.json()
        assert shown["mode"] == "i2v"
        assert shown["seed"] == 9
        assert shown["parameters"]["prompt"] == "hook"
        assert shown["parameters"]["metadata"] == {"run": 1}
        assert "img_url" not in shown["parameters"]
        [image] = shown["inputs"]
        assert image["field"] == "img_url"
        assert image["kind"] == "image"
        assert image["url"] != upload["url"]
        fetched = httpx.get(image["url"])
        assert fetched.status_code == 200
        assert Image.open(io.BytesIO(fetched.content)).size == (64, 48)

        refused = other.get(f"/v1/tasks/{task_id}/request")
        assert refused.status_code == 404
        assert refused.json()["error"]["param"] == "task_id"
