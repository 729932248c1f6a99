"""Which server the client talks to: flags, then the environment, then `.env`."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.client.config import client_environ, resolve_target


def test_vidgate_variables_select_a_gateway_over_dashscope() -> None:
    env = {"VIDGATE_API_KEY": "vg", "DASHSCOPE_API_KEY": "ds"}
    target = resolve_target(env)
    assert (target.provider, target.base_url, target.api_key) == (
        "vidgate",
        "http://127.0.0.1:8000",
        "vg",
    )


def test_a_dashscope_key_alone_selects_dashscope_as_the_seed_does() -> None:
    target = resolve_target({"QWEN_API_KEY": "qw"})
    assert target.provider == "dashscope"
    assert target.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert target.api_key == "qw"
    beijing = resolve_target({"DASHSCOPE_API_KEY": "k", "DASHSCOPE_BASE_URL": "https://h.cn"})
    assert beijing.base_url == "https://h.cn/api/v1"


def test_flags_win_and_base_urls_are_normalised() -> None:
    env = {"VIDGATE_BASE_URL": "http://env:1", "VIDGATE_API_KEY": "vg"}
    target = resolve_target(env, provider="openai", base_url="http://relay:2/v1/")
    assert (target.provider, target.base_url, target.api_key) == ("openai", "http://relay:2", "vg")
    assert resolve_target({}, provider="kik").base_url == "https://51kik.com"
    with pytest.raises(ValueError, match="Unknown provider"):
        resolve_target({}, provider="sora")


def test_dotenv_fills_in_below_the_process_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "export VIDGATE_API_KEY=from-file\nVIDGATE_BASE_URL='http://file:9'\n# note\n"
    )
    env = client_environ(tmp_path, {"VIDGATE_API_KEY": "from-env"})
    assert env["VIDGATE_API_KEY"] == "from-env"
    assert env["VIDGATE_BASE_URL"] == "http://file:9"
    assert client_environ(tmp_path / "none", {}) == {}
