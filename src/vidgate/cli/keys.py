"""`vidgate keys`: create, list, revoke, rotate, and set a key's quota or limits.

The commands open the gateway's database directly (`VIDGATE_DATA_DIR` or
`VIDGATE_DATABASE_URL`), so they work while no gateway runs. Each change is recorded in the
audit log with `cli` as the actor; a secret is printed only by `create` and `rotate`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from vidgate.errors import ApiError
from vidgate.settings import Settings

if TYPE_CHECKING:
    from vidgate.records import KeyRecord
    from vidgate.service.admin import KeyAdmin

__all__ = ["add_parser", "list_rows", "run"]

ACTOR = "cli"
HEADER = ("ID", "NAME", "PREFIX", "ROLE", "QUOTA", "USED", "RESERVED", "LIMITS", "STATE")
T = TypeVar("T")


def add_parser(commands: Any) -> None:
    """Add `keys` and its commands to the top-level subparsers."""
    keys = commands.add_parser("keys", help="manage API keys")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="create a key and print its secret alone on stdout")
    create.add_argument("--name", required=True, help="a label for the key")
    create.add_argument(
        "--quota", type=float, help="seconds of output video it may render (default unlimited)"
    )
    create.add_argument("--admin", action="store_true", help="make an admin key (admin API)")
    sub.add_parser("list", help="list keys with a header row (never their secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key: every gateway refuses it at once")
    revoke.add_argument("key_id", help="the key's id (`key_…`, from `vidgate keys list`)")
    rotate = sub.add_parser("rotate", help="give a key a new secret, printed alone on stdout")
    rotate.add_argument("key_id", help="the key's id")
    quota = sub.add_parser("set-quota", help="set a key's quota, make it unlimited, or top it up")
    quota.add_argument("key_id", help="the key's id")
    amount = quota.add_mutually_exclusive_group(required=True)
    amount.add_argument("--quota", type=float, help="the new quota, in seconds")
    amount.add_argument("--unlimited", action="store_true", help="no quota at all")
    amount.add_argument("--top-up", type=float, help="seconds to add to the quota")
    limits = sub.add_parser(
        "set-limits", help="set a key's limits (an option left out means no limit)"
    )
    limits.add_argument("key_id", help="the key's id")
    limits.add_argument("--max-in-flight", type=int, help="tasks that may run at once")
    limits.add_argument("--max-submits-per-minute", type=int, help="submits in any 60 s")


async def _with_admin(act: Callable[[KeyAdmin], Awaitable[T]]) -> T:
    from vidgate.service.admin import KeyAdmin
    from vidgate.store import open_store

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.database)
    try:
        await store.open()
        return await act(KeyAdmin(store))
    finally:
        await store.close()


def list_rows(keys: list[KeyRecord]) -> list[tuple[str, ...]]:
    """The `keys list` table: a header row, then one row a key; no secret or hash."""
    rows: list[tuple[str, ...]] = [HEADER]
    for key in keys:
        quota = "unlimited" if key.quota_seconds is None else f"{key.quota_seconds:g}s"
        limits = [
            f"in_flight={key.max_in_flight}" if key.max_in_flight is not None else "",
            f"per_minute={key.max_submits_per_minute}"
            if key.max_submits_per_minute is not None
            else "",
        ]
        rows.append(
            (
                key.id,
                key.name,
                f"{key.prefix}…",
                "admin" if key.admin else "user",
                quota,
                f"{key.used_seconds:g}s",
                f"{key.reserved_seconds:g}s",
                ",".join(part for part in limits if part) or "-",
                "revoked" if key.revoked_at is not None else "active",
            )
        )
    return rows


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _summary(key: KeyRecord) -> str:
    return _table(list_rows([key]))


async def _act(args: argparse.Namespace) -> str:
    command = args.keys_command
    if command == "create":
        made = await _with_admin(
            lambda admin: admin.create_key(ACTOR, args.name, args.quota, admin=args.admin)
        )
        return made[0].key
    if command == "list":
        return _table(list_rows(await _with_admin(lambda admin: admin.keys())))
    if command == "revoke":
        return _summary(await _with_admin(lambda admin: admin.revoke(ACTOR, args.key_id)))
    if command == "rotate":
        made = await _with_admin(lambda admin: admin.rotate(ACTOR, args.key_id))
        return made[0].key
    if command == "set-quota":
        key = await _with_admin(
            lambda admin: admin.set_quota(
                ACTOR,
                args.key_id,
                quota_seconds=args.quota,
                unlimited=args.unlimited,
                top_up_seconds=args.top_up,
            )
        )
        return _summary(key)
    key = await _with_admin(
        lambda admin: admin.set_limits(
            ACTOR, args.key_id, args.max_in_flight, args.max_submits_per_minute
        )
    )
    return _summary(key)


OPTIONS = {
    "quota": "--quota",
    "top_up": "--top-up",
    "max_in_flight": "--max-in-flight",
    "max_submits_per_minute": "--max-submits-per-minute",
    "name": "--name",
}


def run(args: argparse.Namespace) -> int:
    """Run one `keys` command; 0, or 1 with one line on stderr naming what is wrong."""
    try:
        print(asyncio.run(_act(args)))
    except ApiError as exc:
        option = OPTIONS.get(exc.param or "")
        message = exc.message
        if option is not None and exc.param is not None:
            named = message.startswith(exc.param)
            message = option + message[len(exc.param) :] if named else f"{option}: {message}"
        print(f"vidgate: {message}", file=sys.stderr)
        return 1
    return 0
