"""Background work: dispatching tasks to providers and reaping stuck ones."""

from vidgate.engine.engine import Engine

__all__ = ["Engine"]
