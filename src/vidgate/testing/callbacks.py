"""Callbacks from the hosted fakes: POSTed when a task ends, signed as each provider signs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from vidgate.hosted_callbacks import standard_signature
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = [
    "FAL_USER_ID",
    "Signer",
    "fal_jwks",
    "fal_key",
    "fal_signer",
    "replicate_secret",
    "replicate_signer",
    "send_when_done",
]

TICK = 0.01
ATTEMPTS = 3
FAL_USER_ID = "fake-user"
Signer = Callable[[bytes], Mapping[str, str]]
"""Headers that sign one body."""
_pending: set[asyncio.Task[None]] = set()

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def replicate_secret(state: FakeState) -> str:
    """The fake account's Standard Webhooks secret, `whsec_…`."""
    return (
        "whsec_" + base64.b64encode(hashlib.sha256(b"replicate" + state.secret).digest()).decode()
    )


def replicate_signer(state: FakeState) -> Signer:
    secret = replicate_secret(state)

    def sign(body: bytes) -> Mapping[str, str]:
        message_id = f"msg_{uuid.uuid4().hex}"
        stamp = str(int(time.time()))
        return {
            "webhook-id": message_id,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + standard_signature(secret, message_id, stamp, body),
        }

    return sign


def fal_key(state: FakeState) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fal" + state.secret).digest())


def fal_jwks(state: FakeState) -> dict[str, Any]:
    """The JWKS fal publishes its webhook keys in (`OKP`, `Ed25519`, `x` base64url)."""
    raw = fal_key(state).public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "fake", "use": "sig"}]}


def fal_signer(state: FakeState, request_id: str) -> Signer:
    key = fal_key(state)

    def sign(body: bytes) -> Mapping[str, str]:
        stamp = str(int(time.time()))
        message = "\n".join([request_id, FAL_USER_ID, stamp, hashlib.sha256(body).hexdigest()])
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": FAL_USER_ID,
            "X-Fal-Webhook-Timestamp": stamp,
            "X-Fal-Webhook-Signature": key.sign(message.encode()).hex(),
        }

    return sign


def send_when_done(
    state: FakeState,
    task: FakeTask,
    url: str,
    render: Callable[[], dict[str, Any]],
    signer: Signer | None = None,
) -> None:
    """POST `render()` to `url` once the task ends, retrying up to 3 times, in the server's loop."""

    async def deliver() -> None:
        while not task.status(state.now()).terminal:
            if state.closing.is_set():
                return
            await asyncio.sleep(TICK)
        body = json.dumps(render()).encode()
        headers = {"content-type": "application/json", **(signer(body) if signer else {})}
        # No CA bundle: loading one per callback would stall the fake's loop; fakes call
        # loopback receivers.
        async with httpx.AsyncClient(timeout=5, verify=False) as client:
            for attempt in range(ATTEMPTS):
                state.counters.record("callback", f"POST {url.split('?')[0]}")
                try:
                    answer = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code < 500:
                    return
                await asyncio.sleep(0.2 * (attempt + 1))

    job = asyncio.get_running_loop().create_task(deliver())
    _pending.add(job)
    job.add_done_callback(_pending.discard)
