"""Every provider of one process, built from the providers file, and the model routes."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from vidgate.dialects.outbound import Outbound
from vidgate.netguard import GuardedFetcher
from vidgate.providers.base import Provider, ProviderLimits
from vidgate.providers.local.provider import LocalProvider
from vidgate.providers.upstream import UpstreamProvider
from vidgate.settings import ProviderConfig, ProvidersFile

__all__ = ["DIALECT_MODULES", "Providers", "dialect_of"]

DIALECT_MODULES: dict[str, str] = {
    "dashscope": "vidgate.dialects.dashscope_outbound",
    "openai": "vidgate.dialects.openai",
    "native": "vidgate.dialects.native",
    "kik": "vidgate.dialects.kik",
    "nebula": "vidgate.dialects.nebula",
    "runway": "vidgate.dialects.runway_outbound",
    "luma": "vidgate.dialects.luma_outbound",
    "fal": "vidgate.dialects.fal_outbound",
    "replicate": "vidgate.dialects.replicate_outbound",
    "kling": "vidgate.dialects.kling_outbound",
    "minimax": "vidgate.dialects.minimax_outbound",
    "veo": "vidgate.dialects.veo_outbound",
}
"""The module of the dialect an upstream speaks (its `OUTBOUND`), by its kind; relays by their
`dialect` setting. Each is imported when a provider speaks it: a process loads only the wire
formats of its own providers."""


def dialect_of(config: ProviderConfig) -> Outbound:
    module = DIALECT_MODULES[config.dialect if config.kind == "relay" else config.kind]
    outbound: Outbound = importlib.import_module(module).OUTBOUND
    return outbound


@dataclass
class Providers:
    """Local renderers and upstream services by name, and which of them each model uses."""

    local: dict[str, Provider]
    upstream: dict[str, UpstreamProvider]
    file: ProvidersFile = field(default_factory=ProvidersFile)

    @classmethod
    def build(
        cls,
        file: ProvidersFile,
        fetcher: GuardedFetcher,
        local_concurrency: int,
        environ: Mapping[str, str] | None = None,
    ) -> Providers:
        env = os.environ if environ is None else environ
        local: dict[str, Provider] = {"local": LocalProvider(local_concurrency)}
        upstream: dict[str, UpstreamProvider] = {}
        for name, config in file.providers.items():
            if config.kind == "local":
                local[name] = LocalProvider(config.concurrency)
            else:
                upstream[name] = UpstreamProvider(
                    name, config, dialect_of(config), config.credentials(env), fetcher
                )
        return cls(local, upstream, file)

    def limits(self, name: str) -> ProviderLimits | None:
        provider = self.local.get(name) or self.upstream.get(name)
        return provider.limits if provider is not None else None

    def route(self, model: str) -> list[str]:
        return self.file.route(model)

    def names(self) -> list[str]:
        return [*self.local, *self.upstream]

    async def aclose(self) -> None:
        for provider in self.upstream.values():
            await provider.aclose()
