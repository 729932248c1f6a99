"""Fake upstream servers for every dialect, with fault injection, for offline tests.

Start one with `FakeUpstream("dashscope")` (or `openai`, `native`, `kik`, `nebula`), point
a client at its `base_url`, and steer it through `faults`, `timing`, `complete_now` and
`fail_now`; `counters` tells what it received. `vidgate fake-upstream` serves the same
fakes from the command line.
"""

from __future__ import annotations

from vidgate.testing.app import API_BASES, DIALECTS, create_app
from vidgate.testing.clock import ManualClock
from vidgate.testing.counters import Counters
from vidgate.testing.errors import ErrorStyle
from vidgate.testing.faults import API_ROUTES, ROUTE_KINDS, Faults, SubmitFailure, TaskFailure
from vidgate.testing.media import sample_video
from vidgate.testing.server import FakeUpstream
from vidgate.testing.state import Dialect, FakeState
from vidgate.testing.styles import STYLES
from vidgate.testing.tasks import FakeTask, Phase, Timing

__all__ = [
    "API_BASES",
    "API_ROUTES",
    "DIALECTS",
    "ROUTE_KINDS",
    "STYLES",
    "Counters",
    "Dialect",
    "ErrorStyle",
    "FakeState",
    "FakeTask",
    "FakeUpstream",
    "Faults",
    "ManualClock",
    "Phase",
    "SubmitFailure",
    "TaskFailure",
    "Timing",
    "create_app",
    "sample_video",
]
