"""Bearer-key authentication for every API route, and the services the routes call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vidgate.logs import bind
from vidgate.records import KeyRecord
from vidgate.service import Services

__all__ = ["AdminCaller", "Caller", "admin_of", "bearer_key", "caller_of", "services_of"]


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
    caller = await services_of(request).keys.authenticate(bearer_key(request))
    bind(key_id=caller.id)
    return caller


Caller = Annotated[KeyRecord, Depends(caller_of)]


async def admin_of(request: Request) -> KeyRecord:
    """The admin key the request authenticates with: 401 without a valid key, 403 for a key
    that is not an admin key."""
    return await services_of(request).keys.authenticate_admin(bearer_key(request))


AdminCaller = Annotated[KeyRecord, Depends(admin_of)]
