"""`vidgate.testing` names its public surface, and every module declares `__all__`."""

from __future__ import annotations

import importlib
import pkgutil

import vidgate.testing
from vidgate.cli import fake_upstream


def test_every_module_declares_all_and_exports_exist() -> None:
    names = [m.name for m in pkgutil.iter_modules(vidgate.testing.__path__)]
    assert {
        "faults",
        "counters",
        "server",
        "dashscope",
        "openai",
        "native",
        "kik",
        "nebula",
    } <= set(names)
    for name in names:
        module = importlib.import_module(f"vidgate.testing.{name}")
        assert hasattr(module, "__all__"), name
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name}.{exported}"
    for exported in vidgate.testing.__all__:
        assert hasattr(vidgate.testing, exported), exported
    assert set(fake_upstream.__all__) >= {"add_parser", "run"}


def test_the_package_exports_the_main_entry_points() -> None:
    assert {"FakeUpstream", "Faults", "Counters", "Timing", "ManualClock", "DIALECTS"} <= set(
        vidgate.testing.__all__
    )
    assert vidgate.testing.DIALECTS[:5] == ("dashscope", "openai", "native", "kik", "nebula")
    assert {"kling", "minimax", "veo"} <= set(vidgate.testing.DIALECTS)
