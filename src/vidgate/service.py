"""The business rules: submit, read, wait, cancel, list, account and uploads."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vidgate.blobs import BlobStore
from vidgate.catalog import resolve_model, resolve_shape
from vidgate.clock import aware, iso, utcnow
from vidgate.dialects.native import render_task
from vidgate.errors import Conflict, InvalidRequest, NotFound, QuotaExceeded, Unauthorized
from vidgate.ids import hash_key, new_id, new_task_id
from vidgate.inputs import INPUT_FIELDS, InputFetcher, StoredInput, probe_media
from vidgate.models import Result, Status, Task, TaskError, Usage, VideoRequest
from vidgate.models import detect_mode as detect
from vidgate.netguard import BlockedAddress
from vidgate.notifier import Notifier
from vidgate.providers.registry import Providers
from vidgate.providers.upstream import UpstreamError
from vidgate.settings import Settings
from vidgate.store import QuotaShort, Store
from vidgate.store.listing import TaskQuery, count_tasks, find_tasks
from vidgate.store.store import Row
from vidgate.webhooks import ALL_EVENTS, new_secret

__all__ = ["Account", "Gateway", "Page"]

LONG_POLL_RECHECK = 30.0
KEY_CACHE_SECONDS = 5.0
CACHE_SIZE = 10_000
MAX_SEED = 2_147_483_647
VACE_FUNCTIONS = (
    "image_reference",
    "video_repainting",
    "video_edit",
    "video_extension",
    "video_outpainting",
)
VACE_INPUTS: dict[str, tuple[str, ...]] = {
    "image_reference": ("ref_images_url", "reference_urls"),
    "video_repainting": ("video_url",),
    "video_edit": ("video_url",),
    "video_extension": ("video_url",),
    "video_outpainting": ("video_url",),
}


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    has_more: bool


@dataclass(frozen=True)
class Account:
    key_id: str
    name: str
    quota: float | None
    reserved: float
    used: float

    @property
    def balance(self) -> float | None:
        return None if self.quota is None else self.quota - self.used - self.reserved


def request_fingerprint(body: object) -> str:
    """A stable hash of a request body, to tell an idempotent retry from a new request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def derive_seed(request: VideoRequest) -> int:
    """A seed fixed by the request itself, so the same request renders the same video."""
    digest = hashlib.sha256(request.model_dump_json(exclude={"metadata"}).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (MAX_SEED + 1)


def _check_request(request: VideoRequest, mode: str) -> None:
    if not request.prompt.strip() and mode in ("t2v",):
        raise InvalidRequest("prompt is required for text-to-video.", param="prompt")
    if len(request.prompt) > 4000:
        raise InvalidRequest("prompt is longer than 4000 characters.", param="prompt")
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidRequest(f"seed must be within 0-{MAX_SEED}.", param="seed")
    if mode == "i2v" and not request.img_url:
        raise InvalidRequest("img_url is required for image-to-video (i2v).", param="img_url")
    if mode == "kf2v" and not request.first_frame_url:
        raise InvalidRequest(
            "first_frame_url is required for keyframe-to-video (kf2v).", param="first_frame_url"
        )
    if mode == "r2v":
        refs = request.reference_urls or []
        if not 1 <= len(refs) <= 5:
            raise InvalidRequest(
                "reference_urls needs 1 to 5 images or videos for r2v.", param="reference_urls"
            )
    if mode == "vace":
        if request.function not in VACE_FUNCTIONS:
            raise InvalidRequest(
                f"function must be one of {', '.join(VACE_FUNCTIONS)}.", param="function"
            )
        needed = VACE_INPUTS[request.function]
        if not any(getattr(request, name) for name in needed):
            raise InvalidRequest(
                f"{needed[0]} is required for vace function {request.function}.",
                param=needed[0],
            )
    if request.callback_url is not None and not request.callback_url.startswith(
        ("http://", "https://")
    ):
        raise InvalidRequest("callback_url must be an http(s) URL.", param="callback_url")
    for name in request.webhook_events or []:
        if name not in ALL_EVENTS:
            raise InvalidRequest(
                f"webhook_events: unknown event {name!r}; choose from {', '.join(ALL_EVENTS)}.",
                param="webhook_events",
            )


class Gateway:
    """Everything a client can ask of vidgate, whatever dialect it speaks."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        blobs: BlobStore,
        inputs: InputFetcher,
        providers: Providers,
        notifier: Notifier,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.inputs = inputs
        self.providers = providers
        self.notifier = notifier
        self._keys: dict[str, tuple[Row, float]] = {}
        self._finished: OrderedDict[str, Row] = OrderedDict()

    # keys

    async def authenticate(self, key: str | None) -> Row:
        """The key's row; known keys are remembered for a few seconds."""
        if not key:
            raise Unauthorized("Missing API key: send Authorization: Bearer KEY.")
        digest = hash_key(key)
        remembered = self._keys.get(digest)
        if remembered is not None and remembered[1] > time.monotonic():
            return remembered[0]
        row = await self.store.key_by_hash(digest)
        if row is None:
            raise Unauthorized("Invalid API key.")
        if len(self._keys) >= CACHE_SIZE:
            self._keys.clear()
        self._keys[digest] = (row, time.monotonic() + KEY_CACHE_SECONDS)
        return row

    # tasks

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
        """Validate, fetch inputs, reserve quota and queue the task; returns it and is-new."""
        if idempotency_key is not None:
            existing = await self._idempotent_replay(owner_id, idempotency_key, fingerprint)
            if existing is not None:
                return existing, False
        mode = detect(request)
        spec = resolve_model(request.model, mode)
        _check_request(request, mode.value)
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
        stored = await self._store_inputs(request)
        seed = request.seed if request.seed is not None else derive_seed(request)
        now = utcnow()
        body = request.model_dump(mode="json", exclude_none=True)
        body.update(
            model=spec.id,
            mode=mode.value,
            resolved={
                "width": shape.width,
                "height": shape.height,
                "fps": shape.fps,
                "duration": shape.duration,
                "resolution": shape.resolution,
                "ratio": shape.ratio,
                "seed": seed,
            },
            inputs={
                name: [{"blob": s.blob, "kind": s.kind, "duration": s.duration} for s in items]
                for name, items in stored.items()
            },
        )
        row = {
            "id": new_task_id(),
            "owner_id": owner_id,
            "model": spec.id,
            "mode": mode.value,
            "provider": self.route(spec.id),
            "request": body,
            "status": Status.QUEUED.value,
            "progress": 0,
            "reserved_seconds": float(shape.duration),
            "callback_url": request.callback_url,
            "idempotency_key": idempotency_key,
            "request_hash": fingerprint,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        try:
            saved, created = await self.store.insert_task(row)
        except QuotaShort:
            self._discard_inputs(stored)
            account = await self.account(owner_id)
            raise QuotaExceeded(
                f"This task needs {shape.duration} s of video quota but the key has "
                f"{account.balance or 0:.0f} s left ({account.reserved:.0f} s reserved by "
                "running tasks).",
                param="duration",
            ) from None
        if not created:
            self._discard_inputs(stored)
            self._check_fingerprint(saved, fingerprint)
        self.notifier.notify(f"provider:{saved['provider']}")
        return self.to_task(saved), created

    async def _idempotent_replay(
        self, owner_id: str, key: str, fingerprint: str | None
    ) -> Task | None:
        if len(key) > 255:
            raise InvalidRequest("Idempotency-Key is longer than 255 characters.")
        rows = await self.store.task_by_idempotency(owner_id, key)
        if rows is None:
            return None
        self._check_fingerprint(rows, fingerprint)
        return self.to_task(rows)

    @staticmethod
    def _check_fingerprint(row: Row, fingerprint: str | None) -> None:
        if row["request_hash"] != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            )

    async def _store_inputs(self, request: VideoRequest) -> dict[str, list[StoredInput]]:
        wanted: list[tuple[str, str, str]] = []
        for name in INPUT_FIELDS:
            value = getattr(request, name)
            if isinstance(value, list):
                wanted.extend((name, url, f"{name}[{i}]") for i, url in enumerate(value))
            elif value:
                wanted.append((name, value, name))
        results = await asyncio.gather(
            *(self.inputs.store(url, label, INPUT_FIELDS[name]) for name, url, label in wanted),
            return_exceptions=True,
        )
        stored: dict[str, list[StoredInput]] = {}
        failure: BaseException | None = None
        for (name, _, _), outcome in zip(wanted, results, strict=True):
            if isinstance(outcome, BaseException):
                failure = failure or outcome
            else:
                stored.setdefault(name, []).append(outcome)
        if failure is not None:
            self._discard_inputs(stored)
            raise failure
        return stored

    def _discard_inputs(self, stored: dict[str, list[StoredInput]]) -> None:
        for items in stored.values():
            for item in items:
                self.blobs.delete(item.blob)

    async def get(self, owner_id: str, task_id: str) -> Task:
        """The owner's task; finished ones come from memory, as they never change."""
        row = self._finished.get(task_id)
        if row is None or row["owner_id"] != owner_id:
            row = await self.store.task(task_id, owner_id)
            if row is None:
                raise NotFound(f"No task {task_id!r} for this key.", param="task_id")
            if Status(row["status"]).terminal:
                if len(self._finished) >= CACHE_SIZE:
                    self._finished.popitem(last=False)
                self._finished[task_id] = row
        return self.to_task(row)

    async def wait(self, owner_id: str, task_id: str, seconds: float) -> Task:
        """The task once it changes or ends, or as it is after `seconds`."""
        task = await self.get(owner_id, task_id)
        deadline = time.monotonic() + seconds
        seen = (task.status, task.progress)
        while not task.status.terminal:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self.notifier.wait(f"task:{task_id}", min(remaining, LONG_POLL_RECHECK))
            task = await self.get(owner_id, task_id)
            if (task.status, task.progress) != seen:
                break
        return task

    async def wait_until_done(self, owner_id: str, task_id: str, seconds: float) -> Task:
        """The task once terminal, or as it is after `seconds`."""
        deadline = time.monotonic() + seconds
        task = await self.get(owner_id, task_id)
        while not task.status.terminal and (remaining := deadline - time.monotonic()) > 0:
            task = await self.wait(owner_id, task_id, remaining)
        return task

    def poll_hint(self, task: Task) -> float:
        """Seconds a client should wait before asking again."""
        limits = self.providers.limits(task.provider)
        return limits.poll_interval if limits is not None else 5.0

    async def cancel(self, owner_id: str, task_id: str) -> Task:
        """Cancel a queued task, or a running one where its provider can stop it."""
        row = await self.store.task(task_id, owner_id)
        if row is None:
            raise NotFound(f"No task {task_id!r} for this key.", param="task_id")
        expected = [Status.QUEUED]
        limits = self.providers.limits(row["provider"])
        if (limits is not None and limits.can_cancel_running) or await self._cancel_upstream(row):
            expected.append(Status.PROCESSING)
        error = {"code": "cancelled", "message": "Cancelled by the client."}
        changed = await self.store.transition(
            task_id,
            expected=expected,
            to=Status.CANCELLED,
            owner_id=owner_id,
            values={"error": error},
        )
        if changed is not None:
            self.notifier.notify(f"task:{task_id}")
            return self.to_task(changed)
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

    async def _cancel_upstream(self, row: Row) -> bool:
        """Ask the upstream to cancel a task it holds; True if it did."""
        provider = self.providers.upstream.get(row["provider"])
        if provider is None or row["status"] != Status.PROCESSING.value or not row["upstream_id"]:
            return False
        try:
            return await provider.cancel(row["upstream_id"], row["credential"])
        except UpstreamError:
            return False

    async def list(
        self,
        owner_id: str,
        *,
        status: str | None = None,
        model: str | None = None,
        limit: int = 20,
        after: str | None = None,
    ) -> Page:
        if status is not None and status not in {s.value for s in Status}:
            raise InvalidRequest(
                f"status must be one of {', '.join(s.value for s in Status)}.", param="status"
            )
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be within 1-100.", param="limit")
        rows = await self.store.list_tasks(
            owner_id, status=status, model=model, limit=limit + 1, after=after
        )
        return Page([self.to_task(r) for r in rows[:limit]], has_more=len(rows) > limit)

    async def find(self, owner_id: str, query: TaskQuery, *, limit: int, offset: int = 0) -> Page:
        """One page of the owner's tasks matching `query`, by offset or after a cursor id."""
        rows = await find_tasks(self.store, owner_id, query, limit=limit + 1, offset=offset)
        return Page([self.to_task(r) for r in rows[:limit]], has_more=len(rows) > limit)

    async def count(self, owner_id: str, query: TaskQuery) -> int:
        """How many of the owner's tasks match `query`."""
        return await count_tasks(self.store, owner_id, query)

    async def account(self, owner_id: str) -> Account:
        row = await self.store.key_by_id(owner_id)
        if row is None:
            raise NotFound("Unknown key.")
        return Account(
            key_id=row["id"],
            name=row["name"],
            quota=row["quota_seconds"],
            reserved=row["reserved_seconds"],
            used=row["used_seconds"],
        )

    # webhooks

    async def webhook_secret(self, owner_id: str) -> str:
        row = await self.store.key_by_id(owner_id)
        if row is not None and row["webhook_secret"]:
            return str(row["webhook_secret"])
        return await self.store.set_webhook_secret(owner_id, new_secret())

    async def webhook_payload(self, delivery: Row) -> dict[str, Any]:
        """The body of one delivery: the event, and the task as it is now."""
        row = await self.store.task(delivery["task_id"])
        assert row is not None
        return {
            "type": delivery["type"],
            "timestamp": iso(delivery["event_at"]),
            "data": render_task(self.to_task(row)),
        }

    async def deliveries(self, owner_id: str, task_id: str) -> builtins.list[dict[str, Any]]:
        """The task's webhook deliveries and every attempt, for its owner."""
        await self.get(owner_id, task_id)
        return [
            {
                "id": row["id"],
                "type": row["type"],
                "url": row["url"],
                "status": row["status"],
                "attempts": [
                    {
                        "at": iso(a["attempted_at"]),
                        "status_code": a["status_code"],
                        "error": a["error"],
                        "duration_ms": a["duration_ms"],
                    }
                    for a in attempts
                ],
                "next_attempt_at": iso(row["next_attempt_at"])
                if row["status"] == "pending"
                else None,
                "delivered_at": iso(row["delivered_at"]),
            }
            for row, attempts in await self.store.deliveries_for(task_id)
        ]

    # files

    async def save_upload(
        self, owner_id: str, filename: str | None, content_type: str, staged_bytes: bytes
    ) -> dict[str, Any]:
        """Keep an uploaded image or video and return a signed URL usable as an input."""
        file_id = new_id("file")
        staged = self.blobs.staging(file_id)
        staged.write_bytes(staged_bytes)
        try:
            probed = await asyncio.to_thread(probe_media, staged)
            if probed is None:
                raise InvalidRequest("file is not a readable image or video.", param="file")
            kind, extension, _ = probed
            name = file_id + extension
            self.blobs.commit(staged, name)
        finally:
            staged.unlink(missing_ok=True)
        now = utcnow()
        await self.store.insert_file(
            {
                "id": name,
                "owner_id": owner_id,
                "purpose": "input",
                "filename": filename,
                "content_type": content_type,
                "bytes": len(staged_bytes),
                "sha256": hashlib.sha256(staged_bytes).hexdigest(),
                "created_at": now,
            }
        )
        signed = self.sign(name)
        return {
            "id": file_id,
            "object": "file",
            "kind": kind,
            "filename": filename,
            "bytes": len(staged_bytes),
            "url": signed.url,
            "expires_at": datetime.fromtimestamp(signed.expires_at, UTC).isoformat(),
        }

    # presentation

    def sign(self, name: str) -> Any:
        ttl = self.settings.result_url_ttl
        bucket = max(1, min(3600, ttl // 24))
        now = time.time() // bucket * bucket
        return self.blobs.sign(name, ttl, now=now)

    def to_task(self, row: Row) -> Task:
        """A stored row as the canonical task, with a freshly signed result URL."""
        request = row["request"]
        result = None
        stored_result = row["result"]
        if stored_result is not None:
            signed = self.sign(stored_result["blob"])
            result = Result(
                video_url=signed.url,
                expires_at=datetime.fromtimestamp(signed.expires_at, UTC),
                duration=stored_result["duration"],
                width=stored_result["width"],
                height=stored_result["height"],
                fps=stored_result["fps"],
                format="mp4",
                source_url=stored_result.get("source_url"),
            )
        status = Status(row["status"])
        return Task(
            task_id=row["id"],
            status=status,
            progress=100 if status is Status.COMPLETED else row["progress"],
            model=row["model"],
            mode=row["mode"],
            provider=row["provider"],
            prompt=request.get("prompt", ""),
            duration=request["resolved"]["duration"],
            size=f"{request['resolved']['width']}*{request['resolved']['height']}",
            created_at=aware(row["created_at"]),
            updated_at=aware(row["updated_at"]),
            started_at=aware(row["started_at"]),
            finished_at=aware(row["finished_at"]),
            result=result,
            error=TaskError(**row["error"]) if row["error"] else None,
            usage=Usage(**row["usage"]) if row["usage"] else None,
            callback_url=row["callback_url"],
            metadata=request.get("metadata"),
        )
