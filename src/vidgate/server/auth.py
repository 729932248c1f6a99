"""Authentication for every API route, and the services the routes call.

A caller sends its key as `Authorization: Bearer KEY`, or, from the web console, the signed
session cookie. A cookie alone may not change anything: every unsafe method it authenticates
must also carry the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vidgate.console.session import COOKIE_NAME, CSRF_HEADER, same_token
from vidgate.errors import Forbidden
from vidgate.logs import bind
from vidgate.records import KeyRecord
from vidgate.service import Services

__all__ = ["AdminCaller", "Caller", "admin_of", "bearer_key", "caller_of", "services_of"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


async def _authenticated(request: Request) -> KeyRecord:
    services = services_of(request)
    key = bearer_key(request)
    cookie = request.cookies.get(COOKIE_NAME) if key is None else None
    session = services.sessions.read(cookie) if cookie else None
    if session is None:
        return await services.keys.authenticate(key)
    if request.method not in SAFE_METHODS and not same_token(
        request.headers.get(CSRF_HEADER), session.csrf
    ):
        raise Forbidden("Missing or wrong X-CSRF-Token for this console session.")
    return await services.keys.authenticate_session(session.key_id, session.fingerprint)


async def caller_of(request: Request) -> KeyRecord:
    """The key the request authenticates with, or a 401."""
    caller = await _authenticated(request)
    bind(key_id=caller.id)
    return caller


Caller = Annotated[KeyRecord, Depends(caller_of)]


async def admin_of(request: Request) -> KeyRecord:
    """The admin key the request authenticates with: 401 without a valid key, 403 for a key
    that is not an admin key."""
    caller = await caller_of(request)
    if not caller.admin:
        raise Forbidden("This key is not an admin key; the admin API needs one.")
    return caller


AdminCaller = Annotated[KeyRecord, Depends(admin_of)]
