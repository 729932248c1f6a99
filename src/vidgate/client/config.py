"""Which server the client talks to: provider, base URL and key, from arguments and environment.

Precedence, first found wins:

1. explicit arguments (`Client(base_url=…, api_key=…, provider=…)`, or the CLI's flags);
2. the process environment;
3. a `.env` file in the working directory (the CLI reads it; the SDK only when asked).

Without an explicit provider, `VIDGATE_BASE_URL` or `VIDGATE_API_KEY` selects a vidgate
gateway; otherwise `DASHSCOPE_API_KEY` (or `QWEN_API_KEY`, or `DASHSCOPE_BASE_URL`) selects
DashScope directly, as the video.py client does; otherwise a gateway on 127.0.0.1:8000.

Base URLs are written as each service's own SDK writes them: DashScope's ends in `/api/v1`
(added when only a host is given); OpenAI's may end in `/v1`; the others are host roots.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values

__all__ = [
    "DEFAULT_BASE_URLS",
    "PROVIDERS",
    "Provider",
    "Target",
    "client_environ",
    "resolve_target",
]

Provider = Literal["vidgate", "dashscope", "kik", "nebula", "openai"]
PROVIDERS: tuple[Provider, ...] = ("vidgate", "dashscope", "kik", "nebula", "openai")
DEFAULT_BASE_URLS: dict[Provider, str] = {
    "vidgate": "http://127.0.0.1:8000",
    "dashscope": "https://dashscope-intl.aliyuncs.com/api/v1",
    "kik": "https://51kik.com",
    "nebula": "https://llm.ai-nebula.com",
    "openai": "https://api.openai.com",
}
KEY_VARIABLES: dict[Provider, tuple[str, ...]] = {
    "vidgate": ("VIDGATE_API_KEY",),
    "dashscope": ("DASHSCOPE_API_KEY", "QWEN_API_KEY"),
    "kik": ("VIDGATE_API_KEY",),
    "nebula": ("VIDGATE_API_KEY",),
    "openai": ("VIDGATE_API_KEY", "OPENAI_API_KEY"),
}
URL_VARIABLES: dict[Provider, str] = {
    "vidgate": "VIDGATE_BASE_URL",
    "dashscope": "DASHSCOPE_BASE_URL",
    "kik": "VIDGATE_BASE_URL",
    "nebula": "VIDGATE_BASE_URL",
    "openai": "VIDGATE_BASE_URL",
}


@dataclass(frozen=True)
class Target:
    """A server and how to reach it."""

    provider: Provider
    base_url: str
    api_key: str | None


def client_environ(
    directory: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment with `.env` from `directory` (default: the working directory) beneath it."""
    dotenv = Path(directory or Path.cwd()) / ".env"
    values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None}
    values.update(os.environ if environ is None else environ)
    return values


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((env[name] for name in names if env.get(name)), None)


def _pick_provider(env: Mapping[str, str]) -> Provider:
    if env.get("VIDGATE_BASE_URL") or env.get("VIDGATE_API_KEY"):
        return "vidgate"
    if _first(env, ("DASHSCOPE_API_KEY", "QWEN_API_KEY", "DASHSCOPE_BASE_URL")):
        return "dashscope"
    return "vidgate"


def resolve_target(
    env: Mapping[str, str],
    *,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Target:
    """The provider, base URL and key to use, by the precedence in this module's docstring."""
    if provider is not None and provider not in PROVIDERS:
        raise ValueError(f"Unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}.")
    chosen = provider if provider is not None else _pick_provider(env)
    url = (base_url or env.get(URL_VARIABLES[chosen]) or DEFAULT_BASE_URLS[chosen]).rstrip("/")
    if chosen == "openai":
        url = url.removesuffix("/v1")
    elif chosen == "dashscope" and not urlsplit(url).path.strip("/"):
        url += "/api/v1"
    key = api_key or _first(env, KEY_VARIABLES[chosen])
    return Target(chosen, url, key)
