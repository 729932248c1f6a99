"""Typed settings, read from `VIDGATE_*` environment variables at the edge."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "default_data_dir"]


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
    run_engine: bool = True
    local_concurrency: int = Field(default=2, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    task_deadline: int = Field(default=24 * 3600, gt=0)
    engine_idle_interval: float = Field(default=0.5, gt=0)

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [
                ipaddress.ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip()
            ]
        return value

    @property
    def database(self) -> str:
        """The SQLAlchemy async URL: the configured one, or SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'vidgate.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        """The absolute URL that result links start with."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
