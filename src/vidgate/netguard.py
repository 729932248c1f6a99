"""Outbound requests that cannot be steered at private, loopback or link-local addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from vidgate.errors import VidgateError

__all__ = ["BlockedAddress", "GuardedFetcher", "Network", "check_address"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5


class BlockedAddress(VidgateError):
    """The URL leads somewhere the gateway may not reach."""


def check_address(address: IPAddress, allowed: Sequence[Network]) -> None:
    """Refuse loopback, private, link-local, reserved and multicast addresses not allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return
    if not address.is_global or address.is_multicast:
        raise BlockedAddress(
            f"address {address} is private, loopback, link-local or reserved; "
            "VIDGATE_ALLOW_NETWORKS can allow it"
        )


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
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def aclose(self) -> None:
        await self._client.aclose()

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
        self, url: str, content: bytes, headers: dict[str, str], timeout: float
    ) -> httpx.Response:
        """POST to a checked, pinned address; redirects are not followed."""
        target = await self._resolve(url)
        pinned, host, extensions = self._pinned(target)
        return await self._client.post(
            pinned,
            content=content,
            headers={**headers, **host},
            extensions={**extensions, "timeout": httpx.Timeout(timeout).as_dict()},
        )

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
