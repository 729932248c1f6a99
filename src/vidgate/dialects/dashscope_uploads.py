"""DashScope's temporary-file uploads: the upload policy and the OSS-style form that uses it.

`GET /uploads?action=getPolicy&model=…` answers a signed policy; the client then posts the
file as a form (`OSSAccessKeyId`, `Signature`, `policy`, `key`, `file` …) to `upload_host`
and refers to it as `oss://{key}` in a request sent with `X-DashScope-OssResourceResolve:
enable`. Here the policy is signed with the gateway's secret and names the key it was issued
to, so the form needs no API key and an `oss://` URL resolves only for that key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vidgate.errors import ApiError, InvalidRequest

__all__ = [
    "ACCESS_KEY_ID",
    "OSS_SCHEME",
    "PolicyRefused",
    "UploadGrant",
    "alias_id",
    "issue",
    "new_grant",
    "oss_key",
    "verify",
]

ACCESS_KEY_ID = "vidgate"
"""The `oss_access_key_id` every policy carries; the form must send it back."""
OBJECT_ACL = "private"
FORBID_OVERWRITE = "true"
POLICY_SECONDS = 300
"""How long an upload policy may be used, as DashScope's `expire_in_seconds`."""
OSS_SCHEME = "oss://"
UPLOAD_ROOT = "dashscope-instant"
MIB = 1024 * 1024
MAX_KEY_LENGTH = 1000


class PolicyRefused(ApiError):
    """A form upload whose policy is expired, or that breaks it (403, as OSS answers)."""

    status_code = 403
    code = "access_denied"


@dataclass(frozen=True)
class UploadGrant:
    """What one upload policy allows: who uploads, where, how large and until when."""

    owner_id: str
    model: str
    upload_dir: str
    max_bytes: int
    expires_at: int
    """Epoch seconds."""


def new_grant(owner_id: str, model: str, max_bytes: int, now: float) -> UploadGrant:
    """A fresh policy's terms: a directory of its own, valid `POLICY_SECONDS` from ``now``."""
    day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
    upload_dir = f"{UPLOAD_ROOT}/{day}/{secrets.token_hex(12)}"
    return UploadGrant(owner_id, model, upload_dir, max_bytes, int(now) + POLICY_SECONDS)


def _sign(secret: bytes, policy: str) -> str:
    mac = hmac.new(secret, b"dashscope-upload-policy\n" + policy.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def issue(grant: UploadGrant, secret: bytes, upload_host: str, now: float) -> dict[str, Any]:
    """The `data` of a getPolicy answer, with every field the dashscope SDK reads."""
    expiration = datetime.fromtimestamp(grant.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    document = {
        "expiration": expiration,
        "conditions": [
            ["content-length-range", 0, grant.max_bytes],
            ["starts-with", "$key", grant.upload_dir + "/"],
            {"x-oss-object-acl": OBJECT_ACL},
            {"x-oss-forbid-overwrite": FORBID_OVERWRITE},
        ],
        "owner": grant.owner_id,
        "model": grant.model,
    }
    policy = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
    return {
        "policy": policy,
        "signature": _sign(secret, policy),
        "upload_dir": grant.upload_dir,
        "upload_host": upload_host,
        "expire_in_seconds": max(0, grant.expires_at - int(now)),
        "max_file_size_mb": max(1, math.floor(grant.max_bytes / MIB)),
        "capacity_limit_mb": max(1, math.floor(grant.max_bytes / MIB)),
        "oss_access_key_id": ACCESS_KEY_ID,
        "x_oss_object_acl": OBJECT_ACL,
        "x_oss_forbid_overwrite": FORBID_OVERWRITE,
    }


def _decode(policy: str) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(policy, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            "policy is not a policy this gateway issued.", param="policy"
        ) from None
    if not isinstance(document, dict):
        raise InvalidRequest("policy is not a policy this gateway issued.", param="policy")
    return document


def _grant_of(document: dict[str, Any]) -> UploadGrant:
    """The terms a verified policy document states."""
    try:
        limit, prefix = document["conditions"][0][2], document["conditions"][1][2]
        expires = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.000Z")
        return UploadGrant(
            owner_id=str(document["owner"]),
            model=str(document["model"]),
            upload_dir=str(prefix).removesuffix("/"),
            max_bytes=int(limit),
            expires_at=int(expires.replace(tzinfo=UTC).timestamp()),
        )
    except (KeyError, IndexError, TypeError, ValueError):
        raise InvalidRequest(
            "policy is not a policy this gateway issued.", param="policy"
        ) from None


def verify(fields: Mapping[str, str], secret: bytes, now: float) -> tuple[UploadGrant, str]:
    """The grant of a form upload and the object key it names; a 400 naming the form field
    that is missing or wrong, a 403 for an expired policy or a key outside its directory."""
    for name in ("OSSAccessKeyId", "Signature", "policy", "key"):
        if not fields.get(name):
            raise InvalidRequest(f"{name}: the form field is missing.", param=name)
    if fields["OSSAccessKeyId"] != ACCESS_KEY_ID:
        raise InvalidRequest(
            "OSSAccessKeyId is not the one the upload policy gave.", param="OSSAccessKeyId"
        )
    policy = fields["policy"]
    if not hmac.compare_digest(_sign(secret, policy), fields["Signature"]):
        raise InvalidRequest("Signature does not match the policy.", param="Signature")
    grant = _grant_of(_decode(policy))
    if now > grant.expires_at:
        raise PolicyRefused("policy has expired; get a new one with action=getPolicy.")
    key = fields["key"]
    name = key.removeprefix(grant.upload_dir + "/")
    if (
        not key.startswith(grant.upload_dir + "/")
        or not name
        or "/" in name
        or name in (".", "..")
        or len(key) > MAX_KEY_LENGTH
    ):
        raise PolicyRefused(
            f"key must be a file name under the policy's directory, {grant.upload_dir}/."
        )
    return grant, name


def oss_key(url: str) -> str | None:
    """The object key of an `oss://` URL, else None."""
    if not url.startswith(OSS_SCHEME):
        return None
    return url[len(OSS_SCHEME) :]


def alias_id(owner_id: str, key: str) -> str:
    """The id of the file record that ties ``key`` to the upload ``owner_id`` made there."""
    digest = hashlib.sha256(f"{owner_id}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"oss_{digest[:32]}"
