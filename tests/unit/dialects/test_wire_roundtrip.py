"""Render then parse is the identity on what each dialect carries, for tasks and create bodies.

Every property goes through real JSON (`json.dumps(..., allow_nan=False)` then `json.loads`), as
the gateway's answers and the SDK's reads do, so a render that is not plain JSON fails too.

What each dialect's task JSON carries (everything else is dropped, and not asserted):

| dialect   | carries                                                                          |
| --------- | -------------------------------------------------------------------------------- |
| native    | the whole canonical task (raw_status aside, which is not part of the wire)       |
| dashscope | task_id, status, prompt, created/started/finished (to the ms), result.video_url, |
|           | error, usage                                                                     |
| kik       | task_id, status, model, created/updated (to the ms), finished (to the ms, only   |
|           | once terminal), result.video_url, error                                          |
| nebula    | task_id, status (cancelled only as failed + code `cancelled`), result.video_url, |
|           | result.format, error (digit-only codes travel as JSON numbers)                   |
| openai    | task_id, status (cancelled as for nebula), progress, model, prompt, duration,    |
|           | size (`*` written as `x`), created (to the s), finished (to the s, only once     |
|           | terminal), result.expires_at (to the s), error; the result URL becomes the       |
|           | video's `/content` route                                                         |
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from vidgate.catalog import MODELS
from vidgate.dialects import dashscope, kik, native, nebula, openai
from vidgate.dialects.dashscope_usage import family_of, render_usage
from vidgate.models import Mode, Result, Status, Task, TaskError, Usage, VideoRequest, detect_mode

FAST = settings(max_examples=100, deadline=None, database=None)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

ZONES = [
    UTC,
    timezone(timedelta(hours=8)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-8)),
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
]
_instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
_whole_ms = _instants.map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
)
moments = st.builds(
    lambda moment, zone: moment.astimezone(zone),
    st.one_of(_instants, _whole_ms),
    st.sampled_from(ZONES),
)
"""Aware times, 2000-2099, in several zones; half of them fall on a whole millisecond."""

LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ids = st.one_of(
    st.uuids().map(str), st.text(LOWER + DIGITS, min_size=6, max_size=24).map("task_{}".format)
)
urls = st.builds(
    "https://{}.example/{}.{}".format,
    st.text(LOWER + DIGITS + "-", min_size=1, max_size=16).map("h{}".format),
    st.text(LOWER + LOWER.upper() + DIGITS + "_/-", min_size=1, max_size=30),
    st.sampled_from(["mp4", "png", "jpg", "webm"]),
)
prompts = st.text(max_size=80)
"""Any unicode (hypothesis leaves surrogates out, as JSON text has none)."""
models = st.one_of(
    st.sampled_from(["wan2.2-t2v-plus", "wan2.7-r2v", "sora-2", "veo3", "wanx2.1-vace-plus"]),
    st.text(LOWER + DIGITS + ".-", max_size=30).map("m{}".format),
)
sizes = st.sampled_from(["1280*720", "720*1280", "832*480", "1920*1080", "720x1280", "1280x720"])
finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
error_codes = st.one_of(
    st.sampled_from(
        [
            "upstream_task_failed",
            "cancelled",
            "InvalidParameter",
            "DataInspectionFailed",
            "Throttling.RateQuota",
            "400",
            "500",
        ]
    ),
    st.text(LOWER + LOWER.upper() + DIGITS + "_.", max_size=30).map("E{}".format),
    st.integers(min_value=1, max_value=999_999).map(str),
)
"""Codes as upstreams spell them: identifiers, and HTTP-style numbers (without leading zeros)."""
task_errors = st.builds(TaskError, code=error_codes, message=st.text(min_size=1, max_size=60))
results = st.builds(
    Result,
    video_url=urls,
    expires_at=st.none() | moments,
    duration=st.none() | finite,
    width=st.none() | st.integers(1, 8192),
    height=st.none() | st.integers(1, 8192),
    fps=st.none() | st.integers(1, 120),
    format=st.sampled_from(["mp4", "webm", "mov"]),
    source_url=st.none() | urls,
)
usages = st.builds(
    Usage,
    duration=finite,
    input_video_duration=finite,
    output_video_duration=finite,
    video_count=st.integers(0, 8),
    SR=st.sampled_from([480, 720, 1080]),
    ratio=st.sampled_from(["16:9", "9:16", "1:1", "4:3"]),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), finite, st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
metadata = st.none() | st.dictionaries(st.text(max_size=10), json_values, max_size=4)


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    """A canonical task as the store would hold it: a result only once completed, an error
    only once failed or cancelled (a cancel's code is usually `cancelled`)."""
    status = draw(st.sampled_from(list(Status)))
    result = draw(st.none() | results) if status is Status.COMPLETED else None
    error: TaskError | None = None
    if status is Status.CANCELLED:
        error = draw(
            st.none()
            | st.just(TaskError(code="cancelled", message="Cancelled by the client."))
            | task_errors
        )
    elif status is Status.FAILED:
        error = draw(st.none() | task_errors)
    return Task(
        task_id=draw(ids),
        status=status,
        progress=draw(st.integers(0, 100)),
        model=draw(st.just("") | models),
        mode=draw(st.none() | st.sampled_from(list(Mode))),
        provider=draw(st.sampled_from(["", "local", "dashscope", "relay"])),
        prompt=draw(prompts),
        duration=draw(st.none() | st.integers(0, 60)),
        size=draw(st.none() | sizes),
        created_at=draw(st.none() | moments),
        updated_at=draw(st.none() | moments),
        started_at=draw(st.none() | moments),
        finished_at=draw(st.none() | moments),
        result=result,
        error=error,
        usage=draw(st.none() | usages),
        callback_url=draw(st.none() | urls),
        metadata=draw(metadata),
    )


def over_json(data: Any) -> Any:
    """What the other side of the wire reads."""
    return json.loads(json.dumps(data, allow_nan=False))


def to_ms(moment: datetime | None) -> datetime | None:
    """The time cut down to the millisecond, in UTC (what an ms wire format can say)."""
    if moment is None:
        return None
    return EPOCH + timedelta(milliseconds=(moment - EPOCH) // timedelta(milliseconds=1))


def to_s(moment: datetime | None) -> datetime | None:
    """The time cut down to the second, in UTC."""
    if moment is None:
        return None
    return EPOCH + timedelta(seconds=(moment - EPOCH) // timedelta(seconds=1))


def failed_or_cancelled(task: Task) -> Status:
    """nebula and openai have no cancelled word: either ending reads by its error code."""
    if task.status not in (Status.FAILED, Status.CANCELLED):
        return task.status
    cancelled = task.error is not None and task.error.code == "cancelled"
    return Status.CANCELLED if cancelled else Status.FAILED


# A time on a whole millisecond that float arithmetic would render one ms early.
MS_EDGE = datetime(2038, 12, 30, 0, 18, 47, 55_000, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------
# Tasks: render, over JSON, parse
# ---------------------------------------------------------------------------------------------


@FAST
@given(tasks())
def test_native_task_round_trip_is_exact(task: Task) -> None:
    """The native wire is the canonical model itself: nothing is dropped."""
    parsed = native.parse_task(over_json(native.render_task(task)))
    assert parsed.model_dump() == task.model_dump()
    assert parsed.raw_status == task.status.value


@FAST
@given(tasks(), st.uuids().map(str))
def test_dashscope_task_round_trip(task: Task, request_id: str) -> None:
    """Dropped by DashScope's task query: progress (reads 100 once SUCCEEDED, else 0), model,
    mode, provider, duration, size, updated_at, callback_url, metadata and every result field
    but video_url (its duration reads as usage.output_video_duration)."""
    wire = over_json(dashscope.render_task(task, request_id))
    assert wire["request_id"] == request_id
    parsed = dashscope.parse_task(wire)
    assert parsed.task_id == task.task_id
    assert parsed.status is task.status
    assert parsed.raw_status == dashscope.STATUS.wire(task.status)
    assert parsed.prompt == task.prompt
    assert parsed.created_at == to_ms(task.created_at)
    assert parsed.started_at == to_ms(task.started_at)
    assert parsed.finished_at == to_ms(task.finished_at)
    if task.usage is None or family_of(task.model) == "full":
        assert parsed.usage == task.usage
    else:
        # Older Wan families bill fewer fields; what they do give comes back as it was.
        assert parsed.usage is not None
        assert render_usage(parsed.usage, task.model, task.size) == render_usage(
            task.usage, task.model, task.size
        )
    assert parsed.progress == (100 if task.status is Status.COMPLETED else 0)
    if task.result is None:
        assert parsed.result is None
    else:
        assert parsed.result is not None
        assert parsed.result.video_url == task.result.video_url
        output_seconds = task.usage.output_video_duration if task.usage is not None else None
        assert parsed.result.duration == output_seconds
    if task.error is not None:
        assert parsed.error == task.error
    elif task.status in (Status.FAILED, Status.CANCELLED):
        # An ending without a reason still reads with one, in DashScope's words.
        word = dashscope.STATUS.wire(task.status)
        assert parsed.error == TaskError(code=word, message=f"Task {word.lower()}.")
    else:
        assert parsed.error is None


@FAST
@given(tasks())
def test_kik_task_round_trip(task: Task) -> None:
    """Dropped by kik: progress (reads 100 once success, else 0), mode, provider, prompt,
    duration, size, started_at, usage, callback_url, metadata and every result field but
    video_url. Its ms times are checked in the next test."""
    wire = over_json(kik.render_task(task))
    parsed = kik.parse_task(wire)
    assert parsed.task_id == task.task_id
    assert parsed.status is task.status
    assert parsed.raw_status == kik.STATUS.wire(task.status)
    assert parsed.model == task.model
    assert parsed.error == task.error
    assert parsed.progress == (100 if task.status is Status.COMPLETED else 0)
    if task.result is None:
        assert parsed.result is None
        assert wire["data"] == []
    else:
        assert parsed.result is not None
        assert parsed.result.video_url == task.result.video_url
    for name in ("created", "updated", "completed"):
        assert wire[name] is None or isinstance(wire[name], int)


@FAST
@given(tasks())
@example(
    Task(
        task_id="t1",
        status=Status.COMPLETED,
        created_at=MS_EDGE,
        updated_at=MS_EDGE,
        finished_at=MS_EDGE,
    )
)
def test_kik_times_round_trip_to_the_millisecond(task: Task) -> None:
    """created, updated and (once terminal) completed are ms since the epoch: each reads back
    as the canonical time cut down to its millisecond."""
    parsed = kik.parse_task(over_json(kik.render_task(task)))
    assert parsed.created_at == to_ms(task.created_at)
    assert parsed.updated_at == to_ms(task.updated_at)
    assert parsed.finished_at == (to_ms(task.finished_at) if task.status.terminal else None)


@FAST
@given(tasks())
def test_nebula_task_round_trip(task: Task) -> None:
    """Dropped by nebula: progress (reads 100 once succeeded, else 0), model, mode, provider,
    prompt, duration, size, every time, usage, callback_url, metadata and every result field
    but video_url and format. Cancelled has no word of its own: it is `failed` with the error
    code `cancelled`, so a cancel with another (or no) code reads back as failed."""
    wire = over_json(nebula.render_task(task))
    parsed = nebula.parse_task(wire)
    assert parsed.task_id == task.task_id
    assert parsed.status is failed_or_cancelled(task)
    assert parsed.raw_status == nebula.STATUS.wire(task.status)
    assert parsed.error == task.error
    assert parsed.progress == (100 if task.status is Status.COMPLETED else 0)
    if task.result is None:
        assert parsed.result is None
        assert wire["format"] == "mp4"
    else:
        assert parsed.result is not None
        assert parsed.result.video_url == task.result.video_url
        assert parsed.result.format == task.result.format


@FAST
@given(tasks())
def test_openai_task_round_trip(task: Task) -> None:
    """Dropped by OpenAI's video object: mode, provider, started_at, updated_at, usage,
    callback_url, metadata and every result field but expires_at; the result's URL reads as
    the video's `/content` route. Cancelled is `failed` with the code `cancelled`, as in nebula.
    Times are unix seconds."""
    wire = over_json(openai.render_task(task))
    parsed = openai.parse_task(wire)
    assert parsed.task_id == task.task_id
    assert parsed.status is failed_or_cancelled(task)
    assert parsed.raw_status == openai.STATUS.wire(task.status)
    assert parsed.progress == task.progress
    assert parsed.model == task.model
    assert parsed.prompt == task.prompt
    assert parsed.duration == task.duration
    assert parsed.size == (task.size.replace("*", "x") if task.size else None)
    assert parsed.created_at == to_s(task.created_at)
    assert parsed.finished_at == (to_s(task.finished_at) if task.status.terminal else None)
    assert parsed.error == task.error
    if task.status is Status.COMPLETED:
        assert parsed.result is not None
        assert parsed.result.video_url == f"/v1/videos/{task.task_id}/content"
        expires = task.result.expires_at if task.result is not None else None
        assert parsed.result.expires_at == to_s(expires)
    else:
        assert parsed.result is None


# ---------------------------------------------------------------------------------------------
# Create requests: build, over JSON, parse
# ---------------------------------------------------------------------------------------------

VACE_FUNCTIONS = [
    "image_reference",
    "video_repainting",
    "video_edit",
    "video_extension",
    "video_outpainting",
]
DASHSCOPE_EXTRAS = sorted(
    (dashscope.INPUT_EXTRAS | dashscope.PARAMETER_EXTRAS) - {"media", "first_clip_url"}
)
"""Extras that travel as they are: `media` and `first_clip_url` are read as canonical inputs."""
NATIVE_EXTRAS = sorted(native.VACE_PARAMETERS)


def vace_dicts(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=4)


@st.composite
def video_requests(draw: st.DrawFn, extras: list[str]) -> VideoRequest:
    """A canonical create request; `extras` are the vace/extra parameter names to draw from."""
    url_lists = st.none() | st.lists(urls, max_size=3)
    return VideoRequest(
        prompt=draw(prompts),
        model=draw(st.none() | models),
        action=draw(st.none() | st.sampled_from(["generate", "extend"])),
        mode=draw(st.none() | st.sampled_from(list(Mode))),
        negative_prompt=draw(st.none() | prompts),
        duration=draw(st.none() | st.integers(1, 30)),
        resolution=draw(st.none() | st.sampled_from(["480P", "720P", "1080P"])),
        size=draw(st.none() | sizes),
        ratio=draw(st.none() | st.sampled_from(["16:9", "9:16", "1:1"])),
        fps=draw(st.none() | st.integers(1, 60)),
        seed=draw(st.none() | st.integers(0, 2**31 - 1)),
        img_url=draw(st.none() | urls),
        first_frame_url=draw(st.none() | urls),
        last_frame_url=draw(st.none() | urls),
        reference_urls=draw(url_lists),
        function=draw(st.none() | st.sampled_from(VACE_FUNCTIONS)),
        video_url=draw(st.none() | urls),
        ref_images_url=draw(url_lists),
        mask_image_url=draw(st.none() | urls),
        mask_video_url=draw(st.none() | urls),
        vace=draw(vace_dicts(extras)),
        callback_url=draw(st.none() | urls),
        webhook_events=draw(
            st.none() | st.lists(st.sampled_from(["task.completed", "task.failed"]), max_size=2)
        ),
        metadata=draw(metadata),
    )


@FAST
@given(video_requests(NATIVE_EXTRAS))
def test_flat_create_round_trip_is_exact(video: VideoRequest) -> None:
    """native, kik and nebula share the flat body: every canonical field survives, and the
    vace parameters travel at the top level."""
    for module in (native, kik, nebula):
        body = over_json(module.build_create(video))
        assert "vace" not in body
        assert set(video.vace) <= set(body)
        assert module.parse_create(body) == video, module.__name__


@FAST
@given(video_requests(DASHSCOPE_EXTRAS))
def test_dashscope_create_round_trip(video: VideoRequest) -> None:
    """Dropped by `{model, input, parameters}`: action, mode (detected again from the inputs),
    callback_url, webhook_events and metadata; everything else, extras included, survives.
    (Wan 2.7 models take their inputs as `media`; test_wire_dashscope covers that protocol.)"""
    assume(MODELS.get(video.model or "") is None or MODELS[video.model or ""].protocol != "media")
    path, body = dashscope.build_create(video)
    assert path == dashscope.create_path(video)
    parsed = dashscope.parse_create(over_json(body))
    expected = video.model_copy(
        update={
            "action": None,
            "mode": None,
            "callback_url": None,
            "webhook_events": None,
            "metadata": None,
        }
    )
    assert parsed == expected
    if video.mode is None:
        assert detect_mode(parsed) is detect_mode(video)
        assert dashscope.create_path(parsed) == path


@FAST
@given(video_requests(DASHSCOPE_EXTRAS))
def test_openai_create_round_trip(video: VideoRequest) -> None:
    """OpenAI's create carries model (default sora-2), prompt, seconds, size (`*` as `x`) and
    the image as input_reference, which makes the request i2v; all else is dropped."""
    parsed = openai.parse_create(over_json(openai.build_create(video)))
    assert parsed.prompt == video.prompt
    assert parsed.model == (video.model or "sora-2")
    assert parsed.duration == video.duration
    assert parsed.size == (video.size.replace("*", "x") if video.size else None)
    assert parsed.img_url == video.img_url
    assert parsed.mode is (Mode.I2V if video.img_url else None)
    rest = set(VideoRequest.model_fields) - {
        "prompt",
        "model",
        "duration",
        "size",
        "img_url",
        "mode",
    }
    assert {name: getattr(parsed, name) for name in rest} == {
        name: getattr(VideoRequest(), name) for name in rest
    }


def unknown_answer(dialect: str, word: str) -> dict[str, Any]:
    """A task answer in the dialect's shape whose status word is `word`."""
    if dialect == "dashscope":
        return {"output": {"task_id": "t1", "task_status": word}}
    if dialect == "kik":
        return {"task_id": "t1", "task_status": word, "data": [], "error": None}
    if dialect == "nebula":
        return {"task_id": "t1", "status": word, "format": "mp4"}
    return {"id": "t1", "object": "video", "status": word, "progress": 3}


POLLED = {"dashscope": dashscope, "kik": kik, "nebula": nebula, "openai": openai}


@pytest.mark.parametrize("dialect", sorted(POLLED))
@FAST
@given(word=st.text(max_size=20))
def test_an_unknown_status_word_parses_as_running(dialect: str, word: str) -> None:
    """Any word a dialect does not know is not terminal: the task keeps being polled."""
    module: Any = POLLED[dialect]
    assume(word not in module.STATUS.from_wire)
    task = module.parse_task(over_json(unknown_answer(dialect, word)))
    assert task.status is Status.PROCESSING
    assert not task.status.terminal
    assert task.result is None and task.error is None
    assert task.raw_status == word
