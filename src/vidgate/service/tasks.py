"""Tasks as their owner sees them: submit, read, wait, cancel, list, events and deliveries."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from typing import Any

from vidgate import metrics
from vidgate.blobs import BlobStore
from vidgate.catalog import ModelSpec, Shape, resolve_model, resolve_shape
from vidgate.clock import utcnow
from vidgate.errors import Conflict, InvalidRequest, NotFound, QuotaExceeded, RateLimited
from vidgate.ids import new_task_id
from vidgate.inputs import INPUT_FIELDS, InputFetcher
from vidgate.models import Mode, Status, Task, TaskError, VideoRequest, detect_mode
from vidgate.netguard import BlockedAddress
from vidgate.notifier import Listener, Notifier
from vidgate.providers.registry import Providers
from vidgate.providers.upstream import UpstreamError
from vidgate.records import Event, NewTask, StoredInput, TaskQuery, TaskRecord, Transition
from vidgate.service.presenting import Presenter
from vidgate.service.validation import check_request, derive_seed
from vidgate.store import QuotaShort, Store, SubmitRateLimited

__all__ = ["Page", "Tasks", "parse_status"]

LONG_POLL_RECHECK = 30.0
FINISHED_CACHE_SIZE = 10_000
MAX_IDEMPOTENCY_KEY = 255
DEFAULT_POLL_HINT = 5.0
CANCELLED = TaskError(code="cancelled", message="Cancelled by the client.")
CANCELLED_BY_ADMIN = TaskError(code="cancelled", message="Cancelled by an administrator.")


@dataclass(frozen=True)
class Page:
    """One page of a listing."""

    tasks: list[Task]
    has_more: bool
    last_event_id: int = 0
    """The newest event when the page was read: an event stream resumed from it misses
    nothing the page does not show."""


class Tasks:
    """Everything an owner can do with tasks, whatever dialect they speak."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        inputs: InputFetcher,
        providers: Providers,
        notifier: Notifier,
        presenter: Presenter,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.inputs = inputs
        self.providers = providers
        self.notifier = notifier
        self.presenter = presenter
        self._finished: OrderedDict[str, TaskRecord] = OrderedDict()

    def route(self, model: str) -> str:
        """The provider a model is first tried on."""
        return self.providers.route(model)[0]

    async def submit(
        self,
        owner_id: str,
        request: VideoRequest,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> tuple[Task, bool]:
        """Validate, fetch inputs, reserve quota and queue the task; returns it and is-new.

        Nothing is left behind on failure: no task, no reservation, no stored input.
        """
        if idempotency_key is not None:
            existing = await self._idempotent_replay(owner_id, idempotency_key, fingerprint)
            if existing is not None:
                return existing, False
        mode, spec, shape = await self.check(request)
        price = self.providers.file.price(spec.id, shape.resolution)
        stored = await self._store_inputs(request)
        task = NewTask(
            id=new_task_id(),
            owner_id=owner_id,
            model=spec.id,
            mode=mode,
            provider=self.route(spec.id),
            request=request.model_copy(update={"model": spec.id, "mode": mode}),
            shape=shape,
            seed=request.seed if request.seed is not None else derive_seed(request),
            inputs=stored,
            reserved_seconds=price.cost(shape.duration),
            created_at=utcnow(),
            callback_url=request.callback_url,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            price=price,
        )
        try:
            saved, created = await self.store.insert_task(task)
        except QuotaShort:
            await self._discard(stored)
            key = await self.store.key_by_id(owner_id)
            balance = key.balance if key is not None else 0.0
            reserved = key.reserved_seconds if key is not None else 0.0
            raise QuotaExceeded(
                f"This task needs {task.reserved_seconds:g} credits ({shape.duration} s of "
                f"video) but the key has {balance or 0:g} left ({reserved:g} reserved by "
                "running tasks).",
                param="duration",
            ) from None
        except SubmitRateLimited as exc:
            await self._discard(stored)
            raise RateLimited(
                "This key has made as many submits in the last minute as its limit allows; "
                f"retry in {math.ceil(exc.retry_after)} s.",
                retry_after=exc.retry_after,
            ) from None
        except BaseException:
            await self._discard(stored)
            raise
        if not created:
            await self._discard(stored)
            self._check_fingerprint(saved, fingerprint)
        else:
            metrics.task_queued(saved)
        return self.presenter.task(saved), created

    async def check(self, request: VideoRequest) -> tuple[Mode, ModelSpec, Shape]:
        """Every check of a submit short of fetching inputs and reserving quota: a 400 naming
        the field, else the request's mode, model and resolved shape. It has no side effect,
        so a route can run it before keeping anything, such as an uploaded reference."""
        mode = detect_mode(request)
        spec = resolve_model(request.model, mode)
        check_request(request, mode)
        shape = resolve_shape(
            spec,
            duration=request.duration,
            resolution=request.resolution,
            size=request.size,
            ratio=request.ratio,
            fps=request.fps,
        )
        if request.callback_url is not None:
            try:
                await self.inputs.fetcher.check(request.callback_url)
            except BlockedAddress as exc:
                raise InvalidRequest(
                    f"callback_url cannot be called: {exc}.", param="callback_url"
                ) from None
        return mode, spec, shape

    async def _idempotent_replay(
        self, owner_id: str, key: str, fingerprint: str | None
    ) -> Task | None:
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(
                f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters."
            )
        found = await self.store.task_by_idempotency(owner_id, key)
        if found is None:
            return None
        self._check_fingerprint(found, fingerprint)
        return self.presenter.task(found)

    @staticmethod
    def _check_fingerprint(task: TaskRecord, fingerprint: str | None) -> None:
        if task.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            )

    async def _store_inputs(self, request: VideoRequest) -> tuple[StoredInput, ...]:
        wanted: list[tuple[str, str, str]] = []
        for name in INPUT_FIELDS:
            value = getattr(request, name)
            if isinstance(value, list):
                wanted.extend((name, url, f"{name}[{i}]") for i, url in enumerate(value))
            elif value:
                wanted.append((name, value, name))
        outcomes = await asyncio.gather(
            *(self.inputs.store(url, name, label) for name, url, label in wanted),
            return_exceptions=True,
        )
        stored = tuple(o for o in outcomes if isinstance(o, StoredInput))
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            await self._discard(stored)
            raise failure
        return stored

    async def _discard(self, stored: tuple[StoredInput, ...]) -> None:
        for item in stored:
            await self.blobs.delete(item.blob)

    async def record(self, owner_id: str, task_id: str) -> TaskRecord:
        """The owner's task record; finished ones come from memory, as they never change."""
        found = self._finished.get(task_id)
        if found is None or found.owner_id != owner_id:
            found = await self.store.task(task_id, owner_id)
            if found is None:
                raise NotFound(f"No task {task_id!r} for this key.", param="task_id")
            if found.status.terminal:
                if len(self._finished) >= FINISHED_CACHE_SIZE:
                    self._finished.popitem(last=False)
                self._finished[task_id] = found
        return found

    async def get(self, owner_id: str, task_id: str) -> Task:
        """The owner's task, as it is now."""
        return self.presenter.task(await self.record(owner_id, task_id))

    async def wait(self, owner_id: str, task_id: str, seconds: float) -> Task:
        """The task once it changes or ends, or as it is after ``seconds``."""
        deadline = time.monotonic() + seconds
        with self.notifier.listen(f"task:{task_id}") as changes:
            task = await self.get(owner_id, task_id)
            seen = (task.status, task.progress)
            while not task.status.terminal:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await changes.wait(min(remaining, LONG_POLL_RECHECK))
                changes.clear()
                task = await self.get(owner_id, task_id)
                if (task.status, task.progress) != seen:
                    break
        return task

    async def wait_until_done(self, owner_id: str, task_id: str, seconds: float) -> Task:
        """The task once terminal, or as it is after ``seconds``."""
        deadline = time.monotonic() + seconds
        task = await self.get(owner_id, task_id)
        while not task.status.terminal and (remaining := deadline - time.monotonic()) > 0:
            task = await self.wait(owner_id, task_id, remaining)
        return task

    def poll_hint(self, task: Task) -> float:
        """Seconds a client should wait before asking again."""
        limits = self.providers.limits(task.provider)
        return limits.poll_interval if limits is not None else DEFAULT_POLL_HINT

    async def cancel(self, owner_id: str, task_id: str, *, by_admin: bool = False) -> Task:
        """Cancel a queued task, or a running one where its provider can stop it."""
        found = await self.store.task(task_id, owner_id)
        if found is None:
            raise NotFound(f"No task {task_id!r} for this key.", param="task_id")
        expected = [Status.QUEUED]
        limits = self.providers.limits(found.provider)
        if (limits is not None and limits.can_cancel_running) or await self._cancel_upstream(found):
            expected.append(Status.PROCESSING)
        reason = CANCELLED_BY_ADMIN if by_admin else CANCELLED
        change = Transition(expected, Status.CANCELLED, owner_id=owner_id, error=reason)
        changed = await self.store.transition(task_id, change)
        if changed is not None:
            metrics.task_ended(changed)
            return self.presenter.task(changed)
        current = await self.get(owner_id, task_id)
        if current.status.terminal:
            raise Conflict(
                f"Task {task_id} is already {current.status.value}; only queued or processing "
                "tasks can be cancelled.",
                param="task_id",
                code="task_not_cancellable",
            )
        raise Conflict(
            f"Task {task_id} is already being rendered by {current.provider}, which cannot "
            "stop a running task; it will still finish, fail or time out.",
            param="task_id",
            code="task_not_cancellable",
        )

    async def delete(self, owner_id: str, task_id: str) -> TaskRecord:
        """Remove a finished task for good, with its stored inputs: from now on it is a 404
        and no listing shows it. Returns the task as it was; its result blob is the caller's
        to discard. A 404 when the owner has no such task, a 409 while it is unfinished."""
        removed = await self.store.delete_task(task_id, owner_id)
        self._finished.pop(task_id, None)
        if removed is None:
            current = await self.get(owner_id, task_id)
            raise Conflict(
                f"Task {task_id} is {current.status.value}; cancel it before deleting it.",
                param="task_id",
                code="task_not_finished",
            )
        await self._discard(removed.inputs)
        await self._delete_upstream(removed)
        return removed

    async def _delete_upstream(self, task: TaskRecord) -> None:
        """Delete the upstream's copy of a deleted task where its API deletes videos rather
        than cancelling them (OpenAI's); best effort, as the gateway's copy is gone already."""
        provider = self.providers.upstream.get(task.provider)
        if provider is None or not task.upstream_id or task.credential is None:
            return
        dialect = provider.dialect
        if dialect.cancel(task.upstream_id) is not None or dialect.delete(task.upstream_id) is None:
            return
        with suppress(UpstreamError):
            await provider.cancel(task.upstream_id, task.credential)

    async def _cancel_upstream(self, task: TaskRecord) -> bool:
        """Ask the upstream to cancel a task it holds; True if it did."""
        provider = self.providers.upstream.get(task.provider)
        if (
            provider is None
            or task.status is not Status.PROCESSING
            or not task.upstream_id
            or task.credential is None
        ):
            return False
        try:
            return await provider.cancel(task.upstream_id, task.credential)
        except UpstreamError:
            return False

    async def find(self, owner_id: str, query: TaskQuery, *, limit: int, offset: int = 0) -> Page:
        """One page of the owner's tasks matching ``query``, by offset or after a cursor id."""
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be within 1-100.", param="limit")
        last_event_id = await self.store.last_event_id()
        found = await self.store.find_tasks(owner_id, query, limit=limit + 1, offset=offset)
        tasks = [self.presenter.task(t) for t in found[:limit]]
        return Page(tasks, len(found) > limit, last_event_id)

    async def count(self, owner_id: str, query: TaskQuery) -> int:
        """How many of the owner's tasks match ``query``."""
        return await self.store.count_tasks(owner_id, query)

    async def events_after(
        self, owner_id: str, after: int, task_id: str | None = None
    ) -> list[Event]:
        """The owner's events after a cursor id; one task's if given."""
        return await self.store.events_after(owner_id, after, task_id)

    def watch_events(self, owner_id: str, task_id: str | None) -> AbstractContextManager[Listener]:
        """A listener for new events of the task (or of any task of the owner); clear it before
        each read of ``events_after`` and wait on it after."""
        key = f"task:{task_id}" if task_id else f"owner:{owner_id}"
        return self.notifier.listen(key)

    async def event_task(self, owner_id: str, event: Event) -> Task:
        """The task as ``event`` left it."""
        return self.presenter.task(await self.record(owner_id, event.task_id), event.state)

    async def deliveries(self, owner_id: str, task_id: str) -> list[dict[str, Any]]:
        """The task's webhook deliveries and every attempt, for its owner."""
        await self.record(owner_id, task_id)
        return [self.presenter.delivery(d) for d in await self.store.deliveries_for(task_id)]

    async def request_of(self, owner_id: str, task_id: str) -> dict[str, Any]:
        """The owner's task's request as accepted: its parameters, the seed it renders with,
        and signed URLs of the gateway's copies of its inputs (never the submitted URLs)."""
        record = await self.record(owner_id, task_id)
        parameters = record.request.model_dump(
            mode="json", exclude_none=True, exclude=set(INPUT_FIELDS)
        )
        if not parameters.get("vace"):
            parameters.pop("vace", None)
        return {
            "object": "task.request",
            "task_id": record.id,
            "model": record.model,
            "mode": record.mode.value,
            "seed": record.seed,
            "parameters": parameters,
            "inputs": [
                {
                    "field": item.field,
                    "kind": item.kind,
                    "url": self.presenter.public_url(item.blob),
                }
                for item in record.inputs
            ],
        }

    async def redeliver(self, owner_id: str, task_id: str, delivery_id: str) -> dict[str, Any]:
        """Send one of the owner's task's webhook deliveries again, as soon as possible."""
        await self.record(owner_id, task_id)
        if not await self.store.redeliver(task_id, delivery_id):
            raise NotFound(
                f"No delivery {delivery_id!r} for task {task_id!r}.", param="delivery_id"
            )
        found = [d for d in await self.store.deliveries_for(task_id) if d.id == delivery_id]
        return self.presenter.delivery(found[0])


def parse_status(value: str | None) -> Status | None:
    """A listing's status filter, or a 400 naming ``status``."""
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise InvalidRequest(
            f"status must be one of {', '.join(s.value for s in Status)}.", param="status"
        ) from None
