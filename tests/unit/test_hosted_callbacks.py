"""Upstream callback checks against the fakes' signatures and the official verifiers."""

from __future__ import annotations

import json
import time

from standardwebhooks import Webhook

from vidgate.hosted_callbacks import callback_token, verify_fal, verify_standard
from vidgate.testing import FakeState
from vidgate.testing.callbacks import fal_jwks, fal_signer, replicate_secret, replicate_signer

BODY = json.dumps({"id": "p1", "status": "succeeded", "output": "https://x/y.mp4"}).encode()


def test_replicate_signature_is_standard_webhooks_and_forgeries_are_refused() -> None:
    state = FakeState(dialect="replicate")
    secret = replicate_secret(state)
    headers = dict(replicate_signer(state)(BODY))
    Webhook(secret).verify(BODY, headers)
    now = time.time()
    assert verify_standard(secret, headers, BODY, now)
    assert not verify_standard(secret, headers, BODY.replace(b"p1", b"p2"), now)
    assert not verify_standard(replicate_secret(FakeState(dialect="replicate")), headers, BODY, now)
    assert not verify_standard(secret, headers, BODY, now + 3600)
    assert not verify_standard(secret, {**headers, "webhook-signature": "v1,AAAA"}, BODY, now)
    assert not verify_standard(secret, {}, BODY, now)


def test_fal_signature_checks_against_the_jwks() -> None:
    state = FakeState(dialect="fal")
    headers = {k.lower(): v for k, v in fal_signer(state, "req-1")(BODY).items()}
    now = time.time()
    assert verify_fal(fal_jwks(state), headers, BODY, now)
    assert not verify_fal(fal_jwks(FakeState(dialect="fal")), headers, BODY, now)
    assert not verify_fal(fal_jwks(state), headers, BODY + b" ", now)
    forged = {**headers, "x-fal-webhook-request-id": "req-2"}
    assert not verify_fal(fal_jwks(state), forged, BODY, now)
    assert not verify_fal(fal_jwks(state), {**headers, "x-fal-webhook-signature": "zz"}, BODY, now)


def test_callback_tokens_are_per_provider_and_task() -> None:
    token = callback_token("s3cret", "replicate", "task_1")
    assert len(token) == 32
    assert token == callback_token("s3cret", "replicate", "task_1")
    assert token != callback_token("s3cret", "replicate", "task_2")
    assert token != callback_token("s3cret", "fal", "task_1")
    assert token != callback_token("other", "replicate", "task_1")
