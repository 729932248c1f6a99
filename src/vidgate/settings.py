"""Typed settings: `VIDGATE_*` environment variables, and the providers file they may name.

Both are read at the edge, once, when a process starts."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vidgate.catalog import MODELS
from vidgate.errors import VidgateError
from vidgate.pricing import DEFAULT_ROW, Price, PriceRow, PriceTable

__all__ = [
    "ConfigError",
    "ProviderConfig",
    "ProvidersFile",
    "Settings",
    "default_data_dir",
    "load_providers",
]


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/vidgate`, else `~/.local/share/vidgate`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vidgate"


class Settings(BaseSettings):
    """Everything an operator can configure; each field is `VIDGATE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="VIDGATE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    secret_key: str | None = None
    allow_networks: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = (
        Field(default_factory=list)
    )
    result_url_ttl: int = Field(default=24 * 3600, gt=0)
    console: bool = True
    """Serve the web console at `/`."""
    console_session_ttl: int = Field(default=12 * 3600, gt=0)
    """Seconds a console sign-in lasts."""
    result_retention: int | None = Field(default=None, gt=0)
    """Seconds a finished task's video and previews are kept; unset: `result_url_ttl`."""
    blob_url: str | None = None
    """Where blobs live: unset is the data dir's `blobs/`, `s3://bucket/prefix` a bucket."""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    media_redirect: bool = False
    """On S3, answer media URLs with a redirect to a presigned object URL, not the bytes."""
    media_redirect_ttl: int = Field(default=300, gt=0)
    blob_cache_bytes: int = Field(default=2 * 1024**3, ge=0)
    """On S3, the most bytes of local copies (inputs, videos to cut previews from) kept."""
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_input_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    input_fetch_timeout: float = Field(default=20.0, gt=0)
    config: Path | None = None
    max_result_bytes: int = Field(default=2 * 1024**3, gt=0)
    sse_heartbeat: float = Field(default=15.0, gt=0)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_retry_window: float = Field(default=24 * 3600, gt=0)
    webhook_retry_base: float = Field(default=5.0, gt=0)
    webhook_attempt_timeout: float = Field(default=15.0, gt=0)
    webhook_host_concurrency: int = Field(default=4, ge=1)
    webhook_concurrency: int = Field(default=256, ge=1)
    webhook_breaker_failures: int = Field(default=5, ge=1)
    webhook_breaker_cooldown: float = Field(default=60.0, gt=0)
    webhook_lease: float = Field(default=60.0, gt=0)
    run_engine: bool = True
    local_concurrency: int = Field(default=2, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    task_deadline: int = Field(default=24 * 3600, gt=0)
    engine_idle_interval: float = Field(default=0.5, gt=0)
    event_listen: bool = True
    """On PostgreSQL, hear of other nodes' events by LISTEN; false: tail the events table."""
    event_tail_interval: float = Field(default=0.25, gt=0)
    """Seconds between reads of the events table where no LISTEN connection is open."""
    drain_timeout: float = Field(default=30.0, ge=0)
    """Seconds a stopping process gives work in hand and open event streams to finish."""
    metrics_token: str | None = None
    """A bearer token that may read `/metrics` from anywhere."""
    metrics_loopback: bool = True
    """Loopback clients may read `/metrics` without a token (false behind a local proxy)."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Where `vidgate worker` serves its `/metrics` (on `host`); unset: it serves none."""
    log_format: Literal["text", "json"] = "text"
    """`json`: every log line one JSON object, with the task, key and request it concerns."""

    @field_validator("blob_url")
    @classmethod
    def _blob_url_is_s3(cls, value: str | None) -> str | None:
        if value and not (value.startswith("s3://") and value[5:].split("/", 1)[0]):
            raise ValueError("must be s3://bucket or s3://bucket/prefix (unset: the data dir)")
        return value or None

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [
                ipaddress.ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip()
            ]
        return value

    @model_validator(mode="after")
    def _webhook_lease_outlasts_an_attempt(self) -> Settings:
        if self.webhook_lease <= self.webhook_attempt_timeout:
            raise ValueError("webhook_lease must be longer than webhook_attempt_timeout")
        return self

    @property
    def database(self) -> str:
        """The SQLAlchemy async URL: the configured one, or SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'vidgate.db'}"

    @property
    def blob_dir(self) -> Path:
        """The blobs on local disk; with an S3 `blob_url`, scratch files and a read cache."""
        return self.data_dir / "blobs"

    @property
    def retention(self) -> int:
        """Seconds results are kept after their task finishes."""
        return self.result_retention or self.result_url_ttl

    @property
    def base_url(self) -> str:
        """The absolute URL that result links start with."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


ProviderKind = Literal[
    "local",
    "dashscope",
    "openai",
    "relay",
    "runway",
    "luma",
    "fal",
    "replicate",
    "kling",
    "minimax",
    "veo",
]


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
    """Scales the catalog's typical times for this upstream (0.1: it renders ten times faster)."""
    sweep_interval: float = Field(default=2.0, ge=0)
    """Seconds between sweeps of the upstream's task listing, where its API lists unfinished
    tasks (DashScope): one sweep answers the due polls of every task it lists. 0: never."""
    callbacks: bool = True
    """Register vidgate's callback URL at submit where the API can call back (needs
    `VIDGATE_PUBLIC_URL`); polling then slows to `callback_poll_factor` times its schedule."""
    callback_poll_factor: float = Field(default=4.0, ge=1)
    callback_jwks_url: str = "https://rest.alpha.fal.ai/.well-known/jwks.json"
    """Where fal publishes the keys its callbacks are signed with."""

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
    """`[providers.NAME]` tables, a `[routes]` table of model → provider names, and an
    optional `[prices]` table of credits per model and resolution tier."""

    model_config = ConfigDict(extra="forbid")

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routes: dict[str, list[str]] = Field(default_factory=dict)
    prices: dict[str, PriceRow] = Field(default_factory=dict)

    @field_validator("prices")
    @classmethod
    def _prices_name_models(cls, prices: dict[str, PriceRow]) -> dict[str, PriceRow]:
        for model in prices:
            if model != DEFAULT_ROW and model not in MODELS:
                raise ValueError(f"prices.{model}: no such model (rows name a model or default)")
        return prices

    def price(self, model: str, tier: str) -> Price:
        """The price a task of ``model`` at resolution ``tier`` is accepted at now."""
        return PriceTable(rows=self.prices).price(model, tier)

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


def _missing_credentials(provider: ProviderConfig) -> str:
    if provider.api_key_env:
        return (
            f"api_key_env names {provider.api_key_env}, which is not set; "
            f"export {provider.api_key_env}=<key> (or set api_key)"
        )
    return "no credentials; set api_key, api_keys or api_key_env"


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
            raise ConfigError(f"{path}: providers.{name}: {_missing_credentials(provider)}")
        if provider.kind == "kling" and not all(
            k.count(":") == 1 and all(k.split(":")) for k in provider.credentials(env)
        ):
            raise ConfigError(
                f"{path}: providers.{name}: a Kling key is ACCESS_KEY:SECRET_KEY (one colon)"
            )
    return loaded
