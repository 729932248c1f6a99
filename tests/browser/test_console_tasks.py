"""The console's task pages: the live list, the playground, a task's page and its actions."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from conftest import RunningGateway, start_gateway, wait_terminal
from console_browser import screenshot, sign_in
from receiver import Receiver, start_receiver

SHORT = {"duration": 4, "resolution": "480P"}
RECORD_STATUSES = """() => {
  window.seenStatuses = [];
  const look = () => document.querySelectorAll('tr.task-row .status').forEach(
    (badge) => window.seenStatuses.push(badge.textContent.trim()));
  new MutationObserver(look).observe(document.body,
    {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.close()


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def test_playground_submit_goes_live_to_completed_without_reloading(
    page: Page, console_gateway: RunningGateway
) -> None:
    url = console_gateway.url
    sign_in(page, console_gateway, console_gateway.make_key("live"))
    expect(page.locator(".tasks-empty")).to_contain_text("No tasks yet")
    expect(page.locator(".tasks-empty a", has_text="New task")).to_have_attribute(
        "href", "/console/new"
    )
    expect(page.locator(".live")).to_have_text("Live")
    screenshot(page, "tasks-empty")
    page.evaluate("window.stayedOpen = true")
    page.evaluate(RECORD_STATUSES)

    playground = page.context.new_page()
    playground.goto(f"{url}/console/new")
    expect(playground.locator("#model")).to_have_value("wan2.6-t2v")
    expect(playground.locator(".model-facts .eta")).to_have_text("1-3 min")
    expect(playground.locator(".model-facts")).to_contain_text("2\u201315 s")
    playground.fill("#prompt", "A red fox trotting through fresh snow at dawn")
    playground.select_option("#duration", str(SHORT["duration"]))
    playground.select_option("#resolution", SHORT["resolution"])
    playground.fill("#callback_url", "http://10.0.0.1/hook")
    playground.click("#submit-task")
    refusal = playground.locator('.field-error[data-for="callback_url"]')
    expect(refusal).to_contain_text("callback_url cannot be called")
    expect(playground).to_have_url(f"{url}/console/new")
    screenshot(playground, "playground-error")

    playground.fill("#callback_url", "")
    playground.click("#submit-task")
    playground.wait_for_url(f"{url}/console/?submitted=*")
    submitted = playground.url.split("submitted=")[1]
    expect(playground.locator(f'tr[data-task-id="{submitted}"]')).to_be_visible()

    row = page.locator(f'tr[data-task-id="{submitted}"]')
    expect(row).to_contain_text("A red fox trotting")
    expect(row).to_contain_text("wan2.6-t2v")
    expect(row).to_contain_text("local")
    expect(row.locator(".status")).to_have_text("completed")
    expect(row).to_contain_text("100%")
    thumbnail = row.locator("img.thumb")
    expect(thumbnail).to_be_visible()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    assert page.evaluate("window.stayedOpen") is True
    seen = page.evaluate("window.seenStatuses")
    assert {"queued", "processing"} & set(seen), seen
    assert seen[-1] == "completed"
    screenshot(page, "tasks-live")

    page.select_option("#f-status", "failed")
    expect(row).to_be_hidden()
    expect(page.locator(".tasks-empty")).to_contain_text("No task matches these filters")
    expect(page).to_have_url(f"{url}/console/?status=failed")
    page.click(".tasks-empty button:has-text('Clear filters')")
    expect(row).to_be_visible()
    page.select_option("#f-provider", "local")
    page.fill("#f-after", "2000-01-01T00:00")
    page.locator("#f-after").dispatch_event("change")
    expect(row).to_be_visible()
    page.fill("#f-before", "2000-01-02T00:00")
    page.locator("#f-before").dispatch_event("change")
    expect(row).to_be_hidden()

    row_link = playground.locator(f'tr[data-task-id="{submitted}"] a')
    row_link.click()
    expect(playground).to_have_url(f"{url}/console/tasks/{submitted}")
    playground.close()


def test_playground_uploads_key_frames_for_kf2v(
    page: Page, console_gateway: RunningGateway
) -> None:
    key = console_gateway.make_key("frames")
    sign_in(page, console_gateway, key)
    page.goto(f"{console_gateway.url}/console/new")
    page.select_option("#model", "wan2.2-kf2v-flash")
    expect(page.locator("#mode")).to_have_value("kf2v")
    expect(page.locator("#duration")).to_have_value("5")
    with console_gateway.client(key) as api:
        [model] = [
            m for m in api.get("/v1/models").json()["data"] if m["id"] == "wan2.2-kf2v-flash"
        ]
    [typical] = [s["typical_time"] for s in model["scenarios"] if s["mode"] == "kf2v"]
    expect(page.locator(".model-facts .eta")).to_have_text(typical)

    page.set_input_files(
        "#upload-first_frame_url",
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image at all"},
    )
    expect(page.locator('.field-error[data-for="first_frame_url"]')).to_be_visible()
    page.set_input_files(
        "#upload-first_frame_url",
        {"name": "first.png", "mimeType": "image/png", "buffer": png(320, 180, (30, 90, 200))},
    )
    page.set_input_files(
        "#upload-last_frame_url",
        {"name": "last.png", "mimeType": "image/png", "buffer": png(320, 180, (240, 200, 40))},
    )
    for field in ("first_frame_url", "last_frame_url"):
        preview = page.locator(f'.upload[data-field="{field}"] .upload-preview img')
        page.wait_for_function("(img) => img.naturalWidth === 320", arg=preview.element_handle())
    expect(page.locator('.field-error[data-for="first_frame_url"]')).to_be_hidden()
    page.select_option("#resolution", "480P")
    page.fill("#prompt", "from blue to yellow")
    screenshot(page, "playground")

    page.click("#submit-task")
    page.wait_for_url(f"{console_gateway.url}/console/?submitted=*")
    submitted = page.url.split("submitted=")[1]
    expect(page.locator(f'tr[data-task-id="{submitted}"]')).to_have_class(
        re.compile("just-submitted")
    )
    with console_gateway.client(key) as api:
        accepted = api.get(f"/v1/tasks/{submitted}/request").json()
    assert accepted["mode"] == "kf2v"
    assert [i["field"] for i in accepted["inputs"]] == ["first_frame_url", "last_frame_url"]
    assert accepted["parameters"]["prompt"] == "from blue to yellow"


def test_task_page_plays_the_video_shows_inputs_and_redelivers(
    page: Page, console_gateway: RunningGateway, receiver: Receiver
) -> None:
    key = console_gateway.make_key("detail")
    with console_gateway.client(key) as api:
        upload = api.post("/v1/files", files={"file": ("fox.png", png(320, 180, (200, 90, 40)))})
        assert upload.status_code == 201
        created = api.post(
            "/v1/tasks",
            json={
                "prompt": "the fox looks up",
                "img_url": upload.json()["url"],
                "seed": 42,
                "callback_url": receiver.url,
                **SHORT,
            },
        )
        assert created.status_code == 202, created.text
        task = wait_terminal(api, created.json()["task_id"])
    assert task["status"] == "completed"
    receiver.wait_for(1)

    sign_in(page, console_gateway, key)
    page.goto(f"{console_gateway.url}/console/tasks/{task['task_id']}")
    expect(page.locator(".task-status")).to_have_text("completed")
    facts = page.locator("dl.facts")
    size = task["size"].replace("*", " \u00d7 ")
    for shown in (task["task_id"], task["model"], "local", "i2v", "4 s", size):
        expect(facts).to_contain_text(shown)
    timeline = page.locator(".timeline")
    for status in ("queued", "processing", "progress", "completed"):
        expect(timeline).to_contain_text(status)
    expect(page.locator("pre.parameters")).to_contain_text('"seed": 42')
    image = page.locator(".inputs img")
    expect(image).to_have_attribute("alt", "img_url")
    page.wait_for_function("(img) => img.naturalWidth === 320", arg=image.element_handle())

    video = page.locator("video[controls]").first
    expect(video).to_have_attribute("src", task["result"]["video_url"])
    video.evaluate("(v) => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "(v) => v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle()
    )
    assert abs(video.evaluate("(v) => v.duration") - task["result"]["duration"]) <= 0.1
    assert abs(task["result"]["duration"] - SHORT["duration"]) <= 0.1

    delivery = page.locator(".delivery")
    expect(delivery).to_have_count(1)
    expect(delivery).to_contain_text("task.completed")
    expect(delivery.locator(".status")).to_have_text("delivered")
    expect(delivery.locator("ul.attempts li")).to_have_count(1)
    expect(delivery.locator("ul.attempts")).to_contain_text("HTTP 204")
    delivery.locator("button", has_text="Redeliver").click()
    expect(delivery.locator("ul.attempts li")).to_have_count(2)
    expect(delivery.locator(".status")).to_have_text("delivered")
    again = receiver.wait_for(2)
    assert again[0].headers["webhook-id"] == again[1].headers["webhook-id"]
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "task-detail")


def test_cancel_a_queued_task_from_its_page(page: Page, tmp_path: Path) -> None:
    stopped = start_gateway(tmp_path / "data", run_engine=False)
    try:
        key = stopped.make_key("cancel")
        with stopped.client(key) as api:
            queued = api.post("/v1/tasks", json={"prompt": "never rendered", **SHORT}).json()
        sign_in(page, stopped, key)
        expect(page.locator(f'tr[data-task-id="{queued["task_id"]}"] .status')).to_have_text(
            "queued"
        )
        page.goto(f"{stopped.url}/console/tasks/{queued['task_id']}")
        expect(page.locator(".task-status")).to_have_text("queued")
        expect(page.locator(".timeline")).to_contain_text("queued")
        expect(page.locator(".card", has_text="Result")).to_contain_text("Waiting in the queue")
        screenshot(page, "task-queued")
        page.click("button:has-text('Cancel task')")
        expect(page.locator(".task-status")).to_have_text("cancelled")
        expect(page.locator("button:has-text('Cancel task')")).to_be_hidden()
        expect(page.locator(".task-error")).to_contain_text("Cancelled")
        expect(page.locator(".timeline li").last).to_contain_text("cancelled")
        with stopped.client(key) as api:
            assert api.get(f"/v1/tasks/{queued['task_id']}").json()["status"] == "cancelled"
        screenshot(page, "task-cancelled")
    finally:
        stopped.stop()


def test_another_keys_task_is_not_found(page: Page, console_gateway: RunningGateway) -> None:
    with console_gateway.client(console_gateway.make_key("owner")) as api:
        theirs = api.post("/v1/tasks", json={"prompt": "private fox", **SHORT}).json()["task_id"]
    sign_in(page, console_gateway, console_gateway.make_key("stranger"))
    page.goto(f"{console_gateway.url}/console/tasks/{theirs}")
    notice = page.locator(".not-found")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Task not found")
    expect(notice).to_contain_text(theirs)
    expect(page.locator("dl.facts")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("private fox")
    screenshot(page, "task-not-found")
