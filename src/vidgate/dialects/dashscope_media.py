"""The `media` input protocol of DashScope's Wan 2.7 models: a list of typed assets.

`{"type": "first_frame", "url": …}` and its kin are read as the canonical request's fields
(`img_url`, `first_frame_url`, `last_frame_url`, `reference_urls`, `video_url`), so the local
renderer and every other dialect see one request; for a model that takes `media` the list is
written back from those fields when the request is forwarded to DashScope.
"""

from __future__ import annotations

from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.models import VideoRequest

__all__ = ["MEDIA_TYPES", "PASSED_TYPES", "media_for", "passed_media", "read_media"]

FRAME_TYPES = {"first_frame": "img_url", "last_frame": "last_frame_url"}
REFERENCE_TYPES = ("reference_image", "reference_video", "video")
CLIP_TYPES = ("first_clip",)
PASSED_TYPES = (
    "driving_audio",
    "reference_voice",
    "reference_audio",
    "file",
    "link",
)
"""Assets DashScope takes that the local renderer has no use for: forwarded as they are."""
MEDIA_TYPES = (*FRAME_TYPES, *REFERENCE_TYPES, *CLIP_TYPES, *PASSED_TYPES)
EXTENSION = "video_extension"
"""The vace function a first clip stands for: the new video continues it."""
CLIP_FIELDS = {"first_clip_url": "video_url"}
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")


def _url_of(item: dict[str, Any], where: str) -> str:
    url = item.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"{where}.url: must be a URL.", param=f"{where}.url")
    return url


def _put(fields: dict[str, Any], name: str, value: str, where: str) -> None:
    if fields.get(name) is not None:
        raise InvalidRequest(
            f"{where}: gives {name} a second time; give each input once.", param=where
        )
    fields[name] = value


def read_media(given_input: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The input with `media` and `first_clip_url` read as canonical fields, and the `media`
    list itself, kept to be sent on as given; a 400 naming `input.media[i]…` for a malformed
    asset."""
    fields = {k: v for k, v in given_input.items() if k != "media" and k not in CLIP_FIELDS}
    for name, canonical in CLIP_FIELDS.items():
        if name in given_input:
            value = given_input[name]
            if not isinstance(value, str) or not value:
                raise InvalidRequest(f"input.{name}: must be a URL.", param=f"input.{name}")
            _put(fields, canonical, value, f"input.{name}")
            fields.setdefault("function", EXTENSION)
    media = given_input.get("media")
    if media is None:
        return fields, []
    if not isinstance(media, list) or not media:
        raise InvalidRequest(
            "input.media: must be a non-empty list of assets.", param="input.media"
        )
    references: list[str] = []
    for index, item in enumerate(media):
        where = f"input.media[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where}: must be an object with type and url.", param=where)
        kind = item.get("type")
        if kind not in MEDIA_TYPES:
            allowed = ", ".join(MEDIA_TYPES)
            raise InvalidRequest(f"{where}.type: must be one of {allowed}.", param=f"{where}.type")
        if kind in PASSED_TYPES:
            continue
        if kind in FRAME_TYPES:
            _put(fields, FRAME_TYPES[kind], _url_of(item, where), where)
        elif kind in REFERENCE_TYPES:
            references.append(_url_of(item, where))
        else:
            _put(fields, "video_url", _url_of(item, where), where)
            fields.setdefault("function", EXTENSION)
    if references:
        if fields.get("reference_urls"):
            raise InvalidRequest(
                "input.media: gives references beside input.reference_urls; give them once.",
                param="input.media",
            )
        fields["reference_urls"] = references
    if fields.get("last_frame_url") is not None and fields.get("img_url") is not None:
        fields["first_frame_url"] = fields.pop("img_url")
    return fields, media


def media_for(request: VideoRequest, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The `media` list that asks a Wan 2.7 model for this request; the canonical fields it
    stands for are taken out of ``data``.

    A list the request came with is sent in its order, each asset with its own fields (a
    `reference_voice` beside a reference, say) and the request's current URL; without one,
    the list is built from the fields.
    """
    first = data.pop("img_url", None) or data.pop("first_frame_url", None)
    data.pop("first_frame_url", None)
    last = data.pop("last_frame_url", None)
    references = list(data.pop("reference_urls", None) or [])
    clip = data.pop("video_url", None)
    if clip and data.get("function") == EXTENSION:
        del data["function"]
    urls: dict[str, list[str]] = {
        "first_frame": [first] if first else [],
        "last_frame": [last] if last else [],
        "reference": references,
        "first_clip": [clip] if clip else [],
    }
    given = request.vace.get("media")
    media: list[dict[str, Any]] = []
    for item in given if isinstance(given, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        slot = "reference" if kind in REFERENCE_TYPES else str(kind)
        if kind in PASSED_TYPES or slot not in urls:
            media.append(item)
        elif urls[slot]:
            media.append({**item, "url": urls[slot].pop(0)})
    media.extend({"type": "first_frame", "url": url} for url in urls["first_frame"])
    media.extend({"type": "last_frame", "url": url} for url in urls["last_frame"])
    media.extend({"type": _reference_type(url), "url": url} for url in urls["reference"])
    media.extend({"type": "first_clip", "url": url} for url in urls["first_clip"])
    return media


def passed_media(request: VideoRequest) -> list[dict[str, Any]]:
    """The assets of a `media` list that no canonical field stands for, for a model that
    takes its inputs as fields."""
    given = request.vace.get("media")
    items = given if isinstance(given, list) else []
    return [item for item in items if isinstance(item, dict) and item.get("type") in PASSED_TYPES]


def _reference_type(url: str) -> str:
    path = url.split("?")[0].lower()
    return "reference_video" if path.endswith(VIDEO_SUFFIXES) else "reference_image"
