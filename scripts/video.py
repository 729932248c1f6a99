#!/usr/bin/env python3
"""Seed 000's `scripts/video.py`: the same flags and behaviour as `vidgate video`.

Run it with any Python 3: when vidgate is not importable, it re-runs itself with the
checkout's `.venv` interpreter (which `make serve` or `make check` creates).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    try:
        from vidgate.cli.video import main as video
    except ImportError:
        venv = ROOT / ".venv"
        python = venv / "bin" / "python"
        if python.exists() and Path(sys.prefix).resolve() != venv.resolve():
            os.execv(python, [str(python), __file__, *sys.argv[1:]])
        print(
            "Error: vidgate is not installed; run `make check` (or pip install -e .) first.",
            file=sys.stderr,
        )
        return 1
    return video(prog="scripts/video.py")


if __name__ == "__main__":
    sys.exit(main())
