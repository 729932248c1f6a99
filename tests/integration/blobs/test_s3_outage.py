"""An object store that goes away: uploads answer 503 with Retry-After, /readyz says why,
and nothing is left behind; it all works again once the store is back."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import png_bytes, start_gateway

if TYPE_CHECKING:
    from seaweed import S3Target

pytest_plugins = ["seaweed"]  # the s3_server and s3_blob_url fixtures


class Relay(socketserver.ThreadingTCPServer):
    """A TCP relay to the object store that can be cut and restored."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _Pipe)
        self.upstream = upstream
        self.cut = threading.Event()
        self.open: set[socket.socket] = set()

    def sever(self) -> None:
        """Refuse new connections and drop the open ones (kept alive by the client's pool)."""
        self.cut.set()
        for sock in list(self.open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        relay = self.server
        assert isinstance(relay, Relay)
        if relay.cut.is_set():
            return
        with socket.create_connection(relay.upstream) as upstream:
            relay.open.update((upstream, self.request))

            def pump(source: socket.socket, sink: socket.socket) -> None:
                try:
                    while data := source.recv(65536):
                        sink.sendall(data)
                except OSError:
                    pass
                finally:
                    sink.close()

            back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
            back.start()
            pump(self.request, upstream)
            back.join(timeout=30)
            relay.open.difference_update((upstream, self.request))


@pytest.fixture
def relay(s3_blob_url: S3Target) -> Iterator[Relay]:
    host, port = s3_blob_url.settings["s3_endpoint_url"].removeprefix("http://").split(":")
    server = Relay((host, int(port)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_unreachable_object_store_answers_503_and_leaves_nothing(
    tmp_path: Path, s3_blob_url: S3Target, relay: Relay
) -> None:
    settings = {**s3_blob_url.settings, "s3_endpoint_url": relay.url}
    gateway = start_gateway(tmp_path / "data", **settings)
    try:
        with gateway.client(gateway.make_key()) as api:
            files = {"file": ("a.png", png_bytes(), "image/png")}
            assert api.post("/v1/files", files=files).status_code == 201
            relay.sever()
            refused = api.post("/v1/files", files=files)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "5"
            assert "blob store is unavailable" in refused.json()["error"]["message"]
            ready = api.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["blobs"].startswith("unavailable")
            assert not list((gateway.settings.blob_dir / "tmp").iterdir())
            relay.cut.clear()
            assert api.post("/v1/files", files=files).status_code == 201
            assert api.get("/readyz").status_code == 200
    finally:
        gateway.stop()
