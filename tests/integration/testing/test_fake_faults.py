"""Every fault knob, seen over real HTTP, plus counters, Range and result-link expiry."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from fake_clients import KEY, fast, serving

from vidgate.testing import FakeUpstream, Faults, ManualClock
from vidgate.testing.results import result_url

ASYNC = {"X-DashScope-Async": "enable"}
SYNTHESIS = "/services/aigc/video-generation/video-synthesis"
T2V = {"model": "wan2.6-t2v", "input": {"prompt": "a cat"}}
FLAT = {"model": "veo3", "prompt": "a cat"}


def dashscope_submit(client: httpx.Client) -> httpx.Response:
    return client.post(SYNTHESIS, json=T2V, headers=ASYNC)


def test_error_rate_answers_5xx_in_each_dialects_words() -> None:
    with serving("dashscope", faults=Faults(error_rate=1.0)) as (fake, client):
        ds = dashscope_submit(client)
    with serving("openai", faults=Faults(error_rate=1.0, error_status=502)) as (_, client):
        oa = client.get("/videos/video_x")
    with serving("kik", faults=Faults(error_rate=1.0, error_status=503)) as (_, client):
        kk = client.get("/video/v1/tasks/x")
    assert ds.status_code == 500
    assert ds.json()["code"] == "InternalServerError"
    assert fake.counters.responses(500) == 1
    assert oa.status_code == 502
    assert oa.json()["error"]["type"] == "server_error"
    assert kk.status_code == 503
    assert kk.json() == {
        "error": {"code": "internal_error", "message": "The upstream hit an unexpected error."}
    }


def test_error_rate_is_a_fraction_and_repeatable_with_a_seed() -> None:
    with serving("dashscope") as (fake, client):
        runs = []
        for _ in range(2):
            fake.faults.reset()
            fake.faults.error_rate, fake.faults.seed = 0.5, 3
            runs.append([client.get("/tasks/x").status_code for _ in range(40)])
    assert runs[0] == runs[1]
    assert 5 < runs[0].count(500) < 35
    assert set(runs[0]) == {200, 500}


def test_a_burst_of_errors_then_recovery() -> None:
    with serving("dashscope", faults=Faults(errors=2, error_status=503)) as (_, client):
        codes = [client.get("/tasks/x").status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_throttle_bursts_answer_429_with_retry_after() -> None:
    with serving("openai", timing=fast()) as (fake, client):
        fake.faults.throttle(2, retry_after=0.5)
        throttled = [client.post("/videos", json={"prompt": "x"}) for _ in range(2)]
        accepted = client.post("/videos", json={"prompt": "x"})
    for response in throttled:
        assert response.status_code == 429
        assert response.headers["retry-after"] == "0.5"
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert accepted.status_code == 200
    assert len(fake.tasks) == 1
    assert fake.counters.calls("submit") == 3
    assert fake.counters.responses(429) == 2


def test_delay_slows_every_answer_and_keeps_the_body() -> None:
    with serving("kik", faults=Faults(delay=0.2)) as (fake, client):
        started = time.monotonic()
        created = client.post("/video/v1/tasks", json=FLAT)
        missing = client.get("/video/v1/tasks/x")
    assert time.monotonic() - started >= 0.4
    assert created.status_code == 200
    assert fake.tasks[created.json()["task_id"]].body == FLAT
    assert missing.status_code == 404


def test_hang_holds_calls_until_the_client_gives_up_or_it_is_lifted() -> None:
    with serving("dashscope", timeout=0.3, faults=Faults(hang=True)) as (fake, client):
        with pytest.raises(httpx.ReadTimeout):
            dashscope_submit(client)
        assert fake.tasks == {}
        lifted = threading.Timer(0.2, lambda: setattr(fake.faults, "hang", False))
        lifted.start()
        with httpx.Client(base_url=fake.base_url, headers=client.headers, timeout=5) as patient:
            answered = dashscope_submit(patient)
        lifted.join()
    assert answered.status_code == 200
    assert len(fake.tasks) == 1


def test_stopping_releases_hung_calls() -> None:
    fake = FakeUpstream("kik", faults=Faults(hang=True)).start()
    errors: list[Exception] = []

    def call() -> None:
        try:
            httpx.get(f"{fake.url}/video/v1/tasks/x", headers={"Authorization": "Bearer k"})
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.1)
    started = time.monotonic()
    fake.stop()
    caller.join(5)
    assert not caller.is_alive()
    assert time.monotonic() - started < 1.5


def test_malformed_bodies_do_not_parse() -> None:
    with serving("dashscope", faults=Faults(malformed_rate=1.0)) as (_, client):
        response = client.get("/tasks/x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content.startswith(b'{"request_id"')
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_faults_apply_only_to_their_routes() -> None:
    faults = Faults(error_rate=1.0, routes=frozenset({"submit"}))
    with serving("dashscope", faults=faults) as (_, client):
        submitted = dashscope_submit(client)
        queried = client.get("/tasks/x")
    assert (submitted.status_code, queried.status_code) == (500, 200)


def test_submit_failures_can_be_limited_and_are_counted() -> None:
    with serving("kik", timing=fast()) as (fake, client):
        fake.faults.fail_submits("insufficient_quota", count=2)
        codes = [client.post("/video/v1/tasks", json=FLAT).status_code for _ in range(3)]
    assert codes == [402, 402, 200]
    assert fake.faults.submit_failure is None


def test_result_links_expire_after_their_ttl() -> None:
    clock = ManualClock()
    with serving("dashscope", timing=fast(), clock=clock, result_ttl=3600) as (_, client):
        task_id = dashscope_submit(client).json()["output"]["task_id"]
        url = client.get(f"/tasks/{task_id}").json()["output"]["video_url"]
        fresh = client.get(url)
        clock.advance(3601)
        stale = client.get(url)
        forged = client.get(url.replace("Signature=", "Signature=0"))
    assert "Expires=" in url and "Signature=" in url
    assert fresh.status_code == 200
    assert stale.status_code == 403
    assert stale.headers["content-type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in stale.text
    assert "Request has expired." in stale.text
    assert forged.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in forged.text


def test_expired_results_fault_and_unknown_objects() -> None:
    with serving("dashscope", timing=fast()) as (fake, client):
        task_id = dashscope_submit(client).json()["output"]["task_id"]
        url = client.get(f"/tasks/{task_id}").json()["output"]["video_url"]
        fake.faults.expired_results = True
        expired = client.get(url)
        fake.faults.expired_results = False
        ghost = client.get(result_url(fake.url, fake.state.secret, "ghost", int(time.time()) + 60))
    assert expired.status_code == 403
    assert "Request has expired." in expired.text
    assert ghost.status_code == 404
    assert "<Code>NoSuchKey</Code>" in ghost.text


def test_results_serve_ranges_and_head() -> None:
    with serving("kik", timing=fast()) as (_, client):
        task_id = client.post("/video/v1/tasks", json=FLAT).json()["task_id"]
        url = client.get(f"/video/v1/tasks/{task_id}").json()["data"][0]["url"]
        whole = client.get(url)
        size = len(whole.content)
        answers = {
            spec: client.get(url, headers={"Range": spec})
            for spec in ("bytes=0-9", "bytes=10-", "bytes=-20", f"bytes={size}-", "bytes=0-1,4-5")
        }
        head = client.head(url)
    assert whole.headers["accept-ranges"] == "bytes"
    assert int(whole.headers["content-length"]) == size
    assert answers["bytes=0-9"].status_code == 206
    assert answers["bytes=0-9"].content == whole.content[:10]
    assert answers["bytes=10-"].content == whole.content[10:]
    assert answers["bytes=10-"].headers["content-range"] == f"bytes 10-{size - 1}/{size}"
    assert answers["bytes=-20"].content == whole.content[-20:]
    assert answers[f"bytes={size}-"].status_code == 416
    assert answers[f"bytes={size}-"].headers["content-range"] == f"bytes */{size}"
    assert answers["bytes=0-1,4-5"].status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == size


def test_results_can_be_the_requested_size_or_given_bytes() -> None:
    with serving("kik", timing=fast(), match_request=True) as (_, client):
        body = {**FLAT, "size": "320*192", "duration": 2}
        task_id = client.post("/video/v1/tasks", json=body).json()["task_id"]
        url = client.get(f"/video/v1/tasks/{task_id}").json()["data"][0]["url"]
        matched = client.get(url).content
    with serving("kik", timing=fast(), video=b"not really a video") as (_, client):
        task_id = client.post("/video/v1/tasks", json=FLAT).json()["task_id"]
        url = client.get(f"/video/v1/tasks/{task_id}").json()["data"][0]["url"]
        given = client.get(url).content
    assert matched[4:8] == b"ftyp"
    assert given == b"not really a video"


def test_counters_by_kind_route_and_status() -> None:
    with serving("dashscope", timing=fast()) as (fake, client):
        task_id = dashscope_submit(client).json()["output"]["task_id"]
        for _ in range(3):
            client.get(f"/tasks/{task_id}")
        client.get("/tasks/x", headers={"Authorization": ""})
        client.get("/no/such/route")
        snapshot = client.get(f"{fake.url}/_fake/counters").json()
        assert fake.counters.calls() == 6
        fake.reset()
        assert fake.counters.calls() == 0 and fake.tasks == {}
    assert snapshot["submit"] == 1
    assert snapshot["query"] == 4
    assert snapshot["GET /api/v1/tasks/{task_id}"] == 4
    assert snapshot["POST /api/v1" + SYNTHESIS] == 1
    assert snapshot["unmatched"] == 1
    assert snapshot["total"] == 6
    assert snapshot["status:200"] == 4
    assert snapshot["status:401"] == 1
    assert snapshot["status:404"] == 1


def test_counters_are_exact_under_concurrent_calls() -> None:
    with serving("dashscope") as (fake, client):

        def hammer() -> None:
            for _ in range(20):
                client.get("/tasks/x")

        threads = [threading.Thread(target=hammer) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert fake.counters.calls("query") == 100
    assert fake.counters.responses(200) == 100


async def test_the_async_context_manager() -> None:
    async with (
        FakeUpstream("nebula", timing=fast()) as fake,
        httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as ac,
    ):
        created = await ac.post("/v1/video/generations", json=FLAT)
        fake.complete_now(created.json()["task_id"])
        done = await ac.get(f"/v1/video/generations/{created.json()['task_id']}")
    assert done.json()["status"] == "succeeded"


def test_complete_now_and_fail_now_move_tasks_on() -> None:
    with serving("dashscope") as (fake, client):
        fake.timing.queue_seconds = 600
        first = dashscope_submit(client).json()["output"]["task_id"]
        second = dashscope_submit(client).json()["output"]["task_id"]
        fake.complete_now(first)
        fake.fail_now(second, "DataInspectionFailed")
        done = client.get(f"/tasks/{first}").json()["output"]
        failed = client.get(f"/tasks/{second}").json()["output"]
        with pytest.raises(KeyError):
            fake.complete_now("nope")
    assert done["task_status"] == "SUCCEEDED"
    assert done["video_url"]
    assert (failed["task_status"], failed["code"]) == ("FAILED", "DataInspectionFailed")
    assert failed["message"] == "Output data may contain inappropriate content."
