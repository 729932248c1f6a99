"""The console's pages: sign-in and sign-out, and the pages a signed-in key may open.

Pages are server-rendered shells; each one's live content comes from the gateway's own JSON
API, called by the page's script with the session cookie and its CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from vidgate import __version__
from vidgate.console.session import COOKIE_NAME, ConsoleSession, same_token
from vidgate.errors import ApiError
from vidgate.records import KeyRecord
from vidgate.server.auth import services_of

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

__all__ = ["PREFIX", "router", "static_files"]

PREFIX = "/console"
HERE = Path(__file__).parent


@cache
def templates() -> Jinja2Templates:
    """The pages' templates, loaded with Jinja on the first page served, not at start."""
    from starlette.templating import Jinja2Templates

    loaded = Jinja2Templates(directory=HERE / "templates")
    loaded.env.globals["version"] = __version__
    return loaded


router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


def static_files() -> StaticFiles:
    """The console's scripts, styles and vendored libraries."""
    return StaticFiles(directory=HERE / "static")


@dataclass(frozen=True)
class SignedIn:
    """The key and session behind a console page."""

    key: KeyRecord
    session: ConsoleSession


async def _signed_in(request: Request) -> SignedIn | None:
    services = services_of(request)
    session = services.sessions.read(request.cookies.get(COOKIE_NAME))
    if session is None:
        return None
    try:
        key = await services.keys.authenticate_session(session.key_id, session.fingerprint)
    except ApiError:
        return None
    return SignedIn(key, session)


def _page(
    request: Request, template: str, who: SignedIn, status: int = 200, **context: Any
) -> HTMLResponse:
    return templates().TemplateResponse(
        request,
        template,
        {"key": who.key, "csrf": who.session.csrf, "prefix": PREFIX, **context},
        status_code=status,
        headers=NO_STORE,
    )


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='/')}", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a console page of this gateway."""
    if target and target.startswith(f"{PREFIX}/") and not urlsplit(target).netloc:
        return target
    return f"{PREFIX}/"


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@router.get(f"{PREFIX}/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    if await _signed_in(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return templates().TemplateResponse(
        request,
        "sign_in.html",
        {"prefix": PREFIX, "next": _safe_next(next), "error": None},
        headers=NO_STORE,
    )


@router.post(f"{PREFIX}/sign-in")
async def sign_in(
    request: Request, key: str = Form(""), next: str = Form(f"{PREFIX}/")
) -> Response:
    services = services_of(request)
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        return _sign_in_error(request, next, "Sign in from this gateway's own page.", 403)
    try:
        found = await services.keys.authenticate(key.strip() or None)
    except ApiError as exc:
        return _sign_in_error(request, next, exc.message, exc.status_code)
    cookie, _ = services.sessions.issue(found)
    response = RedirectResponse(_safe_next(next), status_code=303, headers=NO_STORE)
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=services.sessions.ttl,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or services.settings.base_url.startswith("https:"),
    )
    return response


def _sign_in_error(request: Request, next: str, message: str, status: int) -> HTMLResponse:
    return templates().TemplateResponse(
        request,
        "sign_in.html",
        {"prefix": PREFIX, "next": _safe_next(next), "error": message},
        status_code=status,
        headers=NO_STORE,
    )


@router.post(f"{PREFIX}/sign-out")
async def sign_out(request: Request, csrf: str = Form("")) -> Response:
    who = await _signed_in(request)
    if who is not None and not same_token(csrf, who.session.csrf):
        return Response("Missing or wrong CSRF token.", status_code=403)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


PAGES: dict[str, tuple[str, str, bool]] = {
    "/": ("tasks.html", "tasks", False),
    "/new": ("new.html", "new", False),
    "/usage": ("usage.html", "usage", False),
    "/admin/keys": ("admin_keys.html", "admin-keys", True),
    "/admin/tasks": ("admin_tasks.html", "admin-tasks", True),
    "/admin/providers": ("admin_providers.html", "admin-providers", True),
    "/admin/audit": ("admin_audit.html", "admin-audit", True),
}
"""Console path: (template, page name for the navigation, admin keys only)."""


def _page_route(template: str, name: str, admin_only: bool) -> Any:
    async def page(request: Request) -> Response:
        who = await _signed_in(request)
        if who is None:
            return _to_sign_in(request)
        if admin_only and not who.key.admin:
            return _page(request, "forbidden.html", who, 403, page=name)
        return _page(request, template, who, page=name)

    page.__name__ = f"console_{name.replace('-', '_')}"
    return page


for _path, (_template, _name, _admin_only) in PAGES.items():
    router.add_api_route(
        f"{PREFIX}{_path}", _page_route(_template, _name, _admin_only), methods=["GET"]
    )


@router.get(PREFIX + "/tasks/{task_id}")
async def task_page(request: Request, task_id: str) -> Response:
    who = await _signed_in(request)
    if who is None:
        return _to_sign_in(request)
    return _page(request, "task.html", who, page="tasks", task_id=task_id)
