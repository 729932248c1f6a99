"""Outbound requests that cannot be steered at private, loopback or link-local addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from vidgate.errors import VidgateError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_ANSWER_BYTES",
    "Answer",
    "BlockedAddress",
    "GuardedFetcher",
    "Network",
    "check_address",
    "embedded_ipv4",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
MAX_ANSWER_BYTES = 64 * 1024


class BlockedAddress(VidgateError):
    """The URL leads somewhere the gateway may not reach."""


# IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-compatible (::a.b.c.d),
# IPv4-translated (RFC 2765) and NAT64 (RFC 6052). `is_global` judges only the IPv6 prefix.
_LOW32_EMBEDDING = tuple(
    ipaddress.IPv6Network(prefix) for prefix in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# Local-use NAT64 (RFC 8215): translated by a gateway of the receiver's own network.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, compatible, NAT64, 6to4, Teredo."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if any(address in network for network in _LOW32_EMBEDDING):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _views(address: IPAddress) -> list[IPAddress]:
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    embedded: list[IPAddress] = list(embedded_ipv4(address))
    # A mapped address is the IPv4 one; every other form must pass as itself too.
    return embedded if address.ipv4_mapped is not None else [address, *embedded]


def check_address(address: IPAddress, allowed: Sequence[Network]) -> None:
    """Refuse loopback, private, link-local, reserved and multicast addresses not allowed.

    An IPv6 address that embeds an IPv4 one (mapped, compatible, translated, NAT64, 6to4,
    Teredo) passes only if that IPv4 address would pass too.
    """
    for view in _views(address):
        if any(view in network for network in allowed):
            continue
        if not view.is_global or view.is_multicast or view in _LOCAL_NAT64:
            shown = str(address) if view == address else f"{address} (IPv4 {view})"
            raise BlockedAddress(
                f"address {shown} is private, loopback, link-local or reserved; "
                "VIDGATE_ALLOW_NETWORKS can allow it"
            )


@dataclass(frozen=True)
class Answer:
    """A POST's status, headers and the first bytes of its body."""

    status_code: int
    headers: httpx.Headers
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True)
class _Target:
    url: str
    host: str
    address: IPAddress


class GuardedFetcher:
    """Fetches URLs, pinning each hop to an address checked after DNS resolution.

    The connection goes to the very address that was checked, so a DNS answer that changes
    between check and connect (rebinding) cannot redirect it; redirects are checked per hop.
    """

    def __init__(self, allowed: Sequence[Network], timeout: float) -> None:
        self.allowed = list(allowed)
        self.timeout = timeout
        self._made: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._made is None:
            import httpx

            self._made = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._made

    def twin(self) -> GuardedFetcher:
        """A fetcher with the same rules and a client of its own, for another event loop."""
        return GuardedFetcher(self.allowed, self.timeout)

    async def aclose(self) -> None:
        if self._made is not None:
            await self._made.aclose()

    async def check(self, url: str) -> None:
        """Raise BlockedAddress unless `url` resolves only to addresses the gateway may reach."""
        await self._resolve(url)

    async def _resolve(self, url: str) -> _Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BlockedAddress("only absolute http(s) URLs can be fetched")
        host = parts.hostname
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, parts.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise BlockedAddress(f"cannot resolve host {host!r}") from exc
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in addresses:
            check_address(address, self.allowed)
        return _Target(url, host, addresses[0])

    def _pinned(self, target: _Target) -> tuple[str, dict[str, str], dict[str, str]]:
        parts = urlsplit(target.url)
        shown = f"[{target.address}]" if target.address.version == 6 else str(target.address)
        netloc = f"{shown}:{parts.port}" if parts.port else shown
        host_header = f"{target.host}:{parts.port}" if parts.port else target.host
        extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
        return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, extensions

    async def post(
        self,
        url: str,
        content: bytes,
        headers: dict[str, str],
        timeout: float,
        *,
        max_answer: int = MAX_ANSWER_BYTES,
    ) -> Answer:
        """POST to a checked, pinned address; redirects are not followed.

        At most ``max_answer`` bytes of the answer's body are read (as sent, undecoded); the
        connection is closed on the rest, so a huge answer costs neither memory nor time.
        """
        target = await self._resolve(url)
        pinned, host, extensions = self._pinned(target)
        request = self._client.build_request(
            "POST",
            pinned,
            content=content,
            headers={**headers, **host},
            extensions={**extensions, "timeout": _timeout(timeout)},
        )
        response = await self._client.send(request, stream=True)
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                body += chunk[: max_answer - len(body)]
                if len(body) >= max_answer:
                    break
        finally:
            await response.aclose()
        return Answer(response.status_code, response.headers, bytes(body))

    async def open(self, url: str) -> httpx.Response:
        """Open a streamed GET, following checked redirects; the caller closes the response."""
        for _ in range(MAX_REDIRECTS + 1):
            target = await self._resolve(url)
            pinned, headers, extensions = self._pinned(target)
            request = self._client.build_request(
                "GET", pinned, headers=headers, extensions=extensions
            )
            response = await self._client.send(request, stream=True)
            if response.is_redirect and "location" in response.headers:
                await response.aclose()
                url = urljoin(url, response.headers["location"])
                continue
            return response
        raise BlockedAddress(f"more than {MAX_REDIRECTS} redirects")


def _timeout(seconds: float) -> dict[str, float]:
    import httpx

    return httpx.Timeout(seconds).as_dict()  # type: ignore[return-value]
