"""The URL guard: what it refuses, IPv6 forms that embed an IPv4 address included; offline."""

from __future__ import annotations

import ipaddress

import pytest

from vidgate.netguard import BlockedAddress, GuardedFetcher, check_address, embedded_ipv4

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::7f00:1",
    "::a9fe:a9fe",
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "64:ff9b:1::808:808",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "::ffff:0:7f00:1",
    "::ffff:0:a00:1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


@pytest.mark.parametrize("text", REFUSED)
def test_non_global_addresses_and_their_ipv6_disguises_are_refused(text: str) -> None:
    with pytest.raises(BlockedAddress, match="VIDGATE_ALLOW_NETWORKS"):
        check_address(ipaddress.ip_address(text), [])


@pytest.mark.parametrize("text", ALLOWED)
def test_global_addresses_pass(text: str) -> None:
    check_address(ipaddress.ip_address(text), [])


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("::7f00:1", "127.0.0.1"),
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("2002:7f00:1::", "127.0.0.1"),
        ("::ffff:0:7f00:1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
    ],
)
def test_the_embedded_address_is_found(text: str, inner: str) -> None:
    assert embedded_ipv4(ipaddress.IPv6Address(text)) == [ipaddress.IPv4Address(inner)]


def test_allowed_networks_cover_the_embedded_address() -> None:
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    for text in ["127.0.0.1", "::ffff:127.0.0.1", "::7f00:1", "2002:7f00:1::"]:
        check_address(ipaddress.ip_address(text), loopback)
    with pytest.raises(BlockedAddress):
        check_address(ipaddress.ip_address("::a00:1"), loopback)
    six_to_four = [ipaddress.ip_network("2002::/16")]
    with pytest.raises(BlockedAddress, match=r"IPv4 127\.0\.0\.1"):
        check_address(ipaddress.ip_address("2002:7f00:1::"), six_to_four)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::7f00:1]/hook",
        "http://[64:ff9b::7f00:1]:8080/hook",
        "https://[2002:7f00:1::]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://127.0.0.1/hook",
        "http://[fe80::1]/hook",
    ],
)
async def test_the_fetcher_refuses_literal_urls_before_connecting(url: str) -> None:
    fetcher = GuardedFetcher([], timeout=1)
    try:
        with pytest.raises(BlockedAddress):
            await fetcher.check(url)
        with pytest.raises(BlockedAddress):
            await fetcher.post(url, b"{}", {}, 1)
    finally:
        await fetcher.aclose()
