"""Docstrings read back from source, for a process that runs without them.

`vidgate serve` runs as `python -OO` (see `cli/main.py`), which leaves every `__doc__` unset,
while the OpenAPI document takes its operations' and schemas' descriptions from vidgate's
docstrings. These functions read them from vidgate's own source files instead (each file parsed
once), so the document is the same in either mode.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["docstring", "restore_class_docstrings", "stripped"]

Body = list[ast.stmt]


def stripped() -> bool:
    """Whether this interpreter leaves docstrings out (`-OO`)."""
    return sys.flags.optimize >= 2


def docstring(obj: type | Callable[..., Any]) -> str | None:
    """The docstring of a class or function: its `__doc__`, or, where the interpreter left
    that out, the one in its source file (None when it has none, or no source)."""
    if obj.__doc__ is not None or not stripped():
        return obj.__doc__
    if isinstance(obj, type):
        module = sys.modules.get(obj.__module__)
        path = getattr(module, "__file__", None)
        key = obj.__qualname__
    else:
        code = getattr(obj, "__code__", None)
        if code is None:
            return None
        path, key = code.co_filename, f"line {code.co_firstlineno}"
    return _docstrings_in(path).get(key) if path else None


def restore_class_docstrings(bases: tuple[type, ...]) -> None:
    """Give back their docstrings to the subclasses of ``bases`` defined at the top of vidgate's
    loaded modules (JSON schemas take their descriptions from them); nothing unless stripped."""
    if not stripped():
        return
    for name, module in list(sys.modules.items()):
        if name != "vidgate" and not name.startswith("vidgate."):
            continue
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and value.__module__ == name
                and issubclass(value, bases)
                and value.__doc__ is None
            ):
                value.__doc__ = docstring(value)


@functools.cache
def _docstrings_in(path: str) -> dict[str, str]:
    """The docstrings of every class (by qualified name) and function (by the line its code
    starts on: its first decorator's, else its `def`) in the source file at `path`."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), path)
    except (OSError, ValueError, SyntaxError):  # no source, or not Python source
        return {}
    found: dict[str, str] = {}
    _collect(tree.body, "", found)
    return found


def _collect(body: Body, prefix: str, found: dict[str, str]) -> None:
    for node in body:
        if isinstance(node, ast.ClassDef):
            name = f"{prefix}{node.name}"
            _record(found, name, node)
            _collect(node.body, f"{name}.", found)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            _record(found, f"line {first}", node)
            _collect(node.body, f"{prefix}{node.name}.<locals>.", found)


def _record(
    found: dict[str, str], key: str, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
) -> None:
    text = ast.get_docstring(node, clean=False)
    if text is not None:
        found[key] = text
