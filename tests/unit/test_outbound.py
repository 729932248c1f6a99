"""The calling side of each dialect, which the SDK and the upstream providers both speak."""

from __future__ import annotations

import pytest

from vidgate.catalog import MODELS, Shape, resolve_shape
from vidgate.client.profiles import PROFILES
from vidgate.dialects import dashscope_outbound, kik, native, nebula, openai
from vidgate.dialects.outbound import Outbound
from vidgate.models import Mode, Status, Task, VideoRequest
from vidgate.providers.registry import dialect_of
from vidgate.settings import ProviderConfig

VEO = Shape(width=1280, height=720, fps=24, duration=8, resolution="720P", ratio="16:9")
DIALECTS: dict[str, Outbound] = {
    "native": native.OUTBOUND,
    "dashscope": dashscope_outbound.OUTBOUND,
    "kik": kik.OUTBOUND,
    "nebula": nebula.OUTBOUND,
    "openai": openai.OUTBOUND,
}


def shape_of(
    model: str,
    *,
    duration: int | None = None,
    resolution: str | None = None,
    ratio: str | None = None,
) -> Shape:
    return resolve_shape(
        MODELS[model], duration=duration, resolution=resolution, size=None, ratio=ratio, fps=None
    )


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_the_sdk_and_the_providers_speak_through_the_same_dialect(name: str) -> None:
    provider = {"native": "vidgate"}.get(name, name)
    assert PROFILES[provider].dialect is DIALECTS[name]
    kind = name if name in ("dashscope", "openai") else "relay"
    relay = {"dialect": name} if kind == "relay" else {}
    config = ProviderConfig.model_validate({"kind": kind, "base_url": "http://up", **relay})
    assert dialect_of(config) is DIALECTS[name]


@pytest.mark.parametrize(
    ("outbound", "path"),
    [
        (native.OUTBOUND, native.CREATE_PATH),
        (kik.OUTBOUND, kik.CREATE_PATH),
        (nebula.OUTBOUND, nebula.CREATE_PATH),
    ],
)
def test_flat_relays_get_the_resolved_duration_size_and_fps(outbound: Outbound, path: str) -> None:
    request = VideoRequest(prompt="p", model="veo3", ratio="16:9", resolution="720P")
    call = outbound.create(request, VEO)
    assert (call.method, call.path) == ("POST", path)
    assert {k: call.json.get(k) for k in ("duration", "size", "fps")} == {
        "duration": 8,
        "size": "1280*720",
        "fps": 24,
    }
    assert "resolution" not in call.json and "ratio" not in call.json
    assert outbound.create(request).json == native.build_create(request)


def test_sora_sizes_keep_their_own_spelling_on_a_flat_relay() -> None:
    shape = shape_of("sora-2", ratio="16:9")
    body = native.OUTBOUND.create(VideoRequest(prompt="p", model="sora-2"), shape).json
    assert (body["size"], body["duration"]) == ("1280x720", 4)


def test_openai_gets_seconds_and_a_wxh_size() -> None:
    call = openai.OUTBOUND.create(VideoRequest(prompt="p", model="veo3"), VEO)
    assert call.json == {"prompt": "p", "model": "veo3", "seconds": "8", "size": "1280x720"}
    unshaped = openai.OUTBOUND.create(VideoRequest(prompt="p", duration=4, size="720*1280"))
    assert unshaped.json == {"prompt": "p", "seconds": "4", "size": "720x1280"}


@pytest.mark.parametrize(
    ("request_fields", "shape", "expected", "path"),
    [
        (
            {"model": "wan2.6-t2v", "mode": Mode.T2V, "ratio": "16:9"},
            shape_of("wan2.6-t2v", duration=10, resolution="1080P"),
            {"size": "1920*1080", "duration": 10},
            dashscope_outbound.dashscope.SYNTHESIS_PATH,
        ),
        (
            {"model": "wan2.6-i2v-flash", "mode": Mode.I2V, "img_url": "https://x/a.png"},
            shape_of("wan2.6-i2v-flash", resolution="480P"),
            {"resolution": "480P", "duration": 5},
            dashscope_outbound.dashscope.SYNTHESIS_PATH,
        ),
        (
            {"model": "wan2.2-kf2v-flash", "first_frame_url": "https://x/a.png", "fps": 30},
            shape_of("wan2.2-kf2v-flash"),
            {"resolution": "720P"},
            dashscope_outbound.dashscope.I2V_PATH,
        ),
    ],
    ids=["t2v-size", "i2v-resolution", "kf2v-fixed-duration"],
)
def test_dashscope_spells_the_shape_as_each_wan_model_takes_it(
    request_fields: dict[str, object], shape: Shape, expected: dict[str, object], path: str
) -> None:
    request = VideoRequest.model_validate({"prompt": "p", **request_fields})
    call = dashscope_outbound.OUTBOUND.create(request, shape)
    assert call.path == path
    assert call.headers == {"X-DashScope-Async": "enable"}
    assert call.json["parameters"] == expected


