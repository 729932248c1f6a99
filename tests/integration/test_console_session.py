"""The console's session cookie over HTTP: what it lets in, what it refuses, and the headers
it is sent and answered with."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import RunningGateway, start_gateway
from vidgate.console.session import SessionSigner
from vidgate.ids import hash_key
from vidgate.records import KeyRecord

SECRET = "console-session-test-secret"
TTL = 600
SMALL = {"prompt": "a quiet lake", "duration": 2, "resolution": "480P"}
EVIL_TARGETS = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "http://evil.example/console/",
    "/console@evil.example",
    "\\\\evil.example",
]


@dataclass(frozen=True)
class Session:
    """A signed-in console: the cookie's value and the CSRF token its pages carry."""

    cookie: str
    csrf: str


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One gateway for the module, engine off: submitted tasks stay queued."""
    running = start_gateway(
        tmp_path_factory.mktemp("console") / "data",
        run_engine=False,
        secret_key=SECRET,
        console_session_ttl=TTL,
    )
    yield running
    running.stop()


def sign_in(
    gateway: RunningGateway, key: str, next: str | None = None, **headers: str
) -> httpx.Response:
    form = {"key": key} if next is None else {"key": key, "next": next}
    listening = f"http://{gateway.settings.host}:{gateway.settings.port}"
    with httpx.Client(base_url=listening, timeout=30) as client:
        return client.post("/console/sign-in", data=form, headers=headers)


def cookie_client(gateway: RunningGateway, cookie: str | bytes) -> httpx.Client:
    """A client that sends the console cookie as a browser would, and no key."""
    header = b"vidgate_console=" + (cookie if isinstance(cookie, bytes) else cookie.encode())
    return httpx.Client(base_url=gateway.url, headers={"Cookie": header}, timeout=30)


def cookie_value(response: httpx.Response) -> str:
    found = re.match(r"vidgate_console=([^;]*)", response.headers["set-cookie"])
    assert found, response.headers["set-cookie"]
    return found.group(1)


def session_for(gateway: RunningGateway, key: str) -> Session:
    """Sign in, then read the CSRF token from a console page, as the page's script does."""
    signed_in = sign_in(gateway, key)
    assert signed_in.status_code == 303, signed_in.text
    cookie = cookie_value(signed_in)
    with cookie_client(gateway, cookie) as client:
        page = client.get("/console/")
    assert page.status_code == 200, page.text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert token, page.text
    return Session(cookie, token.group(1))


def account(gateway: RunningGateway, key: str) -> dict[str, object]:
    with gateway.client(key) as client:
        answer = client.get("/v1/account")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def assert_refused(gateway: RunningGateway, cookie: str | bytes) -> None:
    """The API answers 401; a page sends the browser to sign in and drops the cookie."""
    with cookie_client(gateway, cookie) as client:
        api = client.get("/v1/tasks")
        assert api.status_code == 401, api.text
        assert api.json()["error"]["code"] == "invalid_api_key"
        page = client.get("/console/usage")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/sign-in?next=/console/usage"
        assert page.headers["set-cookie"].startswith('vidgate_console="";')


def forged_cookie(key: str, key_id: str, secret: str = SECRET, age: int = 0) -> str:
    """A cookie signed as the gateway would, ``age`` seconds ago, under ``secret``."""
    record = KeyRecord(
        id=key_id,
        name="forged",
        key_hash=hash_key(key),
        prefix=key[:7],
        quota_seconds=None,
        reserved_seconds=0.0,
        used_seconds=0.0,
        created_at=datetime.now(UTC),
    )
    signer = SessionSigner(secret.encode(), TTL, clock=lambda: time.time() - age)
    cookie, _ = signer.issue(record)
    return cookie


