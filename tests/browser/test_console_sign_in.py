"""Signing in to the console: a signed, HttpOnly, SameSite=Strict cookie that never holds the
key."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from conftest import RunningGateway
from console_browser import screenshot, sign_in


def test_sign_in_keeps_a_signed_session_and_never_the_key(
    page: Page, console_gateway: RunningGateway
) -> None:
    key = console_gateway.make_key("alice")
    page.goto(f"{console_gateway.url}/")
    expect(page).to_have_url(f"{console_gateway.url}/console/sign-in?next=/console/")
    page.fill("#key", "vg-not-a-key")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("Invalid API key")
    screenshot(page, "sign-in-refused")

    sign_in(page, console_gateway, key)
    expect(page.locator(".key-name")).to_contain_text("alice")
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["vidgate_console"]
    session = cookies[0]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["expires"] > 0
    assert key not in session["value"]
    storage = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert key not in storage
    assert page.evaluate("document.cookie") == ""  # out of reach of scripts

    with httpx.Client(base_url=console_gateway.url) as client:
        client.cookies.set("vidgate_console", session["value"])
        assert client.get("/v1/tasks").status_code == 200
        refused = client.post("/v1/tasks", json={"prompt": "a fox"})
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["error"]["message"]
        client.cookies.set("vidgate_console", session["value"][:-2] + "xx")
        assert client.get("/v1/tasks").status_code == 401

    page.click("text=Sign out")
    expect(page).to_have_url(f"{console_gateway.url}/console/sign-in")
    assert page.context.cookies() == []
