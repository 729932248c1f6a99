"""The console's usage page and admin pages, driven in a browser against a real gateway."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Dialog, Page, expect

from conftest import RunningGateway
from console_browser import screenshot, sign_in

SHORT = {"prompt": "a paper boat on a pond", "duration": 2, "resolution": "480P"}
LONG = {"prompt": "a storm rolling over the hills", "duration": 15, "resolution": "1080P"}


def accept(dialog: Dialog) -> None:
    dialog.accept()


def finish(client: httpx.Client, task_id: str, deadline_s: float = 30) -> dict[str, Any]:
    """Wait for a task to end, long-polling the gateway."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
        if task["status"] in ("completed", "failed", "cancelled"):
            return task
    raise AssertionError(f"task {task_id} did not finish within {deadline_s} s")


def test_admin_creates_a_key_once_revokes_another_and_the_audit_shows_it(
    page: Page, console_gateway: RunningGateway
) -> None:
    gateway = console_gateway
    admin = gateway.make_key("ops-admin", admin=True)
    victim = gateway.make_key("old-laptop", quota=30)
    with gateway.client(victim) as client:
        assert client.get("/v1/account").status_code == 200

    sign_in(page, gateway, admin)
    page.click("nav >> text=Keys")
    expect(page).to_have_url(f"{gateway.url}/console/admin/keys")
    expect(page.locator("tr[data-key-name='old-laptop']")).to_contain_text("active")

    page.fill("#new-name", "render-farm")
    page.fill("#new-quota", "120")
    page.click("text=Create key")
    box = page.locator("[data-secret-box]")
    expect(box).to_be_visible()
    expect(box).to_contain_text("will not be shown again")
    expect(box.locator("button", has_text="Copy")).to_be_visible()
    secret = page.locator("#new-secret").inner_text().strip()
    with gateway.client(secret) as client:
        account = client.get("/v1/account").json()
        assert (account["name"], account["quota"]) == ("render-farm", 120)
    created = page.locator("tr[data-key-name='render-farm']")
    expect(created).to_contain_text("120")
    screenshot(page, "admin-keys-secret")

    page.reload()
    expect(created).to_be_visible()
    expect(page.locator("[data-secret-box]")).to_be_hidden()
    assert secret not in page.content()

    created.locator("button", has_text="Limits").click()
    page.fill("#limit-in-flight", "2")
    page.fill("#limit-submits", "30")
    page.click("text=Save limits")
    expect(created).to_contain_text("In flight: 2")
    expect(created).to_contain_text("Submits/min: 30")
    created.locator("button", has_text="Quota").click()
    page.fill("#quota-top-up", "30")
    page.click("text=Top up")
    expect(page.locator(".dialog")).to_be_hidden()
    expect(created.locator("td").nth(2)).to_have_text("150")
    created.locator("button", has_text="Quota").click()
    page.fill("#quota-value", "200")
    screenshot(page, "admin-keys-quota")
    page.click("text=Set quota")
    expect(created.locator("td").nth(2)).to_have_text("200")

    page.once("dialog", accept)
    created.locator("button", has_text="Rotate").click()
    expect(page.locator("[data-secret-box]")).to_contain_text("New secret for “render-farm”")
    rotated = page.locator("#new-secret").inner_text().strip()
    assert rotated != secret
    with gateway.client(secret) as old, gateway.client(rotated) as new:
        assert old.get("/v1/account").status_code == 401
        assert new.get("/v1/account").json()["name"] == "render-farm"
    page.click("text=Dismiss")

    page.once("dialog", accept)
    page.locator("tr[data-key-name='old-laptop'] button", has_text="Revoke").click()
    expect(page.locator("tr[data-key-name='old-laptop']")).to_contain_text("revoked")
    with gateway.client(victim) as client:
        assert client.get("/v1/account").status_code == 401
    screenshot(page, "admin-keys")

    page.click("nav >> text=Audit log")
    revoke = page.locator("tr[data-action='key.revoke']")
    expect(revoke).to_have_count(1)
    expect(revoke).to_contain_text("Revoked key")
    expect(revoke).to_contain_text("old-laptop")
    expect(revoke).to_contain_text("ops-admin")
    expect(revoke.locator("ul.diff")).to_contain_text("revoked_at")
    limits = page.locator("tr[data-action='key.set_limits']")
    expect(limits.locator("ul.diff")).to_contain_text("max_in_flight")
    screenshot(page, "admin-audit")


