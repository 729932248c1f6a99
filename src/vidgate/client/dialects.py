"""The dialect each SDK provider speaks, by provider name (`vidgate` speaks the native one).

The dialects themselves live in `vidgate.dialects`; `vidgate.client.profiles` says what else
the SDK does with each kind of server.
"""

from __future__ import annotations

from vidgate.client.profiles import PROFILES, default_model
from vidgate.dialects.outbound import Call, Outbound, TaskPage

__all__ = ["DIALECTS", "Call", "TaskPage", "default_model"]

DIALECTS: dict[str, Outbound] = {name: profile.dialect for name, profile in PROFILES.items()}
