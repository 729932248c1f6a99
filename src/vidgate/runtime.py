"""Assembling a running gateway or worker from its settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from vidgate.blobs import BlobStore, load_secret
from vidgate.config import load_providers
from vidgate.engine import Engine
from vidgate.engine.deliver import Deliverer
from vidgate.eventtail import tail_events
from vidgate.inputs import InputFetcher
from vidgate.netguard import GuardedFetcher
from vidgate.notifier import Notifier
from vidgate.providers.registry import Providers
from vidgate.service import Gateway
from vidgate.settings import Settings
from vidgate.store import Store

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """The store, blobs, service and engine of one process, opened and closed together."""

    settings: Settings
    store: Store
    gateway: Gateway
    engine: Engine
    fetcher: GuardedFetcher
    providers: Providers
    wake: Callable[[str, str], None]
    tail: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database)
        await store.open()
        blobs = BlobStore(
            settings.blob_dir,
            load_secret(settings.data_dir, settings.secret_key),
            settings.base_url,
        )
        fetcher = GuardedFetcher(settings.allow_networks, settings.input_fetch_timeout)
        providers = Providers.build(
            load_providers(settings.config), fetcher, settings.local_concurrency
        )
        notifier = Notifier()

        def wake(task_id: str, owner_id: str) -> None:
            notifier.notify(f"task:{task_id}")
            notifier.notify(f"owner:{owner_id}")
            notifier.notify("deliveries")

        store.listeners.append(wake)
        gateway = Gateway(
            settings,
            store,
            blobs,
            InputFetcher(blobs, fetcher, settings.max_input_bytes),
            providers,
            notifier,
        )
        deliverer = Deliverer(
            store,
            fetcher,
            f"deliver-{id(notifier):x}",
            gateway.webhook_payload,
            timeout=settings.webhook_timeout,
            retry_window=settings.webhook_retry_window,
            retry_base=settings.webhook_retry_base,
        )
        engine = Engine(
            settings,
            store,
            blobs,
            providers,
            notifier,
            lambda name: gateway.sign(name).url,
            deliverer,
        )
        return cls(settings, store, gateway, engine, fetcher, providers, wake)

    def follow_events(self) -> None:
        """Wake this process's waiters for changes that other processes make."""
        self.tail = asyncio.create_task(tail_events(self.store, self.wake), name="event-tail")

    async def close(self) -> None:
        if self.tail is not None:
            self.tail.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.tail
        await self.engine.stop()
        await self.providers.aclose()
        await self.fetcher.aclose()
        await self.store.close()
