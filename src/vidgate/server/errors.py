"""Errors as JSON: `{"error": {"code", "message", "param"?}}`, never a bare 500 page.

Dialect routers answer in their own shapes: `dialect_route` gives them a route class that
hands every error of their routes, authentication included, to the dialect's renderer.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from vidgate.blobs import BlobsUnavailable
from vidgate.errors import ApiError, public_message
from vidgate.store import StoreFull, StoreUnavailable

__all__ = [
    "ErrorShape",
    "dialect_route",
    "error_response",
    "install_error_handlers",
    "naming",
    "unknown_routes",
]

log = logging.getLogger("vidgate.server")
CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "store_unavailable",
    507: "insufficient_storage",
}


OUTAGE_RETRY_AFTER = "5"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def outage(exc: BaseException) -> tuple[int, str, str, dict[str, str]] | None:
    """(status, code, message, headers) for an error that is the gateway's condition, not the
    request's: the store unavailable (503, retry later) or the disk full (507)."""
    if isinstance(exc, StoreUnavailable):
        message = "The gateway's database is unavailable; retry later."
        return 503, CODES[503], message, {"Retry-After": OUTAGE_RETRY_AFTER}
    if isinstance(exc, BlobsUnavailable):
        message = "The gateway's blob store is unavailable; retry later."
        return 503, CODES[503], message, {"Retry-After": OUTAGE_RETRY_AFTER}
    if isinstance(exc, StoreFull) or (isinstance(exc, OSError) and exc.errno in _DISK_FULL):
        message = "The gateway is out of storage space; retry later."
        return 507, CODES[507], message, {"Retry-After": OUTAGE_RETRY_AFTER}
    return None


class ErrorShape(Protocol):
    """Renders one error in a dialect's shape: (request, status, code, message, param)."""

    def __call__(
        self, request: Request, status: int, code: str, message: str, param: str | None
    ) -> Response: ...


def error_response(
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, str] = {"code": code, "message": public_message(message)}
    if param is not None:
        error["param"] = param
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def naming(param: str | None, message: str) -> str:
    """The message, prefixed with the field at fault unless it already names it."""
    if param is None or param in message:
        return message
    return f"{param}: {message}"


def _invalid(exc: RequestValidationError) -> tuple[str | None, str]:
    first = exc.errors()[0]
    location = [str(p) for p in first["loc"] if p not in ("body", "query", "path", "header")]
    param = ".".join(location) or None
    return param, f"{param}: {first['msg']}."


def dialect_route(shape: ErrorShape) -> type[APIRoute]:
    """A route class whose errors, authentication included, `shape` renders."""

    class DialectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except ApiError as exc:
                    message = public_message(exc.message)
                    answer = shape(request, exc.status_code, exc.code, message, exc.param)
                    answer.headers.update(exc.headers)
                    return answer
                except RequestValidationError as exc:
                    param, message = _invalid(exc)
                    return shape(request, 400, "invalid_request", message, param)
                except StarletteHTTPException as exc:
                    code = CODES.get(exc.status_code, "error")
                    message = public_message(str(exc.detail))
                    return shape(request, exc.status_code, code, message, None)
                except Exception as exc:
                    found = outage(exc)
                    if found is not None:
                        log.warning("%s: %s", found[1], exc)
                        response = shape(request, found[0], found[1], found[2], None)
                        response.headers.update(found[3])
                        return response
                    log.exception("unhandled error", exc_info=exc)
                    message = "The gateway hit an unexpected error."
                    return shape(request, 500, "internal_error", message, None)

            return handle

    return DialectRoute


ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def unknown_routes(router: APIRouter) -> None:
    """Answer every other method and path under a dialect router's prefix in its own shape:
    405 where the path is one of the router's routes, 404 where it is none. Call it once the
    router has all its routes."""

    async def unknown(request: Request) -> Response:
        for route in router.routes:
            known = isinstance(route, Route) and route.endpoint is not unknown
            if known and route.matches(request.scope)[0] is Match.PARTIAL:
                message = f"Invalid method: this URL does not take {request.method}."
                raise StarletteHTTPException(405, message)
        raise StarletteHTTPException(404, f"Invalid URL: there is no {request.method} route here.")

    for path in ("", "/{path:path}"):
        router.add_api_route(path, unknown, methods=ANY_METHOD, include_in_schema=False)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.param, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    param, message = _invalid(exc)
    return error_response(400, "invalid_request", message, param)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    found = outage(exc)
    if found is not None:
        log.warning("%s: %s", found[1], exc)
        status, code, message, headers = found
        return error_response(status, code, message, headers=headers)
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "The gateway hit an unexpected error.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Handled as such, not by the catch-all, which re-raises after answering and so drops
    # the client's keep-alive connection with each 503 or 507.
    for condition in (StoreUnavailable, StoreFull, BlobsUnavailable, OSError):
        app.add_exception_handler(condition, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
