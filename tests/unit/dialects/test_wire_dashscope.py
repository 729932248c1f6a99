"""The DashScope task API's dialect: `{model, input, parameters}` creates and the task query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from vidgate.dialects import dashscope, dashscope_list
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, Usage, VideoRequest

SEED_001_ANSWER: dict[str, Any] = {
    "request_id": "52cade0d-905e-9b7d-a01e-xxxxxx",
    "output": {
        "task_id": "18814247-f944-4102-aa4a-xxxxxx",
        "task_status": "SUCCEEDED",
        "submit_time": "2026-04-02 22:53:19.537",
        "scheduled_time": "2026-04-02 22:53:30.427",
        "end_time": "2026-04-02 23:00:39.287",
        "orig_prompt": "Video 2 holds Image 3 and plays a soothing American country ballad",
        "video_url": "https://dashscope-a717.oss-accelerate.aliyuncs.com/xxx.mp4?xxxx",
    },
    "usage": {
        "duration": 15,
        "input_video_duration": 5,
        "output_video_duration": 10,
        "video_count": 1,
        "SR": 720,
        "ratio": "16:9",
    },
}
USAGE = Usage(
    duration=15,
    input_video_duration=5,
    output_video_duration=10,
    video_count=1,
    SR=720,
    ratio="16:9",
)
WORDS = [
    (Status.QUEUED, "PENDING"),
    (Status.PROCESSING, "RUNNING"),
    (Status.COMPLETED, "SUCCEEDED"),
    (Status.FAILED, "FAILED"),
    (Status.CANCELLED, "CANCELED"),
]


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def cst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """A time in Beijing (China Standard Time), as DashScope writes its times."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(("status", "word"), WORDS)
def test_status_words_both_ways(status: Status, word: str) -> None:
    assert dashscope.STATUS.wire(status) == word
    rendered = dashscope.render_task(Task(task_id="t1", status=status), "r1")
    assert rendered["output"]["task_status"] == word
    parsed = dashscope.parse_task({"output": {"task_id": "t1", "task_status": word}})
    assert parsed.status is status
    assert parsed.raw_status == word


@pytest.mark.parametrize("word", ["UNKNOWN", "SUSPENDED", "succeeded", "CANCELLED", None])
def test_unknown_and_suspended_are_not_terminal(word: str | None) -> None:
    task = dashscope.parse_task({"output": {"task_id": "t1", "task_status": word}})
    assert task.status is Status.PROCESSING
    assert not task.status.terminal
    assert task.error is None
    assert task.raw_status == str(word)


def test_render_unknown_is_what_dashscope_answers_for_an_unknown_id() -> None:
    assert dashscope.render_unknown("t9", "r1") == {
        "request_id": "r1",
        "output": {"task_id": "t9", "task_status": "UNKNOWN"},
    }
    assert dashscope.parse_task(dashscope.render_unknown("t9", "r1")).status is Status.PROCESSING


def test_the_seed_001_answer_parses() -> None:
    task = dashscope.parse_task(SEED_001_ANSWER)
    output = SEED_001_ANSWER["output"]
    assert task.task_id == output["task_id"]
    assert task.status is Status.COMPLETED and task.progress == 100
    assert task.prompt == output["orig_prompt"]
    assert task.created_at == cst(2026, 4, 2, 22, 53, 19, 537_000)
    assert task.started_at == cst(2026, 4, 2, 22, 53, 30, 427_000)
    assert task.finished_at == cst(2026, 4, 2, 23, 0, 39, 287_000)
    assert task.result is not None
    assert task.result.video_url == output["video_url"]
    assert task.result.duration == 10
    assert task.usage == USAGE
    assert task.error is None


def test_render_task_answers_as_seed_001() -> None:
    task = Task(
        task_id="18814247-f944-4102-aa4a-xxxxxx",
        status=Status.COMPLETED,
        prompt=SEED_001_ANSWER["output"]["orig_prompt"],
        created_at=cst(2026, 4, 2, 22, 53, 19, 537_000),
        started_at=cst(2026, 4, 2, 22, 53, 30, 427_000),
        finished_at=cst(2026, 4, 2, 23, 0, 39, 287_000),
        result=Result(video_url=SEED_001_ANSWER["output"]["video_url"]),
        usage=USAGE,
    )
    data = dashscope.render_task(task, SEED_001_ANSWER["request_id"])
    metrics = data["output"].pop("task_metrics")
    assert data == SEED_001_ANSWER
    assert metrics == {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0}
    # Whole seconds are integers, as in the seed, not 15.0.
    assert isinstance(data["usage"]["duration"], int)


def test_render_task_leaves_out_what_has_not_happened() -> None:
    data = dashscope.render_task(Task(task_id="t1", status=Status.QUEUED), "r1")
    assert data == {
        "request_id": "r1",
        "output": {
            "task_id": "t1",
            "task_status": "PENDING",
            "submit_time": None,
            "orig_prompt": "",
            "task_metrics": {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 0},
        },
    }


