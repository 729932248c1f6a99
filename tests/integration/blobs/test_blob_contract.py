"""The blob store contract, on local disk and on a real S3 server (SeaweedFS)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import ValidationError

from conftest import RunningGateway, png_bytes, start_gateway
from vidgate.blobs import BlobStore, BlobsUnavailable, LocalBlobStore, S3BlobStore, open_blobs
from vidgate.settings import Settings

if TYPE_CHECKING:
    from seaweed import S3Server, S3Target

pytest_plugins = ["seaweed"]  # the s3_server and s3_blob_url fixtures

BACKENDS = ["local", "s3"]


def backend_settings(request: pytest.FixtureRequest, backend: str) -> dict[str, Any]:
    """The settings that put blobs on ``backend``: none for local disk, a fresh bucket for S3."""
    if backend == "local":
        return {}
    target: S3Target = request.getfixturevalue("s3_blob_url")
    return dict(target.settings)


@pytest.fixture(params=BACKENDS)
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    settings = Settings(data_dir=tmp_path / "data", **backend_settings(request, request.param))
    yield await open_blobs(settings)


def staged_with(blobs: BlobStore, blob_id: str, data: bytes) -> Path:
    staged = blobs.staging(blob_id, ".bin")
    staged.write_bytes(data)
    return staged


async def test_put_read_exists_size_delete(blobs: BlobStore) -> None:
    await blobs.put_bytes("a.bin", b"hello blob")
    assert await blobs.read_bytes("a.bin") == b"hello blob"
    assert await blobs.exists("a.bin")
    assert await blobs.size("a.bin") == 10
    await blobs.delete("a.bin")
    assert not await blobs.exists("a.bin")
    assert await blobs.size("a.bin") is None
    await blobs.delete("a.bin")  # already gone: fine


async def test_a_missing_blob_reads_as_missing_everywhere(blobs: BlobStore) -> None:
    assert not await blobs.exists("never.bin")
    assert await blobs.stat("never.bin") is None
    with pytest.raises(FileNotFoundError):
        await blobs.read_bytes("never.bin")
    with pytest.raises(FileNotFoundError):
        await blobs.local_copy("never.bin")
    with pytest.raises(FileNotFoundError):
        await blobs.duplicate("never.bin", blobs.staging("copy"))
    with pytest.raises(FileNotFoundError):
        await blobs.open_range("never.bin", 0, 10)


async def test_a_read_begun_before_a_delete_reads_whole(blobs: BlobStore) -> None:
    data = os.urandom(200 * 1024)
    await blobs.put_bytes("doomed.bin", data)
    chunks = await blobs.open_range("doomed.bin", 0, len(data))
    await blobs.delete("doomed.bin")
    assert b"".join([chunk async for chunk in chunks]) == data
    with pytest.raises(FileNotFoundError):
        await blobs.open_range("doomed.bin", 0, len(data))


async def test_ids_that_could_name_other_paths_are_refused(blobs: BlobStore) -> None:
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            await blobs.exists(bad)


async def test_commit_moves_a_large_staged_file_in_whole(blobs: BlobStore) -> None:
    data = os.urandom(9 * 1024 * 1024 + 17)  # past one upload part
    staged = staged_with(blobs, "big", data)
    assert await blobs.commit(staged, "big.mp4") == len(data)
    assert not staged.exists()
    assert await blobs.size("big.mp4") == len(data)
    copy = await blobs.local_copy("big.mp4")
    assert copy.read_bytes() == data
    tail_chunks = await blobs.open_range("big.mp4", len(data) - 100, len(data))
    tail = b"".join([chunk async for chunk in tail_chunks])
    assert tail == data[-100:]


async def test_duplicate_puts_a_copy_at_a_staging_path(blobs: BlobStore) -> None:
    await blobs.put_bytes("source.png", png_bytes())
    staged = blobs.staging("copy", ".png")
    await blobs.duplicate("source.png", staged)
    assert staged.read_bytes() == png_bytes()
    await blobs.commit(staged, "copy.png")
    await blobs.delete("source.png")
    assert await blobs.read_bytes("copy.png") == png_bytes()


async def test_a_local_copy_follows_a_deletion(blobs: BlobStore) -> None:
    await blobs.put_bytes("input.png", png_bytes())
    assert (await blobs.local_copy("input.png")).read_bytes() == png_bytes()
    await blobs.delete("input.png")
    with pytest.raises(FileNotFoundError):
        await blobs.local_copy("input.png")


async def test_the_probe_writes_and_leaves_nothing(blobs: BlobStore, tmp_path: Path) -> None:
    await blobs.probe()
    assert not list(blobs.scratch.iterdir())


async def test_the_backend_follows_the_blob_url(tmp_path: Path, s3_blob_url: S3Target) -> None:
    local = await open_blobs(Settings(data_dir=tmp_path / "a"))
    assert isinstance(local, LocalBlobStore)
    remote = await open_blobs(Settings(data_dir=tmp_path / "b", **s3_blob_url.settings))
    assert isinstance(remote, S3BlobStore)
    assert remote.location == str(s3_blob_url)


async def test_aws_variables_reach_the_store_and_a_missing_bucket_is_made(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = s3_server.target(new_bucket=True)
    for name, value in target.env.items():
        monkeypatch.setenv(name, value)
    first = await open_blobs(Settings(data_dir=tmp_path / "a"))
    await first.put_bytes("shared.bin", b"one bucket")
    again = await open_blobs(Settings(data_dir=tmp_path / "b"))  # the bucket exists now
    assert await again.read_bytes("shared.bin") == b"one bucket"


@pytest.fixture(params=BACKENDS)
def media_gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path / "data", **backend_settings(request, request.param))
    yield running
    running.stop()


def upload(gateway: RunningGateway, data: bytes) -> str:
    with gateway.client(gateway.make_key()) as api:
        response = api.post("/v1/files", files={"file": ("a.png", data, "image/png")})
        assert response.status_code == 201, response.text
        url: str = response.json()["url"]
        return url


def test_media_urls_serve_ranges_and_refuse_bad_signatures(
    media_gateway: RunningGateway,
) -> None:
    data = png_bytes(size=(320, 240))
    url = upload(media_gateway, data)
    with httpx.Client(timeout=30) as client:
        whole = client.get(url)
        assert whole.status_code == 200
        assert whole.content == data
        assert whole.headers["content-type"] == "image/png"
        part = client.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206
        assert part.content == data[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
        suffix = client.get(url, headers={"Range": "bytes=-7"})
        assert (suffix.status_code, suffix.content) == (206, data[-7:])
        same = client.get(url, headers={"Range": "bytes=0-3", "If-Range": whole.headers["etag"]})
        assert (same.status_code, same.content) == (206, data[:4])
        changed = client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"other"'})
        assert (changed.status_code, changed.content) == (200, data)
        head = client.head(url)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(data)
        past = client.get(url, headers={"Range": f"bytes={len(data) + 5}-"})
        assert past.status_code == 416
        tampered = client.get(url.replace("signature=", "signature=x"))
        assert tampered.status_code == 403
        parts = httpx.URL(url)
        name = parts.path.rsplit("/", 1)[1]
        signer = media_gateway.runtime.services.blobs
        expired = signer.sign(name, 60, now=signer.clock() - 3600).url
        assert client.get(expired).status_code == 410
        missing = signer.sign("file_nothing.png", 60).url
        gone = client.get(missing)
        assert gone.status_code == 410
        assert "no longer exists" in gone.json()["error"]["message"]


def test_redirects_go_to_a_short_lived_object_url(tmp_path: Path, s3_blob_url: S3Target) -> None:
    running = start_gateway(tmp_path / "data", media_redirect=True, **s3_blob_url.settings)
    try:
        data = png_bytes(size=(200, 100))
        url = upload(running, data)
        with httpx.Client(timeout=30) as client:
            answer = client.get(url)
            assert answer.status_code == 307
            target = answer.headers["location"]
            assert target.startswith(s3_blob_url.settings["s3_endpoint_url"])
            assert "X-Amz-Expires=300" in target
            assert client.get(target).content == data
            part = client.get(target, headers={"Range": "bytes=0-3"})
            assert (part.status_code, part.content) == (206, data[:4])
            assert client.get(url.replace("signature=", "signature=x")).status_code == 403
    finally:
        running.stop()


async def test_local_copies_from_s3_stay_within_the_cache_size(
    tmp_path: Path, s3_blob_url: S3Target
) -> None:
    settings = Settings(data_dir=tmp_path / "data", blob_cache_bytes=2500, **s3_blob_url.settings)
    blobs = await open_blobs(settings)
    for n in range(5):
        await blobs.put_bytes(f"in{n}.bin", bytes([n]) * 1000)
        assert (await blobs.local_copy(f"in{n}.bin")).read_bytes() == bytes([n]) * 1000
    cached = [p for p in (settings.blob_dir / "cache").rglob("*") if p.is_file()]
    assert 1 <= len(cached) <= 2
    assert (await blobs.local_copy("in0.bin")).read_bytes() == bytes([0]) * 1000


def test_a_blob_url_that_is_not_s3_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, blob_url="gs://bucket/x")
    assert refused.value.errors()[0]["loc"] == ("blob_url",)
    assert "s3://bucket" in str(refused.value)


async def test_an_unreachable_object_store_is_named_at_start(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        blob_url="s3://nowhere/x",
        s3_endpoint_url="http://127.0.0.1:9",
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    with pytest.raises(BlobsUnavailable) as refused:
        await open_blobs(settings)
    assert "VIDGATE_BLOB_URL=s3://nowhere/x" in str(refused.value)
    assert "http://127.0.0.1:9" in str(refused.value)
