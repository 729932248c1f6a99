"""Range headers and signed result links, without a server."""

from __future__ import annotations

import pytest

from vidgate.testing.results import byte_range, check_link, result_url, sign


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-5", (95, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=100-", False),
        ("bytes=-0", False),
        ("bytes=5-1", None),
        ("bytes=0-1,3-4", None),
        ("items=0-1", None),
        ("bytes=x-y", None),
    ],
)
def test_byte_ranges(header: str | None, expected: object) -> None:
    assert byte_range(header, 100) == expected


def test_links_check_signature_then_expiry() -> None:
    secret = b"s" * 16
    url = result_url("http://fake/", secret, "task", 2000)
    assert url.startswith("http://fake/results/task.mp4?Expires=2000&OSSAccessKeyId=")
    good = sign(secret, "task", 2000)
    assert f"Signature={good}" in url
    assert check_link(secret, "task", "2000", good, now=1999) is None
    assert check_link(secret, "task", "2000", good, now=2001) == (
        "AccessDenied",
        "Request has expired.",
    )
    forged = check_link(secret, "other", "2000", good, now=0)
    unsigned = check_link(secret, "task", None, good, now=0)
    assert forged is not None and forged[0] == "SignatureDoesNotMatch"
    assert unsigned is not None and unsigned[0] == "AccessDenied"
