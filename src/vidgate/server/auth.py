"""Bearer-key authentication for every API route, and the services the routes call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vidgate.records import KeyRecord
from vidgate.service import Services

__all__ = ["Caller", "bearer_key", "caller_of", "services_of"]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def bearer_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer KEY`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def caller_of(request: Request) -> KeyRecord:
    """The key the request authenticates with, or a 401."""
    return await services_of(request).keys.authenticate(bearer_key(request))


Caller = Annotated[KeyRecord, Depends(caller_of)]
