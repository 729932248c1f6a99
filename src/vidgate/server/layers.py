"""Middleware put around an app's whole stack, outside the framework's own layers."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.types import ASGIApp

__all__ = ["wrap_outside"]


def wrap_outside(app: Starlette, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put ``wrap`` around the app's whole middleware stack, outside the framework's error
    and telemetry middleware, so that a request ``wrap`` answers costs only what it does
    itself. Call it before the app serves; the last one put is outermost."""
    build = app.build_middleware_stack

    def wrapped() -> ASGIApp:
        return wrap(build())

    app.build_middleware_stack = wrapped  # type: ignore[method-assign]