def test_sign_in_sets_a_strict_http_only_cookie_without_the_key(gateway: RunningGateway) -> None:
    key = gateway.make_key("alice")
    answer = sign_in(gateway, key, next="/console/usage")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/usage"
    assert answer.headers["cache-control"] == "no-store"
    attributes = [part.strip().lower() for part in answer.headers["set-cookie"].split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert f"max-age={TTL}" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes, "plain http: a Secure cookie would never come back"
    assert key not in answer.headers["set-cookie"]
    assert key[len("vg-") :] not in answer.headers["set-cookie"]
    with cookie_client(gateway, cookie_value(answer)) as client:
        assert client.get("/v1/account").json()["name"] == "alice"


def test_cookie_is_secure_when_the_request_came_over_https(
    gateway: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = gateway.make_key()
    # uvicorn takes the scheme from X-Forwarded-Proto when the peer is a trusted proxy
    # (FORWARDED_ALLOW_IPS, loopback by default), as a reverse proxy on the same host is.
    proxied = sign_in(gateway, key, **{"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 303
    assert "secure" in proxied.headers["set-cookie"].lower().split("; ")

    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "192.0.2.1")
    untrusted = start_gateway(tmp_path / "untrusted", run_engine=False)
    try:
        spoofed = sign_in(untrusted, untrusted.make_key(), **{"X-Forwarded-Proto": "https"})
        assert spoofed.status_code == 303
        assert "secure" not in spoofed.headers["set-cookie"].lower().split("; ")
    finally:
        untrusted.stop()

    monkeypatch.delenv("FORWARDED_ALLOW_IPS")
    public = start_gateway(
        tmp_path / "public", run_engine=False, public_url="https://videos.example.com"
    )
    try:
        behind_proxy = sign_in(public, public.make_key())
        assert behind_proxy.status_code == 303
        assert "secure" in behind_proxy.headers["set-cookie"].lower().split("; ")
    finally:
        public.stop()


def test_a_bad_key_gets_a_401_page_that_does_not_echo_it(gateway: RunningGateway) -> None:
    wrong = "vg-" + "Q7x" * 14
    answer = sign_in(gateway, wrong, next="/console/new")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "Invalid API key" in answer.text
    assert wrong not in answer.text and "Q7xQ7x" not in answer.text
    assert "set-cookie" not in answer.headers
    assert 'name="next" value="/console/new"' in answer.text
    empty = sign_in(gateway, "   ")
    assert empty.status_code == 401 and "set-cookie" not in empty.headers


def test_sign_in_from_a_foreign_origin_is_refused(gateway: RunningGateway) -> None:
    key = gateway.make_key()
    for origin in ("https://evil.example", "null", f"{gateway.url}.evil.example"):
        refused = sign_in(gateway, key, Origin=origin)
        assert refused.status_code == 403, origin
        assert "set-cookie" not in refused.headers, origin
        assert key not in refused.text
    own = sign_in(gateway, key, Origin=gateway.url)
    assert own.status_code == 303 and cookie_value(own)


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_next_never_leaves_the_console(gateway: RunningGateway, target: str) -> None:
    key = gateway.make_key()
    answer = sign_in(gateway, key, next=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    with cookie_client(gateway, cookie_value(answer)) as client:
        signed_in = client.get("/console/sign-in", params={"next": target})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/console/"
    with httpx.Client(base_url=gateway.url) as anonymous:
        page = anonymous.get("/console/sign-in", params={"next": target})
    assert page.status_code == 200
    assert 'name="next" value="/console/"' in page.text


def test_next_keeps_a_console_page_and_its_whole_query(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url) as anonymous:
        sent = anonymous.get("/console/tasks/task_abc?tab=events&x=1")
        assert sent.status_code == 303
        location = sent.headers["location"]
        target = httpx.URL(location).params["next"]
        assert target == "/console/tasks/task_abc?tab=events&x=1"
    answer = sign_in(gateway, gateway.make_key(), next=target)
    assert answer.headers["location"] == "/console/tasks/task_abc?tab=events&x=1"


def test_tampered_truncated_foreign_and_expired_cookies_are_refused(
    gateway: RunningGateway,
) -> None:
    key = gateway.make_key()
    key_id = str(account(gateway, key)["key_id"])
    good = forged_cookie(key, key_id)
    with cookie_client(gateway, good) as client:
        assert client.get("/v1/tasks").status_code == 200, "the forger signs as the gateway does"
    payload, _, signature = good.partition(".")
    flipped = "A" if payload[3] != "A" else "B"
    bad_cookies: list[str | bytes] = [
        payload[:3] + flipped + payload[4:] + "." + signature,
        payload + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"),
        good[:-4],
        payload,
        payload + ".",
        "." + signature,
        forged_cookie(key, key_id, secret="another-gateways-secret"),
        forged_cookie(key, key_id, age=TTL + 5),
        forged_cookie(key, "key_someone_else"),
        forged_cookie("vg-not-the-stored-key", key_id),
        "not-a-session",
        good.encode() + b"\xc3\xa9",
        b"\xc3\xa9." + signature.encode(),
    ]
    for cookie in bad_cookies:
        assert_refused(gateway, cookie)


def test_a_revoked_keys_session_ends_at_once(gateway: RunningGateway) -> None:
    admin = gateway.make_key("ops", admin=True)
    user = gateway.make_key("user")
    session = session_for(gateway, user)
    key_id = account(gateway, user)["key_id"]
    with cookie_client(gateway, session.cookie) as client:
        assert client.get("/v1/tasks").status_code == 200
        with gateway.client(admin) as ops:
            ops.post(f"/admin/v1/keys/{key_id}/revoke").raise_for_status()
        assert client.get("/v1/tasks").status_code == 401
        created = client.post("/v1/tasks", json=SMALL, headers={"X-CSRF-Token": session.csrf})
        assert created.status_code == 401
    assert_refused(gateway, session.cookie)


def test_a_rotated_keys_session_ends(gateway: RunningGateway) -> None:
    admin = gateway.make_key("ops", admin=True)
    user = gateway.make_key("user")
    session = session_for(gateway, user)
    key_id = account(gateway, user)["key_id"]
    with gateway.client(admin) as ops:
        rotated = ops.post(f"/admin/v1/keys/{key_id}/rotate")
    assert rotated.status_code == 200
    assert_refused(gateway, session.cookie)
    fresh = session_for(gateway, rotated.json()["key"])
    with cookie_client(gateway, fresh.cookie) as client:
        assert client.get("/v1/account").json()["key_id"] == key_id


def test_unsafe_methods_with_the_cookie_need_the_csrf_token(gateway: RunningGateway) -> None:
    user = gateway.make_key("user", quota=100)
    session = session_for(gateway, user)
    before = account(gateway, user)
    with cookie_client(gateway, session.cookie) as client:
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": session.csrf + "x"}):
            refused = client.post("/v1/tasks", json=SMALL, headers=headers)
            assert refused.status_code == 403, refused.text
            assert "X-CSRF-Token" in refused.json()["error"]["message"]
            assert client.post("/v1/videos", json={"prompt": "x"}, headers=headers).status_code == (
                403
            )
        assert client.get("/v1/tasks").json()["data"] == []
        assert account(gateway, user) == before, "nothing reserved or charged"

        created = client.post("/v1/tasks", json=SMALL, headers={"X-CSRF-Token": session.csrf})
        assert created.status_code == 202, created.text
        task_id = created.json()["task_id"]
        assert [t["task_id"] for t in client.get("/v1/tasks").json()["data"]] == [task_id]
        assert account(gateway, user)["reserved"] == 2

        for headers in ({}, {"X-CSRF-Token": "wrong"}):
            refused = client.delete(f"/v1/videos/{task_id}", headers=headers)
            assert refused.status_code == 403
        assert client.get(f"/v1/tasks/{task_id}").json()["status"] == "queued"
        deleted = client.delete(f"/v1/videos/{task_id}", headers={"X-CSRF-Token": session.csrf})
        assert deleted.status_code == 200, deleted.text
        assert client.get(f"/v1/tasks/{task_id}").json()["status"] == "cancelled"
        assert account(gateway, user)["reserved"] == 0


def test_admin_changes_with_the_cookie_need_the_csrf_token(gateway: RunningGateway) -> None:
    admin = gateway.make_key("ops", admin=True)
    target = gateway.make_key("target")
    target_id = account(gateway, target)["key_id"]
    session = session_for(gateway, admin)
    with cookie_client(gateway, session.cookie) as client:
        for headers in ({}, {"X-CSRF-Token": "wrong"}):
            refused = client.patch(
                f"/admin/v1/keys/{target_id}", json={"name": "renamed"}, headers=headers
            )
            assert refused.status_code == 403
            revoke = client.post(f"/admin/v1/keys/{target_id}/revoke", headers=headers)
            assert revoke.status_code == 403
        assert account(gateway, target)["name"] == "target", "neither renamed nor revoked"
        renamed = client.patch(
            f"/admin/v1/keys/{target_id}",
            json={"name": "renamed"},
            headers={"X-CSRF-Token": session.csrf},
        )
        assert renamed.status_code == 200, renamed.text
    assert account(gateway, target)["name"] == "renamed"


def test_a_bearer_key_needs_no_csrf_token(gateway: RunningGateway) -> None:
    user = gateway.make_key("user")
    other = session_for(gateway, gateway.make_key("other"))
    with gateway.client(user) as client:
        created = client.post("/v1/tasks", json=SMALL)
        assert created.status_code == 202, created.text
        task_id = created.json()["task_id"]
        # A Bearer key wins over any cookie the client also sends.
        client.headers["Cookie"] = f"vidgate_console={other.cookie}"
        assert client.delete(f"/v1/videos/{task_id}").status_code == 200
        assert client.get(f"/v1/tasks/{task_id}").json()["status"] == "cancelled"


def test_task_reads_and_the_event_stream_work_with_the_cookie(gateway: RunningGateway) -> None:
    mine, theirs = gateway.make_key("mine"), gateway.make_key("theirs")
    session = session_for(gateway, mine)
    with gateway.client(mine) as bearer, gateway.client(theirs) as other:
        my_task = bearer.post("/v1/tasks", json=SMALL).json()["task_id"]
        their_task = other.post("/v1/tasks", json=SMALL).json()["task_id"]
        for _ in range(2):  # the second read is kept for the Bearer fast path
            assert bearer.get(f"/v1/tasks/{my_task}").status_code == 200
            assert other.get(f"/v1/tasks/{their_task}").status_code == 200
    with cookie_client(gateway, session.cookie) as client:
        for _ in range(2):
            read = client.get(f"/v1/tasks/{my_task}")
            assert read.status_code == 200 and read.json()["task_id"] == my_task
            for path in (f"/v1/tasks/{their_task}", f"/v1/videos/{their_task}"):
                hidden = client.get(path)
                assert hidden.status_code == 404, path
                assert set(hidden.json()) == {"error"}, path
        refused = client.post(
            f"/v1/tasks/{their_task}/cancel", headers={"X-CSRF-Token": session.csrf}
        )
        assert refused.status_code == 404
        assert client.get(f"/v1/tasks/{their_task}/events").status_code == 404

        with client.stream("GET", "/v1/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines: list[str] = []
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data: "):
                    break
    assert f'"task_id":"{my_task}"' in lines[-1].replace(" ", "")
    assert their_task not in "\n".join(lines)
    with gateway.client(theirs) as other:
        assert other.get(f"/v1/tasks/{their_task}").json()["status"] == "queued"


def test_the_admin_api_and_pages_need_an_admin_session(gateway: RunningGateway) -> None:
    plain = session_for(gateway, gateway.make_key("plain"))
    admin = session_for(gateway, gateway.make_key("ops", admin=True))
    with cookie_client(gateway, plain.cookie) as client:
        refused = client.get("/admin/v1/keys")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        made = client.post(
            "/admin/v1/keys", json={"name": "sneaky"}, headers={"X-CSRF-Token": plain.csrf}
        )
        assert made.status_code == 403
        assert client.get("/console/admin/keys").status_code == 403
    with cookie_client(gateway, admin.cookie) as client:
        listed = client.get("/admin/v1/keys")
        assert listed.status_code == 200
        assert "sneaky" not in {k["name"] for k in listed.json()["data"]}
        assert client.get("/console/admin/keys").status_code == 200


def test_sign_out_needs_the_csrf_token_and_clears_the_cookie(gateway: RunningGateway) -> None:
    session = session_for(gateway, gateway.make_key())
    with cookie_client(gateway, session.cookie) as client:
        for form in ({}, {"csrf": "wrong"}):
            refused = client.post("/console/sign-out", data=form)
            assert refused.status_code == 403
            assert "set-cookie" not in refused.headers
        assert client.get("/console/").status_code == 200
        signed_out = client.post("/console/sign-out", data={"csrf": session.csrf})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/console/sign-in"
    cleared = [part.strip().lower() for part in signed_out.headers["set-cookie"].split(";")]
    assert cleared[0] == 'vidgate_console=""'
    assert "max-age=0" in cleared and "path=/" in cleared


def test_console_pages_are_never_cached(gateway: RunningGateway) -> None:
    session = session_for(gateway, gateway.make_key("ops", admin=True))
    paths = ["/console/", "/console/new", "/console/usage", "/console/tasks/task_x"]
    paths += [f"/console/admin/{page}" for page in ("keys", "tasks", "providers", "audit")]
    with cookie_client(gateway, session.cookie) as client:
        for path in paths:
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["cache-control"] == "no-store", path
            assert session.csrf in page.text
    with httpx.Client(base_url=gateway.url) as anonymous:
        sign_in_page = anonymous.get("/console/sign-in")
    assert sign_in_page.status_code == 200
    assert sign_in_page.headers["cache-control"] == "no-store"


def test_no_console_when_it_is_turned_off(tmp_path: Path) -> None:
    running = start_gateway(tmp_path / "data", run_engine=False, console=False)
    try:
        key = running.make_key()
        with httpx.Client(base_url=running.url) as client:
            for path in ("/", "/console/", "/console/sign-in", "/console/static/console.js"):
                assert client.get(path).status_code == 404, path
            assert client.post("/console/sign-in", data={"key": key}).status_code == 404
        with running.client(key) as api:
            assert api.get("/v1/account").status_code == 200
    finally:
        running.stop()


def test_values_from_the_url_are_escaped_in_pages(gateway: RunningGateway) -> None:
    script = '"><img src=x onerror=alert(1)>'
    session = session_for(gateway, gateway.make_key())
    with cookie_client(gateway, session.cookie) as client:
        page = client.get(f"/console/tasks/x{script}x'-alert(2)-'")
    assert page.status_code == 200
    assert "onerror=alert(1)>" not in page.text and "'-alert(2)-'" not in page.text
    assert "onerror=alert(1)&gt;" in page.text, "shown, as text"
    with httpx.Client(base_url=gateway.url) as anonymous:
        sign_in_page = anonymous.get("/console/sign-in", params={"next": f"/console/{script}"})
    assert sign_in_page.status_code == 200
    assert "onerror=alert(1)>" not in sign_in_page.text
    assert 'value="/console/&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in sign_in_page.text
    refused = sign_in(gateway, script, next=f"/console/{script}")
    assert refused.status_code == 401 and "onerror=alert(1)>" not in refused.text
