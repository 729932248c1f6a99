"""Start-up checks that every node sharing one database agrees, or refuses to start.

Nodes that share a PostgreSQL database must sign URLs with one secret, see one blob store,
and give out links at one public URL. The first node to start records a fingerprint of its
secret and a canary blob it wrote; each later node checks both and stops, in one line that
names the setting to fix, when they do not match. A single SQLite install is not checked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from vidgate.blobs import BlobStore, load_secret
from vidgate.clock import utcnow
from vidgate.errors import VidgateError
from vidgate.records import ClusterRecord
from vidgate.settings import Settings
from vidgate.store import Store

__all__ = [
    "NodeRefused",
    "agree_with_cluster",
    "public_url_refusal",
    "secret_fingerprint",
    "shared_database",
]

log = logging.getLogger("vidgate")

FINGERPRINT_LABEL = b"vidgate signing-secret fingerprint v1"
CANARY_PREFIX = "cluster-canary-"
CANARY_BYTES = 64
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
HOW_TO_FIX = "see 'Start-up checks' in docs/operations.md"


class NodeRefused(VidgateError):
    """This node disagrees with the others sharing its database; the message says the fix."""


def shared_database(settings: Settings) -> bool:
    """Whether other nodes may share this node's database: any but SQLite or memory."""
    return settings.database.startswith("postgresql")


def secret_fingerprint(secret: bytes) -> str:
    """An HMAC of a fixed label under the secret: equal for equal secrets, and no way back."""
    return hmac.new(secret, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def public_url_refusal(settings: Settings, *, serving: bool) -> str | None:
    """Why a node on a shared database may not start without `VIDGATE_PUBLIC_URL`, or None.

    A worker (``serving`` False) has no address of its own, and a gateway bound to a wildcard
    address has none a client can use; their webhooks and result links need the public one.
    """
    if settings.public_url or not shared_database(settings):
        return None
    if serving and settings.host not in WILDCARD_HOSTS:
        return None
    who = "a worker" if not serving else f"a gateway listening on {settings.host or '*'}"
    return (
        f"{who} on a shared database needs VIDGATE_PUBLIC_URL, the URL clients reach the "
        f"gateways at (for example https://videos.example.com); without it, webhooks and "
        f"result links would point at {settings.base_url}"
    )


async def agree_with_cluster(settings: Settings, store: Store, blobs: BlobStore) -> None:
    """Check this node against the record the first node on a shared database left, writing
    that record if this node is the first; raises NodeRefused on a mismatch."""
    if not shared_database(settings):
        return
    mine = secret_fingerprint(load_secret(settings.data_dir, settings.secret_key))
    record = await store.cluster_record() or await _found_cluster(store, blobs, mine)
    if not hmac.compare_digest(record.secret_fingerprint, mine):
        raise NodeRefused(
            "this node's signing secret differs from the one the other nodes on this database "
            "use, so URLs signed elsewhere would answer 403 here; set VIDGATE_SECRET_KEY to "
            f"their value on every node ({HOW_TO_FIX})"
        )
    await _check_canary(blobs, record)
    if settings.public_url:
        ours = settings.base_url
        theirs = await store.adopt_public_url(ours)
        if theirs != ours:
            log.warning(
                "VIDGATE_PUBLIC_URL is %s here but %s on the node that recorded it first; "
                "webhooks and result links differ by node",
                ours,
                theirs,
            )


async def _found_cluster(store: Store, blobs: BlobStore, fingerprint: str) -> ClusterRecord:
    """Write a canary and offer a record; another node's record, if it came first, wins."""
    data = secrets.token_bytes(CANARY_BYTES)
    name = f"{CANARY_PREFIX}{secrets.token_hex(8)}"
    await blobs.put_bytes(name, data)
    offered = ClusterRecord(
        secret_fingerprint=fingerprint,
        canary_blob=name,
        canary_sha256=hashlib.sha256(data).hexdigest(),
        public_url=None,
        created_at=utcnow(),
    )
    record = await store.settle_cluster(offered)
    if record.canary_blob != name:
        await blobs.delete(name)
    return record


async def _check_canary(blobs: BlobStore, record: ClusterRecord) -> None:
    name = record.canary_blob
    try:
        data: bytes | None = await blobs.read_bytes(name)
    except FileNotFoundError:
        data = None
    if data is not None and hashlib.sha256(data).hexdigest() == record.canary_sha256:
        return
    found = "missing" if data is None else "different"
    raise NodeRefused(
        f"this node cannot see the blobs other nodes write: the start-up canary {name} is "
        f"{found} in {blobs.location}; give every node the same blob store (one "
        f"VIDGATE_BLOB_URL, or one VIDGATE_DATA_DIR shared by every node for blobs on local "
        f"disk) ({HOW_TO_FIX})"
    )