def test_admin_sees_every_keys_tasks_cancels_one_and_reads_provider_health(
    page: Page, console_gateway: RunningGateway
) -> None:
    gateway = console_gateway
    admin = gateway.make_key("night-shift", admin=True)
    with gateway.client(gateway.make_key("studio", quota=100)) as studio:
        done = studio.post("/v1/tasks", json=SHORT).json()["task_id"]
        finish(studio, done)
        running = studio.post("/v1/tasks", json=LONG).json()["task_id"]

    sign_in(page, gateway, admin)
    page.goto(f"{gateway.url}/console/admin/tasks")
    page.select_option("#filter-key", label="studio")
    rows = page.locator("#all-tasks tbody tr[data-task-id]")
    expect(rows).to_have_count(2)
    expect(page.locator(f"tr[data-task-id='{done}']")).to_contain_text("completed")
    page.select_option("#filter-status", "completed")
    expect(rows).to_have_count(1)
    page.click("text=Clear filters")
    target = page.locator(f"tr[data-task-id='{running}']")
    expect(target).to_contain_text("studio")
    page.once("dialog", accept)
    target.locator("button", has_text="Cancel").click()
    expect(target.locator(".status")).to_have_text("cancelled")
    with gateway.client(admin) as client:
        shown = client.get("/admin/v1/audit", params={"target": running}).json()["data"]
        assert [entry["action"] for entry in shown] == ["task.cancel"]
    screenshot(page, "admin-tasks")

    page.click("nav >> text=Providers")
    local = page.locator("#providers tbody tr[data-provider]").first
    expect(local).to_be_visible()
    expect(page.locator("#providers")).to_contain_text("In flight")
    expect(page.locator("#providers")).to_contain_text("Error rate")
    screenshot(page, "admin-providers")


def test_an_ordinary_key_sees_no_admin_links_and_admin_pages_answer_403(
    page: Page, console_gateway: RunningGateway
) -> None:
    gateway = console_gateway
    sign_in(page, gateway, gateway.make_key("intern"))
    expect(page.locator(".topbar nav")).to_contain_text("Usage")
    expect(page.locator(".topbar nav a[href^='/console/admin']")).to_have_count(0)
    expect(page.locator(".nav-group")).to_have_count(0)
    for path in ("keys", "tasks", "providers", "audit"):
        answer = page.goto(f"{gateway.url}/console/admin/{path}")
        assert answer is not None and answer.status == 403, path
        expect(page.locator("h1")).to_have_text("Admins only")
    screenshot(page, "admin-forbidden")


def test_usage_shows_the_balance_and_charts_spend_once_a_task_is_charged(
    page: Page, console_gateway: RunningGateway
) -> None:
    gateway = console_gateway
    key = gateway.make_key("video-team", quota=50)
    sign_in(page, gateway, key)
    page.click("nav >> text=Usage")
    expect(page.locator("[data-stat='balance'] .stat-value")).to_have_text("50")
    expect(page.locator("[data-empty='spend']")).to_be_visible()
    expect(page.locator("#spend-chart canvas")).to_have_count(0)
    screenshot(page, "usage-empty")

    with gateway.client(key) as client:
        task = finish(client, client.post("/v1/tasks", json=SHORT).json()["task_id"])
    assert task["status"] == "completed"
    cost = task["usage"]["cost"]
    page.reload()
    expect(page.locator("[data-stat='balance'] .stat-value")).to_have_text(f"{50 - cost:g}")
    expect(page.locator("[data-stat='used'] .stat-value")).to_have_text(f"{cost:g}")
    expect(page.locator("[data-limit='max_in_flight']")).to_have_text("No limit")
    expect(page.locator("#spend-chart canvas")).to_be_visible()
    expect(page.locator("[data-empty='spend']")).to_be_hidden()
    ledger = page.locator("#ledger tbody tr:has(a)")
    expect(ledger).to_have_count(2)
    expect(ledger.first).to_contain_text("Charged")
    expect(ledger.nth(1)).to_contain_text("Reserved")
    screenshot(page, "usage")
    spend = page.locator("section", has=page.locator("#spend-title"))
    expect(spend).to_contain_text("credits charged per hour")
    page.click("text=Last 30 days, per day")
    expect(spend).to_contain_text("credits charged per day")
    expect(spend).to_contain_text(f"{cost:g} credits charged in this range")
    expect(page.locator("#spend-chart canvas")).to_be_visible()
