"""Every provider of one process, built from the providers file, and the model routes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from vidgate.dialects import (
    dashscope_outbound,
    fal_outbound,
    kik,
    kling_outbound,
    luma_outbound,
    minimax_outbound,
    native,
    nebula,
    openai,
    replicate_outbound,
    runway_outbound,
    veo_outbound,
)
from vidgate.dialects.outbound import Outbound
from vidgate.netguard import GuardedFetcher
from vidgate.providers.base import Provider, ProviderLimits
from vidgate.providers.local.provider import LocalProvider
from vidgate.providers.upstream import UpstreamProvider
from vidgate.settings import ProviderConfig, ProvidersFile

__all__ = ["DIALECTS", "Providers", "dialect_of"]

DIALECTS: dict[str, Outbound] = {
    "dashscope": dashscope_outbound.OUTBOUND,
    "openai": openai.OUTBOUND,
    "native": native.OUTBOUND,
    "kik": kik.OUTBOUND,
    "nebula": nebula.OUTBOUND,
    "runway": runway_outbound.OUTBOUND,
    "luma": luma_outbound.OUTBOUND,
    "fal": fal_outbound.OUTBOUND,
    "replicate": replicate_outbound.OUTBOUND,
    "kling": kling_outbound.OUTBOUND,
    "minimax": minimax_outbound.OUTBOUND,
    "veo": veo_outbound.OUTBOUND,
}
"""The dialect an upstream speaks, by its kind; relays by their `dialect` setting."""


def dialect_of(config: ProviderConfig) -> Outbound:
    return DIALECTS[config.dialect if config.kind == "relay" else config.kind]


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
