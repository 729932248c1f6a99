"""The providers file: upstream services, their limits and credentials, and model routes."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vidgate.errors import VidgateError

__all__ = ["ConfigError", "ProviderConfig", "ProvidersFile", "load_providers"]

ProviderKind = Literal["local", "dashscope", "openai", "relay"]


class ConfigError(VidgateError):
    """The providers file cannot be used; the message names the file and the field."""


class ProviderConfig(BaseModel):
    """One upstream service, and how hard vidgate may drive it."""

    model_config = ConfigDict(extra="forbid")

    kind: ProviderKind
    base_url: str = ""
    dialect: Literal["native", "kik", "nebula"] = "native"
    api_key: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    api_key_env: str | None = None
    concurrency: int = Field(default=5, ge=1)
    requests_per_second: float = Field(default=5.0, gt=0)
    poll_interval: float = Field(default=5.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    max_poll_interval: float = Field(default=60.0, gt=0)
    expected_time_scale: float = Field(default=1.0, gt=0)
    """Scales seed 000's typical times for this upstream (0.1: it renders ten times faster)."""

    @model_validator(mode="after")
    def _needs_base_url(self) -> ProviderConfig:
        if self.kind != "local" and not self.base_url:
            raise ValueError(f"base_url is required for a {self.kind} provider")
        return self

    def credentials(self, environ: Mapping[str, str]) -> list[str]:
        """Every key this provider may use, in order; tasks are pinned to the one that took them."""
        keys = list(self.api_keys)
        if self.api_key:
            keys.insert(0, self.api_key)
        if self.api_key_env:
            value = environ.get(self.api_key_env, "")
            keys.extend(k.strip() for k in value.split(",") if k.strip())
        return keys


class ProvidersFile(BaseModel):
    """`[providers.NAME]` tables and a `[routes]` table of model → provider names."""

    model_config = ConfigDict(extra="forbid")

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routes: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _routes_name_providers(self) -> ProvidersFile:
        for model, names in self.routes.items():
            for name in names:
                if name != "local" and name not in self.providers:
                    raise ValueError(f"routes.{model} names unknown provider {name!r}")
        return self

    def route(self, model: str) -> list[str]:
        """Providers to try for a model, in order: its route, the default route, else local."""
        return list(self.routes.get(model) or self.routes.get("default") or ["local"])


def load_providers(path: Path | None, environ: Mapping[str, str] | None = None) -> ProvidersFile:
    """Read and check the providers file; no file means the local renderer only."""
    if path is None:
        return ProvidersFile()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        loaded = ProvidersFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    env = os.environ if environ is None else environ
    for name, provider in loaded.providers.items():
        if provider.kind != "local" and not provider.credentials(env):
            raise ConfigError(f"{path}: providers.{name} has no api_key, api_keys or api_key_env")
    return loaded
