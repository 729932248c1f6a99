"""Bad requests get a 4xx JSON error naming the field, and leave no task or charge behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, free_port, png_bytes


@pytest.fixture
def image_server() -> Iterator[str]:
    """A loopback web server with a small PNG, a huge body and a 404."""
    image = png_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/red.png":
                self.send_response(200)
                self.send_header("Content-Length", str(len(image)))
                self.end_headers()
                self.wfile.write(image)
            elif self.path == "/huge.png":
                self.send_response(200)
                self.send_header("Content-Length", str(10 * 1024 * 1024))
                self.end_headers()
                self.wfile.write(b"\0" * 1024)
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/red.png")
                self.end_headers()
            elif self.path == "/notes.txt":
                body = b"not an image"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("unknown model", {"prompt": "x", "model": "wan9-t2v"}, 400, "model"),
    ("duration too long", {"prompt": "x", "duration": 16}, 400, "duration"),
    ("duration too short", {"prompt": "x", "duration": 1}, 400, "duration"),
    (
        "fixed duration",
        {"prompt": "x", "model": "wan2.1-t2v-turbo", "duration": 8},
        400,
        "duration",
    ),
    ("bad size", {"prompt": "x", "size": "1000*1000"}, 400, "size"),
    ("bad resolution", {"prompt": "x", "resolution": "4K"}, 400, "resolution"),
    ("bad ratio", {"prompt": "x", "ratio": "21:9"}, 400, "ratio"),
    ("ratio not at 480P", {"prompt": "x", "resolution": "480P", "ratio": "4:3"}, 400, "ratio"),
    ("i2v without image", {"prompt": "x", "mode": "i2v"}, 400, "img_url"),
    ("kf2v without first frame", {"prompt": "x", "mode": "kf2v"}, 400, "first_frame_url"),
    ("vace without function", {"prompt": "x", "mode": "vace"}, 400, "function"),
    ("vace without video", {"prompt": "x", "function": "video_edit"}, 400, "video_url"),
    ("wrong type", {"prompt": "x", "duration": "five"}, 400, "duration"),
    ("unknown field", {"prompt": "x", "colour": "red"}, 400, "colour"),
    ("empty prompt", {"prompt": " "}, 400, "prompt"),
    ("bad seed", {"prompt": "x", "seed": -1}, 400, "seed"),
    (
        "model without mode",
        {"prompt": "x", "model": "wan2.6-t2v", "img_url": "data:,"},
        400,
        "mode",
    ),
    ("bad callback", {"prompt": "x", "callback_url": "ftp://x"}, 400, "callback_url"),
    ("non-URL image", {"prompt": "x", "img_url": "/etc/passwd"}, 400, "img_url"),
    ("bad data URL", {"prompt": "x", "img_url": "data:image/png;base64,@@@"}, 400, "img_url"),
]


def assert_nothing_left(api: httpx.Client) -> None:
    assert api.get("/v1/tasks").json()["data"] == []
    account = api.get("/v1/account").json()
    assert account["reserved"] == 0 and account["used"] == 0


@pytest.mark.parametrize(("name", "body", "status", "param"), CASES, ids=[c[0] for c in CASES])
def test_invalid_request_names_the_field(
    gateway: RunningGateway, name: str, body: dict[str, Any], status: int, param: str | None
) -> None:
    with gateway.client(gateway.make_key(quota=100)) as api:
        response = api.post("/v1/tasks", json=body)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["param"] == param
        assert error["message"]
        assert_nothing_left(api)


def test_malformed_and_oversized_bodies(gateway_factory: Any) -> None:
    gateway = gateway_factory(max_body_bytes=2048)
    with gateway.client(gateway.make_key()) as api:
        for raw in [b"{not json", b"", b"[1, 2]", b'"text"']:
            response = api.post(
                "/v1/tasks", content=raw, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, raw
            assert response.json()["error"]["code"] == "invalid_request"
        big = api.post("/v1/tasks", json={"prompt": "x" * 5000})
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "payload_too_large"
        assert api.get("/v1/tasks/no-such-task").status_code == 404
        assert api.get("/v1/tasks/no-such-task").json()["error"]["param"] == "task_id"
        assert api.post("/v1/tasks/no-such-task/cancel").status_code == 404
        assert api.get("/v1/tasks/x", params={"wait": 500}).status_code == 400
        assert_nothing_left(api)


def test_input_urls_are_fetched_checked_and_limited(
    gateway_factory: Any, image_server: str
) -> None:
    gateway = gateway_factory(max_input_bytes=64 * 1024)
    closed = f"http://127.0.0.1:{free_port()}/x.png"
    with gateway.client(gateway.make_key(quota=100)) as api:
        for url, code in [
            (closed, "input_unreachable"),
            (f"{image_server}/missing.png", "input_unreachable"),
            (f"{image_server}/huge.png", "input_too_large"),
            (f"{image_server}/notes.txt", "invalid_request"),
        ]:
            response = api.post("/v1/tasks", json={"prompt": "x", "img_url": url})
            assert response.status_code == 400, url
            assert response.json()["error"] == {
                **response.json()["error"],
                "param": "img_url",
                "code": code,
            }
        assert_nothing_left(api)
        ok = api.post(
            "/v1/tasks",
            json={
                "prompt": "x",
                "img_url": f"{image_server}/redirect",
                "duration": 2,
                "resolution": "480P",
            },
        )
        assert ok.status_code == 202, ok.text
        assert ok.json()["mode"] == "i2v"


def test_private_addresses_are_refused_unless_allowed(
    gateway_factory: Any, image_server: str
) -> None:
    gateway = gateway_factory(allow_networks="")
    with gateway.client(gateway.make_key()) as api:
        for url in [
            f"{image_server}/red.png",
            "http://localhost:9/red.png",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/x.png",
            "http://10.0.0.1/x.png",
        ]:
            response = api.post("/v1/tasks", json={"prompt": "x", "img_url": url})
            assert response.status_code == 400, url
            assert response.json()["error"]["param"] == "img_url"
            assert "VIDGATE_ALLOW_NETWORKS" in response.json()["error"]["message"]
        assert_nothing_left(api)


def test_uploads_must_be_media(api: httpx.Client) -> None:
    bad = api.post("/v1/files", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "file"
    missing = api.post("/v1/files", data={"other": "x"})
    assert missing.status_code == 400
    good = api.post("/v1/files", files={"file": ("red.png", png_bytes(), "image/png")})
    assert good.status_code == 201
    assert httpx.get(good.json()["url"]).content == png_bytes()
