"""How fakes of APIs that do not take a plain bearer key read and check a caller's credential."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping

from starlette.requests import Request

from vidgate.dialects.kling_outbound import b64url
from vidgate.dialects.veo_outbound import API_KEY_HEADER
from vidgate.testing.state import FakeState

__all__ = ["KEY_READERS", "KLING_KEY", "KeyReader", "kling_key", "veo_key"]

KeyReader = Callable[[Request, FakeState], tuple[str | None, str | None]]
"""(the key the caller is known by, why it is refused: `missing`, `wrong` or None)."""
KLING_KEY = "ak-fake:sk-fake"
"""The one access key and secret key pair a Kling fake accepts when it is given no `keys`."""
LEEWAY = 5


def _unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def kling_key(request: Request, state: FakeState) -> tuple[str | None, str | None]:
    """A Kling bearer: an HS256 JWT whose `iss` is a known access key, signed with its secret
    key, within its `nbf` and `exp`. The caller is known by its `ACCESS:SECRET` pair."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "missing"
    pairs = dict(key.split(":", 1) for key in (state.keys or {KLING_KEY}) if ":" in key)
    try:
        head, body, signature = token.strip().split(".")
        header, claims = json.loads(_unpadded(head)), json.loads(_unpadded(body))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None, "wrong"
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return None, "wrong"
    access = claims.get("iss") if isinstance(claims, dict) else None
    secret = pairs.get(access) if isinstance(access, str) else None
    if secret is None:
        return None, "wrong"
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(b64url(expected), signature):
        return None, "wrong"
    now = state.now()
    expires, not_before = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(expires, int) or expires < now or not_before > now + LEEWAY:
        return None, "wrong"
    return f"{access}:{secret}", None


def veo_key(request: Request, state: FakeState) -> tuple[str | None, str | None]:
    """A Gemini API key, in `x-goog-api-key` or the `key` query parameter."""
    key = request.headers.get(API_KEY_HEADER) or request.query_params.get("key")
    return key, state.key_problem(key)


KEY_READERS: Mapping[str, KeyReader] = {"kling": kling_key, "veo": veo_key}
"""The dialects whose callers authenticate other than by a plain bearer key."""
