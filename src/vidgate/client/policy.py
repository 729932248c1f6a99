"""The SDK's retry and poll policy and its test mode, by their older name: `vidgate.retry`."""

from __future__ import annotations

from vidgate.retry import *  # noqa: F403
from vidgate.retry import __all__ as __all__
