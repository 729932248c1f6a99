"""The client's view of each dialect: calls, answers as Tasks, errors, unknown statuses."""

from __future__ import annotations

import pytest

from vidgate.client import (
    APIStatusError,
    Client,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from vidgate.client.dialects import DIALECTS
from vidgate.client.errors import error_fields, status_error
from vidgate.models import Mode, Status, VideoRequest

UNKNOWN = {
    "dashscope": {"output": {"task_id": "t1", "task_status": "SUSPENDED"}},
    "kik": {"task_id": "t1", "task_status": "paused", "data": [], "error": None},
    "nebula": {"task_id": "t1", "status": "throttled", "format": "mp4"},
    "openai": {"id": "t1", "object": "video", "status": "moderating", "progress": 5},
    "vidgate": {"task_id": "t1", "status": "processing", "progress": 5},
}


def client(provider: str) -> Client:
    return Client("http://relay.test", "sk-test", provider=provider, environ={})


@pytest.mark.parametrize("provider", sorted(UNKNOWN))
def test_an_unknown_status_is_running_not_terminal_and_keeps_its_word(provider: str) -> None:
    with client(provider) as sdk:
        task = sdk.parse_task(UNKNOWN[provider])
    assert task.status is Status.PROCESSING
    assert not task.status.terminal and task.error is None
    assert task.raw_status == {"vidgate": "processing"}.get(provider, task.raw_status)
    assert task.raw_status not in (None, "None")


def test_dashscope_requests_name_the_default_model_of_their_mode() -> None:
    with client("dashscope") as sdk:
        video = sdk.prepare({"prompt": "spin", "first_frame_url": "https://x/a.png"})
    assert video.model == "wan2.2-kf2v-flash"


def test_dashscope_nested_bodies_are_accepted_as_they_are() -> None:
    with client("dashscope") as sdk:
        video = sdk.prepare(
            {"model": "wan2.6-t2v", "input": {"prompt": "p"}, "parameters": {"duration": 5}}
        )
    assert (video.model, video.prompt, video.duration) == ("wan2.6-t2v", "p", 5)


def test_a_relay_create_answer_with_only_an_id_is_a_queued_task() -> None:
    video = VideoRequest(prompt="p", model="wan2.1-t2v-turbo")
    task = DIALECTS["kik"].created({"task_id": "abc"}, video)
    assert (task.task_id, task.status, task.model) == ("abc", Status.QUEUED, "wan2.1-t2v-turbo")
    assert DIALECTS["kik"].word(task) == "pending"


def test_relative_result_urls_become_absolute_on_the_base() -> None:
    with client("openai") as sdk:
        task = sdk.parse_task({"id": "v1", "status": "completed", "progress": 100})
    assert task.result is not None
    assert task.result.video_url == "http://relay.test/v1/videos/v1/content"


def test_nebula_results_without_a_url_come_from_the_content_call() -> None:
    with client("nebula") as sdk:
        task = sdk.parse_task({"task_id": "n1", "status": "succeeded", "format": "mp4"})
    assert task.result is not None
    assert task.result.video_url == "http://relay.test/v1/video/generations/n1/content"


def test_the_sdk_fills_the_default_model_only_where_the_server_does_not() -> None:
    with client("vidgate") as sdk:
        assert sdk.prepare({"prompt": "p"}).model is None
    with client("kik") as sdk:
        assert (
            sdk.prepare({"prompt": "p", "img_url": "https://x/a.png"}).model == "wan2.6-i2v-flash"
        )
    with client("nebula") as sdk:
        assert sdk.prepare({"prompt": "p"}, {"mode": "vace"}).mode is Mode.VACE


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"error": {"code": "not_found", "message": "No task."}}, ("not_found", "No task.", None)),
        (
            {"code": "InvalidApiKey", "message": "No API-key provided.", "request_id": "r1"},
            ("InvalidApiKey", "No API-key provided.", "r1"),
        ),
        (
            {"error": {"message": "Bad", "type": "invalid_request_error", "code": None}},
            ("invalid_request_error", "Bad", None),
        ),
        ({"error": {"code": 400, "message": "Prompt blocked"}}, ("400", "Prompt blocked", None)),
        ("not json", (None, None, None)),
    ],
)
def test_error_bodies_of_every_dialect(body: object, fields: tuple[object, ...]) -> None:
    assert error_fields(body) == fields


def test_statuses_map_to_typed_errors_with_the_request_id() -> None:
    error = status_error(404, {"error": {"code": "not_found", "message": "gone"}}, request_id="x")
    assert isinstance(error, NotFoundError)
    assert (error.status_code, error.code, error.message, error.request_id) == (
        404,
        "not_found",
        "gone",
        "x",
    )
    assert isinstance(status_error(429, None), RateLimitError)
    assert isinstance(status_error(502, None, text="Bad gateway"), InternalServerError)
    assert type(status_error(402, None)) is APIStatusError
