"""Bearer-key authentication for every API route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vidgate.service import Gateway
from vidgate.store.store import Row

__all__ = ["Caller", "bearer_key", "gateway_of"]


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def bearer_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer KEY`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def _caller(request: Request) -> Row:
    return await gateway_of(request).authenticate(bearer_key(request))


Caller = Annotated[Row, Depends(_caller)]
