"""The public surface: everything in `__all__` imports, and every SDK module declares one."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import vidgate
import vidgate.client


def test_every_name_in_the_package_all_is_importable() -> None:
    for name in vidgate.__all__:
        assert getattr(vidgate, name) is not None, name
    assert len(set(vidgate.__all__)) == len(vidgate.__all__)


def test_the_package_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(vidgate).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public <= set(vidgate.__all__)
    for name in ("Client", "AsyncClient", "Task", "Status", "VidgateError", "WaitTimeout"):
        assert name in vidgate.__all__


def test_errors_share_one_root() -> None:
    for name in vidgate.__all__:
        value = getattr(vidgate, name)
        if inspect.isclass(value) and issubclass(value, Exception):
            assert issubclass(value, vidgate.VidgateError), name


def test_every_sdk_and_cli_module_declares_all() -> None:
    names = [f"vidgate.client.{m.name}" for m in pkgutil.iter_modules(vidgate.client.__path__)]
    names += ["vidgate.client", "vidgate.cli.video", "vidgate.cli.progress"]
    for name in names:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, name
        for item in exported:
            assert hasattr(module, item), f"{name}.{item}"
