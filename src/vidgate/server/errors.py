"""Errors as JSON: `{"error": {"code", "message", "param"?}}`, never a bare 500 page.

Dialect routers answer in their own shapes: `dialect_route` gives them a route class that
hands every error of their routes, authentication included, to the dialect's renderer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from vidgate.errors import ApiError

__all__ = [
    "ErrorShape",
    "dialect_route",
    "error_response",
    "install_error_handlers",
    "naming",
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
}


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
    error: dict[str, str] = {"code": code, "message": message}
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
                    return shape(request, exc.status_code, exc.code, exc.message, exc.param)
                except RequestValidationError as exc:
                    param, message = _invalid(exc)
                    return shape(request, 400, "invalid_request", message, param)
                except StarletteHTTPException as exc:
                    code = CODES.get(exc.status_code, "error")
                    return shape(request, exc.status_code, code, str(exc.detail), None)
                except Exception as exc:
                    log.exception("unhandled error", exc_info=exc)
                    message = "The gateway hit an unexpected error."
                    return shape(request, 500, "internal_error", message, None)

            return handle

    return DialectRoute


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.param)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    param, message = _invalid(exc)
    return error_response(400, "invalid_request", message, param)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "The gateway hit an unexpected error.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