@pytest.mark.parametrize(
    ("name", "answer", "task_id"),
    [
        ("native", {"task_id": "t1", "status": "queued"}, "t1"),
        ("kik", {"task_id": "k1"}, "k1"),
        ("nebula", {"task_id": "n1", "status": "queued", "format": "mp4"}, "n1"),
        ("openai", {"id": "video_1", "status": "queued"}, "video_1"),
        ("dashscope", {"output": {"task_id": "d1", "task_status": "PENDING"}}, "d1"),
        ("dashscope", {"output": {}}, None),
        ("openai", ["not", "a", "video"], None),
    ],
)
def test_the_id_of_a_created_task(name: str, answer: object, task_id: str | None) -> None:
    outbound = DIALECTS[name]
    assert outbound.submitted_id(answer) == task_id
    if task_id is not None:
        task = outbound.created(answer, VideoRequest(prompt="p", model="m"))
        assert task.task_id == task_id and task.status is Status.QUEUED


def test_which_dialects_cancel_delete_and_download() -> None:
    cancels = {name: d.cancel("x") for name, d in DIALECTS.items()}
    assert {name for name, call in cancels.items() if call is not None} == {
        "native",
        "dashscope",
        "kik",
    }
    assert cancels["kik"] is not None and cancels["kik"].path == "/video/v1/tasks/x/cancel"
    assert cancels["dashscope"] is not None and cancels["dashscope"].path == "/tasks/x/cancel"
    deleted = openai.OUTBOUND.delete("v")
    assert deleted is not None and (deleted.method, deleted.path) == ("DELETE", "/v1/videos/v")
    contents = {name: d.content("x") for name, d in DIALECTS.items()}
    assert {name: c.path for name, c in contents.items() if c is not None} == {
        "nebula": "/v1/video/generations/x/content",
        "openai": "/v1/videos/x/content",
    }
    assert openai.OUTBOUND.base_path == "/v1"


def test_every_dialect_reads_every_error_shape() -> None:
    bodies = [
        {"error": {"code": "not_found", "message": "No task."}},
        {"code": "InvalidApiKey", "message": "No API-key provided.", "request_id": "r1"},
    ]
    for outbound in DIALECTS.values():
        assert [outbound.error(body)[:2] for body in bodies] == [
            ("not_found", "No task."),
            ("InvalidApiKey", "No API-key provided."),
        ]


@pytest.mark.parametrize("page_no", [1, 2, 3])
def test_a_dashscope_listing_page_reads_as_its_unfinished_ids(page_no: int) -> None:
    from vidgate.dialects.dashscope_list import render_list
    from vidgate.dialects.outbound import Outbound as Generic

    statuses = [Status.QUEUED, Status.PROCESSING, Status.COMPLETED, Status.FAILED]
    tasks = [
        Task(task_id=f"t-{i}", status=status, model="wan2.6-t2v")
        for i, status in enumerate(statuses)
    ]
    page = render_list(
        tasks, total=25, page_no=page_no, page_size=10, request_id="r", api_key_id="k"
    )
    page["data"].append({"task_id": "t-new", "status": "SUSPENDED"})
    dialect = dashscope_outbound.OUTBOUND
    fast = dialect.running_page(page, Status.PROCESSING)
    assert fast.ids == ["t-0", "t-1", "t-new"]
    assert fast.next_after == (None if page_no == 3 else str(page_no + 1))
    assert fast == Generic.running_page(dialect, page, Status.PROCESSING)
    with pytest.raises(ValueError):
        dialect.running_page({"code": "Throttling"}, Status.PROCESSING)
