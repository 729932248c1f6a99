"""SessionSigner: a console cookie reads back as the session it was issued for, and as
nothing once it is changed, cut, signed elsewhere or past its expiry."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from vidgate.console.session import SessionSigner, key_fingerprint, same_token
from vidgate.ids import hash_key
from vidgate.records import KeyRecord

SECRET = b"unit-test-secret"
KEY = "vg-unit-test-key-0123456789"
RECORD = KeyRecord(
    id="key_unit",
    name="unit",
    key_hash=hash_key(KEY),
    prefix=KEY[:7],
    quota_seconds=None,
    reserved_seconds=0.0,
    used_seconds=0.0,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


class Clock:
    """Epoch seconds that a test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_issued_cookie_reads_back_as_its_session() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, 300, clock)
    cookie, session = signer.issue(RECORD)
    assert signer.read(cookie) == session
    assert session.key_id == "key_unit"
    assert session.fingerprint == key_fingerprint(RECORD)
    assert session.expires == int(clock.now) + 300
    assert len(session.csrf) >= 32
    assert KEY not in cookie and RECORD.key_hash not in cookie


def test_each_sign_in_gets_its_own_csrf_token() -> None:
    signer = SessionSigner(SECRET, 300)
    tokens = {signer.issue(RECORD)[1].csrf for _ in range(20)}
    assert len(tokens) == 20


def test_the_fingerprint_changes_when_the_key_is_rotated() -> None:
    rotated = replace(RECORD, key_hash=hash_key(KEY + "-rotated"))
    assert key_fingerprint(rotated) != key_fingerprint(RECORD)
    assert key_fingerprint(replace(RECORD, name="renamed")) == key_fingerprint(RECORD)


def test_a_cookie_ends_at_its_expiry() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, 300, clock)
    cookie, session = signer.issue(RECORD)
    clock.now = session.expires - 0.5
    assert signer.read(cookie) == session
    clock.now = session.expires
    assert signer.read(cookie) is None
    clock.now = session.expires + 3600
    assert signer.read(cookie) is None


def test_a_cookie_signed_under_another_secret_is_refused() -> None:
    cookie, _ = SessionSigner(b"another-secret", 300).issue(RECORD)
    assert SessionSigner(SECRET, 300).read(cookie) is None


def _changed(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_tampered_and_truncated_cookies_are_refused() -> None:
    signer = SessionSigner(SECRET, 300)
    cookie, _ = signer.issue(RECORD)
    payload, _, signature = cookie.partition(".")
    for bad in (
        _changed(payload, 0) + "." + signature,
        _changed(payload, len(payload) - 1) + "." + signature,
        payload + "." + _changed(signature, 0),
        cookie[:-1],
        cookie[: len(payload) + 1],
        payload,
        "." + signature,
        cookie + ".",
        "",
        ".",
    ):
        assert signer.read(bad) is None, bad
    assert signer.read(None) is None


def test_a_longer_expiry_cannot_be_grafted_onto_a_signature() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, 300, clock)
    cookie, session = signer.issue(RECORD)
    _, _, signature = cookie.partition(".")
    fields = [session.key_id, session.fingerprint, session.csrf, session.expires + 10**6]
    forged = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
    assert signer.read(f"{forged}.{signature}") is None


@pytest.mark.parametrize("cookie", ["é.é", "abc.\u00e9\u00e9", "\u00ff\u00fe.abc", "a.b\x00c"])
def test_cookies_with_odd_characters_are_refused_not_an_error(cookie: str) -> None:
    assert SessionSigner(SECRET, 300).read(cookie) is None


def test_same_token_needs_the_exact_token() -> None:
    assert same_token("tok-123", "tok-123")
    assert not same_token(None, "tok-123")
    assert not same_token("", "tok-123")
    assert not same_token("tok-12", "tok-123")
    assert not same_token("tok-123é", "tok-123")