def test_usage_keeps_fractional_seconds() -> None:
    usage = USAGE.model_copy(update={"output_video_duration": 10.5, "duration": 15.5})
    data = dashscope.render_task(Task(task_id="t1", status=Status.COMPLETED, usage=usage), "r")
    assert data["usage"]["duration"] == 15.5
    assert data["usage"]["output_video_duration"] == 10.5


def test_a_failed_task_shows_its_code_and_message() -> None:
    error = TaskError(
        code="DataInspectionFailed", message="Input data may contain inappropriate content."
    )
    task = Task(task_id="t1", status=Status.FAILED, error=error)
    output = dashscope.render_task(task, "r1")["output"]
    assert (output["code"], output["message"]) == (error.code, error.message)
    assert output["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 1}
    assert dashscope.parse_task({"output": output}).error == error


def test_a_failure_without_a_reason_reads_with_one() -> None:
    failed = dashscope.parse_task({"output": {"task_id": "t1", "task_status": "FAILED"}})
    assert failed.error == TaskError(code="FAILED", message="Task failed.")
    cancelled = dashscope.parse_task({"output": {"task_id": "t1", "task_status": "CANCELED"}})
    assert cancelled.error == TaskError(code="CANCELED", message="Task canceled.")


def test_parse_task_reads_results_when_there_is_no_video_url() -> None:
    task = dashscope.parse_task(
        {
            "output": {
                "task_id": "t1",
                "task_status": "SUCCEEDED",
                "results": [{"url": "https://r/1"}],
            }
        }
    )
    assert task.result is not None and task.result.video_url == "https://r/1"
    assert task.usage is None  # usage is kept only when it is whole


def test_a_partial_usage_is_dropped() -> None:
    answer = {**SEED_001_ANSWER, "usage": {"duration": 15}}
    assert dashscope.parse_task(answer).usage is None


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (at(2025, 9, 29, 14, 18, 52, 331_000), "2025-09-29 22:18:52.331"),
        (at(2025, 9, 29, 14, 18, 52, 331_999), "2025-09-29 22:18:52.331"),
        (at(2025, 9, 29, 20, 18, 52), "2025-09-30 04:18:52.000"),
        (cst(2025, 9, 29, 22, 18, 52, 5_000), "2025-09-29 22:18:52.005"),
    ],
)
def test_times_are_beijing_time_to_the_millisecond(moment: datetime, text: str) -> None:
    assert dashscope.format_time(moment) == text
    assert dashscope.format_time(None) is None
    task = dashscope.parse_task({"output": {"task_status": "RUNNING", "submit_time": text}})
    assert task.created_at == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_render_created() -> None:
    task = Task(task_id="t1", status=Status.QUEUED)
    assert dashscope.render_created(task, "r1") == {
        "request_id": "r1",
        "output": {"task_id": "t1", "task_status": "PENDING"},
    }


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("invalid_request", 500, (400, "InvalidParameter")),
        ("model_not_found", 500, (404, "ModelNotFound")),
        ("invalid_api_key", 500, (401, "InvalidApiKey")),
        ("insufficient_quota", 500, (403, "Arrearage")),
        ("not_found", 500, (404, "NotFound")),
        ("task_not_cancellable", 500, (400, "UnsupportedOperation")),
        ("idempotency_key_reused", 500, (409, "Conflict")),
        ("rate_limited", 500, (429, "Throttling.RateQuota")),
        ("forbidden", 403, (403, "AccessDenied")),
        ("video_not_ready", 409, (409, "Conflict")),
        ("boom", 500, (500, "InternalServerError")),
        ("teapot", 418, (418, "InternalServerError")),
    ],
)
def test_render_error_shape_and_status(code: str, status: int, expected: tuple[int, str]) -> None:
    wire_status, body = dashscope.render_error(code, "Why it failed.", "r1", status)
    assert (wire_status, body["code"]) == expected
    assert body == {"code": expected[1], "message": "Why it failed.", "request_id": "r1"}


def test_create_reads_input_and_parameters() -> None:
    video = dashscope.parse_create(
        {
            "model": "wan2.7-i2v",
            "input": {
                "prompt": "p",
                "img_url": "https://in/a.png",
                "audio_url": "https://in/a.mp3",
            },
            "parameters": {"resolution": "720P", "duration": 5, "prompt_extend": True, "seed": 7},
            "callback_url": "https://hook.example/x",
            "webhook_events": "task.completed,task.failed",
        }
    )
    assert video == VideoRequest(
        model="wan2.7-i2v",
        prompt="p",
        img_url="https://in/a.png",
        resolution="720P",
        duration=5,
        seed=7,
        vace={"prompt_extend": True, "audio_url": "https://in/a.mp3"},
        callback_url="https://hook.example/x",
        webhook_events=["task.completed", "task.failed"],
    )


def test_the_sdk_function_is_not_a_vace_function() -> None:
    video = dashscope.parse_create({"input": {"prompt": "p", "function": "video-synthesis"}})
    assert video.function is None
    video = dashscope.parse_create({"input": {"prompt": "p", "function": "video_edit"}})
    assert video.function == "video_edit"


