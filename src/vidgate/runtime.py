"""Assembling a running gateway or worker from its settings."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from vidgate.blobs import BlobStore, open_blobs
from vidgate.cluster import agree_with_cluster
from vidgate.engine import Engine
from vidgate.engine.deliver import Deliverer, DeliveryLimits
from vidgate.engine.engine import cancel_until_done
from vidgate.eventfeed import EventFeed
from vidgate.inputs import InputFetcher
from vidgate.models import Status
from vidgate.netguard import GuardedFetcher
from vidgate.notifier import Notifier
from vidgate.providers.registry import Providers
from vidgate.records import Delivery, Event, EventNotice
from vidgate.service import Files, Keys, Presenter, Services, Tasks
from vidgate.settings import Settings, load_providers
from vidgate.store import Store, open_store

__all__ = ["Runtime", "Wakeups"]

log = logging.getLogger("vidgate")
STALE_STAGING = 600.0
"""Seconds after which a scratch file in `blobs/tmp` is taken for a dead process's leftover."""


class Wakeups:
    """The one place that turns stored events into wake-ups of whoever waits on them."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def __call__(self, event: Event) -> None:
        """An event this process committed (a store listener)."""
        self.route(EventNotice.of(event))

    def route(self, notice: EventNotice) -> None:
        """Wake the task's waiters, the owner's streams, the deliverer, and for a new task the
        dispatchers of its provider."""
        notify = self.notifier.notify
        notify(f"task:{notice.task_id}")
        notify(f"owner:{notice.owner_id}")
        notify("deliveries")
        if notice.status is Status.QUEUED and notice.provider is not None:
            notify(f"provider:{notice.provider}")


@dataclass
class Runtime:
    """The store, blobs, services and engine of one process, opened and closed together."""

    settings: Settings
    store: Store
    services: Services
    engine: Engine
    fetcher: GuardedFetcher
    providers: Providers
    wake: Wakeups
    blobs: BlobStore
    feed: EventFeed | None = None
    tail: asyncio.Task[None] | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the process begins to shut down; open event streams end on it."""

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.database)
        await store.open()
        try:
            blobs = await open_blobs(settings)
        except Exception:
            await store.close()
            raise
        stale = blobs.clear_staging(older_than=STALE_STAGING)
        if stale:
            log.info("removed %d stale scratch files from %s", stale, settings.blob_dir / "tmp")
        try:
            await agree_with_cluster(settings, store, blobs)
        except Exception:
            await store.close()
            raise
        fetcher = GuardedFetcher(settings.allow_networks, settings.input_fetch_timeout)
        providers = Providers.build(
            load_providers(settings.config), fetcher, settings.local_concurrency
        )
        notifier = Notifier()
        wake = Wakeups(notifier)
        store.listeners.append(wake)
        presenter = Presenter(blobs, settings.result_url_ttl)
        tasks = Tasks(
            store,
            blobs,
            InputFetcher(blobs, fetcher, settings.max_input_bytes),
            providers,
            notifier,
            presenter,
        )
        services = Services(
            settings=settings,
            keys=Keys(store),
            tasks=tasks,
            files=Files(store, blobs, presenter),
            presenter=presenter,
            blobs=blobs,
        )

        async def webhook_payload(delivery: Delivery) -> dict[str, object]:
            task = await store.task(delivery.task_id)
            assert task is not None
            return presenter.webhook_payload(delivery, task)

        deliverer = Deliverer(
            store,
            fetcher,
            f"deliver-{id(notifier):x}",
            webhook_payload,
            timeout=settings.webhook_timeout,
            retry_window=settings.webhook_retry_window,
            retry_base=settings.webhook_retry_base,
            limits=DeliveryLimits.from_settings(settings),
        )
        engine = Engine(
            settings, store, blobs, providers, notifier, presenter.public_url, deliverer
        )
        return cls(settings, store, services, engine, fetcher, providers, wake, blobs)

    def follow_events(self) -> None:
        """Wake this process's waiters, streams, deliverer and engine for changes that other
        processes make (see `eventfeed`)."""
        self.feed = EventFeed(
            self.store,
            self.wake.route,
            tail_interval=self.settings.event_tail_interval,
            listen=self.settings.event_listen,
        )
        self.tail = asyncio.create_task(self.feed.run(), name="event-feed")

    async def ready(self) -> dict[str, str]:
        """What `/readyz` reports: "ok" or the problem, for the database and the blob store."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(5.0):
                await self.store.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            async with asyncio.timeout(10.0):
                await self.blobs.probe()
            checks["blobs"] = "ok"
        except OSError as exc:
            checks["blobs"] = f"unavailable: {exc.strerror or type(exc).__name__}"
        return checks

    def stop_streams(self) -> None:
        """Set `stopping` and wake every open event stream, so that each ends at once."""
        self.stopping.set()
        self.wake.notifier.notify_listeners()

    async def close(self, drain: float = 0.0) -> None:
        """Stop: the engine gets ``drain`` seconds to finish what it holds (see Engine.stop)."""
        self.stop_streams()
        if self.tail is not None:
            await cancel_until_done(self.tail)
        await self.engine.stop(drain)
        await self.providers.aclose()
        await self.fetcher.aclose()
        await self.store.close()
