"""Reading JSON request bodies within the size limit."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request

from vidgate.dialects.common import check_json, whole_number
from vidgate.errors import InvalidRequest, PayloadTooLarge

__all__ = ["parse_json", "read_json"]


def _no_constant(name: str) -> float:
    raise InvalidRequest(f"The request body is not valid JSON: {name} is not a JSON number.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRequest(f"The request body has a number out of range: {text[:40]}.")
    return value


def parse_json(raw: bytes) -> Any:
    """A body as JSON, checked by `check_json`; a 400 for anything a later step could not
    store or send back: NaN and infinities, integers past Python's 4300-digit limit, nesting
    past the parser's recursion limit."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply.") from None
    except ValueError:
        # int() refuses a number of more than 4300 digits (sys.get_int_max_str_digits).
        raise InvalidRequest("The request body has a number with too many digits.") from None
    check_json(body)
    return body


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body; 413 past `limit` bytes, 400 if it is not JSON (see `parse_json`)."""
    declared = whole_number(request.headers.get("content-length", ""))
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))
