"""Hostile input on every create route: a 400 (or 403) naming the field, never a 500, and
nothing left behind: no task, no charge, no blob, no scratch file.

Each case was a 500, a charge, an orphan file or a leak before it was fixed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, png_bytes
from vidgate.catalog import Shape
from vidgate.clock import utcnow
from vidgate.errors import public_message
from vidgate.ids import new_task_id
from vidgate.inputs import MAX_PIXELS, MAX_SIDE
from vidgate.models import Mode, Status, TaskError, VideoRequest
from vidgate.providers.local.media_io import load_image
from vidgate.records import NewTask, Transition
from vidgate.service.validation import MAX_METADATA_BYTES, MAX_METADATA_DEPTH
from vidgate.store import open_store

JSON = {"Content-Type": "application/json", "X-DashScope-Async": "enable"}
DASHSCOPE = "/api/v1/services/aigc/video-generation/video-synthesis"
FLAT_ROUTES = {"native": "/v1/tasks", "kik": "/video/v1/tasks", "nebula": "/v1/video/generations"}
ROUTES = {**FLAT_ROUTES, "openai": "/v1/videos", "dashscope": DASHSCOPE}


# -- what a refused request must leave: nothing ---------------------------------------------


def blob_files(gateway: RunningGateway) -> list[Path]:
    """Every file under the blob dir, scratch files included."""
    return sorted(p for p in Path(gateway.settings.blob_dir).rglob("*") if p.is_file())


def assert_nothing_left(gateway: RunningGateway, api: httpx.Client) -> None:
    listed = api.get("/v1/tasks")
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []
    account = api.get("/v1/account").json()
    assert account["reserved"] == 0 and account["used"] == 0
    assert blob_files(gateway) == []


def error_of(dialect: str, response: httpx.Response) -> tuple[str | None, str]:
    """(param, message) of an error in any dialect's shape; kik, nebula and DashScope name
    the field at the head of the message instead of in a `param`."""
    body = response.json()
    error = body if dialect == "dashscope" else body["error"]
    return error.get("param"), error["message"]


def assert_names(dialect: str, response: httpx.Response, field: str | None) -> None:
    assert response.status_code == 400, response.text
    param, message = error_of(dialect, response)
    assert "internal" not in message.lower()
    if field is None:
        assert message.startswith("The request body"), message
    elif dialect in ("native", "openai"):
        assert param == field, response.text
    else:
        assert message.startswith(field), message


# -- media ------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(side: int) -> bytes:
    """A black 1-bit square PNG: `side` 20000 is 48 KB on disk and 400 MP decoded."""
    row = b"\0" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def gif_bomb() -> bytes:
    """29 bytes that declare a 65535x65535 GIF."""
    side = struct.pack("<HH", 65535, 65535)
    return b"GIF89a" + side + b"\0\0\0" + b"\x2c\0\0\0\0" + side + b"\0\x02\x02\x4c\x01\0\x3b"


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


GOOD = png_bytes()
BOMBS = {"png 20000": png_bomb(20000), "png 12000": png_bomb(12000), "gif 65535": gif_bomb()}
BROKEN = {
    "truncated png": GOOD[: len(GOOD) // 2],
    "junk behind a png header": GOOD[:33] + b"junk" * 64,
}


# -- bodies -------------------------------------------------------------------------------


def json_nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def nested(levels: int, inner: str = "1") -> str:
    return '{"a":' * levels + inner + "}" * levels


def flat_bodies() -> list[tuple[str, bytes, str | None]]:
    image = data_url(GOOD)
    return [
        (
            "surrogate metadata value",
            rb'{"prompt":"x","duration":2,"metadata":{"k":"\udc00"}}',
            "metadata.k",
        ),
        (
            "surrogate metadata key",
            rb'{"prompt":"x","duration":2,"metadata":{"\udc00":1}}',
            "metadata",
        ),
        ("surrogate prompt", rb'{"prompt":"x\ud800","duration":2}', "prompt"),
        (
            "surrogate in a list",
            rb'{"prompt":"x","reference_urls":["\udfff"]}',
            "reference_urls[0]",
        ),
        ("integer of 5000 digits", b'{"prompt":"x","duration":' + b"9" * 5000 + b"}", None),
        ("json 1000 deep", b'{"prompt":"x","metadata":' + b"[" * 1000 + b"]" * 1000 + b"}", None),
        ("NaN", b'{"prompt":"x","metadata":{"a":NaN}}', None),
        ("infinity", b'{"prompt":"x","metadata":{"a":1e999}}', None),
        (
            "metadata 300 deep, after an input",
            f'{{"prompt":"x","duration":2,"img_url":"{image}","metadata":{nested(300)}}}'.encode(),
            "metadata",
        ),
        (
            f"metadata {MAX_METADATA_DEPTH + 1} deep",
            json.dumps(
                {"prompt": "x", "img_url": image, "metadata": json_nested(MAX_METADATA_DEPTH + 1)}
            ).encode(),
            "metadata",
        ),
        (
            "metadata over the size limit",
            json.dumps(
                {"prompt": "x", "img_url": image, "metadata": {"a": "x" * MAX_METADATA_BYTES}}
            ).encode(),
            "metadata",
        ),
    ]


DEEP = b"[" * 1000 + b"]" * 1000
BODIES: list[tuple[str, str, bytes, str | None]] = [
    *((d, name, raw, field) for d in FLAT_ROUTES for name, raw, field in flat_bodies()),
    ("openai", "surrogate prompt", rb'{"prompt":"\udc00"}', "prompt"),
    ("openai", "integer of 5000 digits", b'{"prompt":"x","seconds":' + b"9" * 5000 + b"}", None),
    ("openai", "seconds in superscript", '{"prompt":"x","seconds":"\u00b2"}'.encode(), "seconds"),
    (
        "openai",
        "seconds of 5000 digits",
        b'{"prompt":"x","seconds":"' + b"9" * 5000 + b'"}',
        "seconds",
    ),
    ("openai", "json 1000 deep", b'{"prompt":"x","size":' + DEEP + b"}", None),
    ("dashscope", "surrogate prompt", rb'{"input":{"prompt":"\udc00"}}', "input.prompt"),
    (
        "dashscope",
        "integer of 5000 digits",
        b'{"input":{"prompt":"x"},"parameters":{"duration":' + b"9" * 5000 + b"}}",
        None,
    ),
    ("dashscope", "json 1000 deep", b'{"input":{"prompt":"x"},"parameters":' + DEEP + b"}", None),
]


@pytest.mark.parametrize(
    ("dialect", "name", "raw", "field"), BODIES, ids=[f"{b[0]}: {b[1]}" for b in BODIES]
)
def test_unparseable_bodies_are_refused_naming_the_field(
    gateway: RunningGateway, dialect: str, name: str, raw: bytes, field: str | None
) -> None:
    with gateway.client(gateway.make_key(quota=100)) as api:
        response = api.post(ROUTES[dialect], content=raw, headers=JSON)
        assert_names(dialect, response, field)
        assert_nothing_left(gateway, api)


def test_a_lone_surrogate_neither_charges_nor_breaks_later_reads(gateway: RunningGateway) -> None:
    raw = rb'{"prompt":"x","duration":2,"seed":7,"metadata":{"k":"\udc00"}}'
    with gateway.client(gateway.make_key(quota=100)) as api:
        refused = api.post("/v1/tasks", content=raw, headers=JSON)
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "metadata.k"
        assert_nothing_left(gateway, api)
        fine = api.post("/v1/tasks", json={"prompt": "x", "duration": 2, "metadata": {"k": "ü"}})
        assert fine.status_code == 202, fine.text
        assert api.get("/v1/tasks").json()["data"][0]["metadata"] == {"k": "ü"}


def test_metadata_within_the_limits_is_kept(api: httpx.Client) -> None:
    metadata = {"deep": json_nested(MAX_METADATA_DEPTH - 1), "text": "x" * 1000}
    created = api.post("/v1/tasks", json={"prompt": "x", "duration": 2, "metadata": metadata})
    assert created.status_code == 202, created.text
    assert created.json()["metadata"] == metadata


# -- images and videos ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BOMBS))
def test_pixel_bombs_are_refused_from_the_header(gateway: RunningGateway, name: str) -> None:
    raw = BOMBS[name]
    with gateway.client(gateway.make_key(quota=100)) as api:
        as_input = api.post("/v1/tasks", json={"prompt": "x", "img_url": data_url(raw)})
        assert as_input.status_code == 400, as_input.text
        assert as_input.json()["error"]["param"] == "img_url"
        assert f"{MAX_SIDE} pixels a side" in as_input.json()["error"]["message"]
        as_video = api.post(
            "/v1/tasks", json={"prompt": "x", "function": "video_edit", "video_url": data_url(raw)}
        )
        assert as_video.status_code == 400, as_video.text
        assert as_video.json()["error"]["param"] == "video_url"
        upload = api.post("/v1/files", files={"file": ("bomb.png", raw, "image/png")})
        assert upload.status_code == 400, upload.text
        assert upload.json()["error"]["param"] == "file"
        reference = api.post(
            "/v1/videos",
            data={"prompt": "x", "seconds": "4"},
            files={"input_reference": ("bomb.png", raw, "image/png")},
        )
        assert reference.status_code == 400, reference.text
        assert reference.json()["error"]["param"] == "input_reference"
        assert_nothing_left(gateway, api)


@pytest.mark.parametrize("name", list(BROKEN))
def test_files_that_do_not_decode_are_refused(gateway: RunningGateway, name: str) -> None:
    raw = BROKEN[name]
    with gateway.client(gateway.make_key(quota=100)) as api:
        upload = api.post("/v1/files", files={"file": ("a.png", raw, "image/png")})
        assert upload.status_code == 400, upload.text
        assert upload.json()["error"]["param"] == "file"
        for field, extra in [
            ("img_url", {}),
            ("video_url", {"function": "video_edit", "duration": 5}),
            ("reference_urls", {}),
        ]:
            url = data_url(raw)
            value: Any = [url] if field == "reference_urls" else url
            response = api.post("/v1/tasks", json={"prompt": "x", field: value, **extra})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"].startswith(field)
        assert_nothing_left(gateway, api)


def test_an_image_at_the_limit_is_accepted(api: httpx.Client) -> None:
    side = int(MAX_PIXELS**0.5)
    upload = api.post("/v1/files", files={"file": ("big.png", png_bomb(side), "image/png")})
    assert upload.status_code == 201, upload.text
    assert upload.json()["kind"] == "image"


def test_a_refused_multipart_create_keeps_no_upload(gateway: RunningGateway) -> None:
    with gateway.client(gateway.make_key(quota=100)) as api:
        for fields in [{"prompt": "x", "seconds": "99"}, {"prompt": "x", "size": "1x1"}]:
            response = api.post(
                "/v1/videos", data=fields, files={"input_reference": ("a.png", GOOD, "image/png")}
            )
            assert response.status_code == 400, response.text
        poor = api.post(
            "/v1/videos",
            data={"prompt": "x", "seconds": "4"},
            files={"input_reference": ("a.png", GOOD, "image/png")},
            headers={"Authorization": f"Bearer {gateway.make_key(quota=1)}"},
        )
        assert poor.status_code == 402, poor.text
        assert_nothing_left(gateway, api)


def test_an_idempotent_multipart_retry_keeps_no_second_upload(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    for _ in range(2):
        response = api.post(
            "/v1/videos",
            data={"prompt": "x", "seconds": "4"},
            files={"input_reference": ("a.png", GOOD, "image/png")},
            headers={"Idempotency-Key": "once"},
        )
        assert response.status_code == 200, response.text
    assert len(api.get("/v1/videos").json()["data"]) == 1
    uploads = [path for path in blob_files(gateway) if path.name.startswith("file_")]
    assert len(uploads) == 1


def test_the_renderer_refuses_pixel_bombs_without_naming_paths(tmp_path: Path) -> None:
    for name, raw in {**BOMBS, **BROKEN}.items():
        path = tmp_path / "input_x.png"
        path.write_bytes(raw)
        with pytest.raises(ValueError, match="an input image") as caught:
            load_image(path)
        assert str(tmp_path) not in str(caught.value), name


# -- signed media URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "expires=%C2%B2&signature=x",
        "expires=" + "9" * 4400 + "&signature=x",
        "expires=1&signature=%C3%A9",
        "expires=%EF%BC%91&signature=x",
    ],
    ids=["superscript", "4400 digits", "non-ascii signature", "fullwidth digit"],
)
def test_malformed_media_signatures_are_forbidden(gateway: RunningGateway, query: str) -> None:
    response = httpx.get(f"{gateway.url}/v1/media/x.mp4?{query}")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "invalid_signature"


# -- what errors reveal ---------------------------------------------------------------------


LEAKY = (
    "OperationalError: (sqlite3.OperationalError) cannot read image "
    "/srv/vidgate/data/blobs/ab/input_1.png held by worker-0a1b2c3d4e5f\n"
    "[SQL: UPDATE tasks SET status=? WHERE tasks.id = ?]\n[parameters: ('failed', 'x')]\n"
    "(Background on this error at: https://sqlalche.me/e/20/e3q8)"
)


def assert_discreet(message: str) -> None:
    for secret in ("/srv/vidgate", "input_1.png", "worker-0a1b", "UPDATE", "SQL", "parameters"):
        assert secret not in message, message


def test_public_messages_drop_paths_sql_and_worker_ids() -> None:
    assert_discreet(public_message(LEAKY))
    assert public_message("UPDATE tasks SET a=1 WHERE id=2") == "(a database statement)"
    for plain in [
        "duration 16 is not supported by wan2.6-t2v; allowed seconds: 2-15.",
        "See http://127.0.0.1:8000/v1/media/a.mp4?expires=1 or ratio 16:9/4:3.",
    ]:
        assert public_message(plain) == plain


def test_a_task_error_reaches_clients_without_paths_or_sql(gateway: RunningGateway) -> None:
    key = gateway.make_key(quota=100)
    with gateway.client(key) as api:
        owner = api.get("/v1/account").json()["key_id"]
        task_id = asyncio.run(_failed_task(gateway, owner, LEAKY))
        native = api.get(f"/v1/tasks/{task_id}").json()
        assert native["status"] == "failed"
        assert native["error"]["message"].startswith("OperationalError")
        assert_discreet(native["error"]["message"])
        assert_discreet(api.get("/v1/tasks").json()["data"][0]["error"]["message"])
        assert_discreet(api.get(f"/v1/videos/{task_id}").json()["error"]["message"])
        assert_discreet(api.get(f"/api/v1/tasks/{task_id}").json()["output"]["message"])


async def _failed_task(gateway: RunningGateway, owner: str, message: str) -> str:
    """A task, on a provider no engine serves, failed with ``message`` through the store."""
    store = open_store(gateway.settings.database)
    await store.open()
    try:
        request = VideoRequest(prompt="x", model="wan2.6-t2v", mode=Mode.T2V)
        task = NewTask(
            id=new_task_id(),
            owner_id=owner,
            model="wan2.6-t2v",
            mode=Mode.T2V,
            provider="nowhere",
            request=request,
            shape=Shape(width=832, height=480, fps=24, duration=2, resolution="480P", ratio="16:9"),
            seed=7,
            inputs=(),
            reserved_seconds=2.0,
            created_at=utcnow(),
        )
        saved, _ = await store.insert_task(task)
        error = TaskError(code="render_failed", message=message)
        change = Transition(expected=[Status.QUEUED], to=Status.FAILED, error=error)
        assert await store.transition(saved.id, change) is not None
        return saved.id
    finally:
        await store.close()


@pytest.mark.parametrize("cursor", ["\u00b2", "9" * 5000, "-1"])
def test_a_malformed_last_event_id_replays_from_the_start(api: httpx.Client, cursor: str) -> None:
    created = api.post("/v1/tasks", json={"prompt": "x", "duration": 2, "resolution": "480P"})
    task_id = created.json()["task_id"]
    headers = {"Last-Event-ID": cursor.encode("utf-8")}
    with api.stream("GET", f"/v1/tasks/{task_id}/events", headers=headers) as stream:
        assert stream.status_code == 200
        text = "".join(stream.iter_text())
    assert "event: task.queued" in text and "event: task.completed" in text