def test_older_input_names_are_read_as_current_ones() -> None:
    video = dashscope.parse_create(
        {
            "input": {
                "head_frame": "https://in/first.png",
                "tail_frame": "https://in/last.png",
                "reference_urls": ["https://in/r1.mp4"],
                "reference_video_urls": ["https://in/r2.mp4"],
            }
        }
    )
    assert video.first_frame_url == "https://in/first.png"
    assert video.last_frame_url == "https://in/last.png"
    assert video.reference_urls == ["https://in/r1.mp4", "https://in/r2.mp4"]
    # A current name given alongside its old one wins.
    both = dashscope.parse_create({"input": {"head_frame": "old", "first_frame_url": "new"}})
    assert both.first_frame_url == "new"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p"}, "prompt"),
        ({"input": {"colour": "red"}}, "input.colour"),
        ({"input": {}, "parameters": {"colour": "red"}}, "parameters.colour"),
        ({"input": {"prompt": 5}}, "input.prompt"),
        ({"input": {}, "parameters": {"duration": "long"}}, "parameters.duration"),
        ({"model": 5, "input": {}}, "model"),
        ({"input": {"reference_video_urls": "https://in/r.mp4"}}, "input.reference_video_urls"),
    ],
)
def test_create_errors_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        dashscope.parse_create(body)
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}:")


@pytest.mark.parametrize("body", [[], {"input": []}, {"input": {}, "parameters": "x"}])
def test_create_parts_must_be_objects(body: object) -> None:
    with pytest.raises(InvalidRequest, match="must be a JSON object"):
        dashscope.parse_create(body)


def test_build_create_splits_input_and_parameters() -> None:
    video = VideoRequest(
        model="wan2.7-r2v",
        prompt="p",
        reference_urls=["https://in/r.mp4"],
        size="1280*720",
        duration=5,
        vace={"audio_url": "https://in/a.mp3", "watermark": False},
        callback_url="https://hook.example/x",
    )
    path, body = dashscope.build_create(video)
    assert path == dashscope.SYNTHESIS_PATH
    assert body == {
        "model": "wan2.7-r2v",
        "input": {
            "prompt": "p",
            "media": [{"type": "reference_video", "url": "https://in/r.mp4"}],
            "audio_url": "https://in/a.mp3",
        },
        "parameters": {"size": "1280*720", "duration": 5, "watermark": False},
    }
    legacy = video.model_copy(update={"model": "wan2.6-r2v"})
    assert dashscope.build_create(legacy)[1]["input"]["reference_urls"] == ["https://in/r.mp4"]


@pytest.mark.parametrize(
    ("video", "path"),
    [
        (VideoRequest(prompt="p"), dashscope.SYNTHESIS_PATH),
        (VideoRequest(img_url="https://in/a.png"), dashscope.SYNTHESIS_PATH),
        (VideoRequest(first_frame_url="https://in/f.png"), dashscope.I2V_PATH),
        (VideoRequest(mode=Mode.KF2V), dashscope.I2V_PATH),
        (VideoRequest(mode=Mode.I2V, first_frame_url="https://in/f.png"), dashscope.SYNTHESIS_PATH),
        (
            VideoRequest(first_frame_url="https://in/f.png", function="video_extension"),
            dashscope.SYNTHESIS_PATH,
        ),
        (
            VideoRequest(first_frame_url="https://in/f.png", reference_urls=["https://in/r"]),
            dashscope.SYNTHESIS_PATH,
        ),
    ],
)
def test_kf2v_goes_to_image2video(video: VideoRequest, path: str) -> None:
    assert dashscope.create_path(video) == path
    assert dashscope.SYNTHESIS_PATH == "/services/aigc/video-generation/video-synthesis"
    assert dashscope.I2V_PATH == "/services/aigc/image2video/video-synthesis"


def test_task_path() -> None:
    assert dashscope.task_path("t1") == "/tasks/t1"


def test_list_times_and_pages() -> None:
    assert dashscope_list.parse_list_time("20250929141852", "start_time") == cst(
        2025, 9, 29, 14, 18, 52
    )
    with pytest.raises(InvalidRequest) as caught:
        dashscope_list.parse_list_time("2025-09-29", "end_time")
    assert caught.value.param == "end_time"
    task = Task(
        task_id="t1",
        status=Status.CANCELLED,
        model="wan2.7-t2v",
        created_at=at(2024, 6, 21, 20, 0, 0),
        started_at=at(2024, 6, 21, 20, 0, 5),
    )
    page = dashscope_list.render_list(
        [task], total=11, page_no=2, page_size=5, request_id="r1", api_key_id="k1"
    )
    output = dashscope.render_task(task, "r1")["output"]
    assert page.pop("tasks") == [{**output, "model_name": "wan2.7-t2v", "output": output}]
    assert output["submit_time"] == "2024-06-22 04:00:00.000"
    assert page == {
        "request_id": "r1",
        "data": [
            {
                "task_id": "t1",
                "status": "CANCELED",
                "model_name": "wan2.7-t2v",
                "api_key_id": "k1",
                "gmt_create": 1_719_000_000_000,
                "start_time": 1_719_000_005_000,
                "end_time": None,
            }
        ],
        "total": 11,
        "total_page": 3,
        "page_no": 2,
        "page_size": 5,
    }
