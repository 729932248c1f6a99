"""What every DashScope route shares: the request id it answers with and its error shape."""

from __future__ import annotations

import uuid

from fastapi import Request
from starlette.responses import JSONResponse, Response

from vidgate.dialects import dashscope
from vidgate.server.errors import dialect_route, naming

__all__ = ["ROUTE_CLASS", "error_response", "request_id_of"]


def request_id_of(request: Request) -> str:
    """The id the gateway tags this request with (its `x-request-id`)."""
    found = getattr(request.state, "request_id", None)
    return found if isinstance(found, str) else uuid.uuid4().hex


def error_response(
    request: Request, status: int, code: str, message: str, param: str | None
) -> Response:
    """An error as DashScope answers it: `{code, message, request_id}`."""
    wire_status, body = dashscope.render_error(
        code, naming(param, message), request_id_of(request), status
    )
    return JSONResponse(body, status_code=wire_status)


ROUTE_CLASS = dialect_route(error_response)
"""The route class whose errors, authentication included, DashScope's shape renders."""
