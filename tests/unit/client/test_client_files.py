"""Local inputs in a request, and a download's bookkeeping (Range, length, retries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.client import IncompleteDownloadError, RetryPolicy
from vidgate.client.download import Transfer, parse_content_range
from vidgate.client.uploads import LocalInput, data_url, local_inputs, local_path, with_urls
from vidgate.errors import InvalidRequest
from vidgate.models import VideoRequest


def test_local_paths_are_told_from_urls(tmp_path: Path) -> None:
    assert local_path("https://x/a.png") is None
    assert local_path("data:image/png;base64,AA==") is None
    assert local_path("oss://bucket/a.png") is None
    assert local_path("file:///tmp/a%20b.png") == Path("/tmp/a b.png")
    assert local_path("~/a.png") == Path.home() / "a.png"


def test_local_inputs_are_found_and_replaced_in_place(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"png")
    request = VideoRequest(
        prompt="p",
        img_url=str(image),
        reference_urls=["https://x/a.png", str(image)],
        vace={"audio_url": str(image)},
    )
    found = local_inputs(request)
    assert [(f.field, f.index) for f in found] == [
        ("img_url", None),
        ("reference_urls", 1),
        ("audio_url", None),
    ]
    replaced = with_urls(request, {f: f"https://up/{f.field}" for f in found})
    assert replaced.img_url == "https://up/img_url"
    assert replaced.reference_urls == ["https://x/a.png", "https://up/reference_urls"]
    assert replaced.vace == {"audio_url": "https://up/audio_url"}
    with pytest.raises(InvalidRequest, match="img_url: no such file"):
        local_inputs(VideoRequest(img_url=str(tmp_path / "missing.png")))
    assert data_url(image, b"\x89P") == "data:image/png;base64,iVA="
    assert LocalInput("img_url", None, image) in found


def test_content_range_parsing() -> None:
    assert parse_content_range("bytes 100-199/1000") == (100, 1000)
    assert parse_content_range("bytes 0-9/*") == (0, None)
    assert parse_content_range("items 1-2/3") is None


def test_a_transfer_resumes_where_it_stopped_and_checks_the_length() -> None:
    transfer = Transfer("http://h/v.mp4", Path("v.mp4"))
    assert transfer.headers() == {"Accept-Encoding": "identity"}
    assert transfer.begin(200, {"content-length": "1000"}) is True
    transfer.add(400)
    assert not transfer.complete
    assert transfer.broken(RetryPolicy(max_retries=1), OSError("reset")) >= 0
    assert transfer.headers()["Range"] == "bytes=400-"
    assert transfer.begin(206, {"content-range": "bytes 400-999/1000"}) is False
    transfer.add(600)
    assert transfer.complete
    with pytest.raises(IncompleteDownloadError, match="more than"):
        transfer.add(1)


def test_a_transfer_restarts_on_200_and_refuses_a_wrong_range() -> None:
    transfer = Transfer("http://h/v.mp4", Path("v.mp4"), received=400)
    assert transfer.begin(200, {"content-length": "1000"}) is True
    assert transfer.received == 0
    transfer.received = 400
    with pytest.raises(IncompleteDownloadError, match="wrong place"):
        transfer.begin(206, {"content-range": "bytes 0-999/1000"})


def test_a_transfer_gives_up_after_retries_without_progress() -> None:
    transfer = Transfer("http://h/v.mp4", Path("v.mp4"), total=10)
    policy = RetryPolicy(max_retries=2)
    transfer.broken(policy, OSError("a"))
    transfer.broken(policy, OSError("b"))
    with pytest.raises(IncompleteDownloadError, match="broke off at byte 0 of 10"):
        transfer.broken(policy, OSError("c"))
