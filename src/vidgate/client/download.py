"""One download's bookkeeping: where it resumes, how long it must be, when to give up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vidgate.client.errors import IncompleteDownloadError
from vidgate.retry import RetryPolicy

__all__ = ["Transfer", "parse_content_range"]

CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """(first byte, total length) from `Content-Range: bytes a-b/total`."""
    match = CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        return None
    total = match.group(3)
    return int(match.group(1)), None if total == "*" else int(total)


@dataclass
class Transfer:
    """A download to `path` (through `path.part`), resumed with Range after a broken connection."""

    url: str
    path: Path
    received: int = 0
    total: int | None = None
    failures: int = 0
    _mark: int = 0

    @property
    def part(self) -> Path:
        return self.path.with_name(self.path.name + ".part")

    def headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
        return headers

    def begin(self, status_code: int, headers: Mapping[str, str]) -> bool:
        """Take in a response's head; True when the file must be written again from the start."""
        encoded = headers.get("content-encoding", "identity") not in ("identity", "")
        if status_code == 206:
            span = parse_content_range(headers.get("content-range"))
            if span is None or span[0] != self.received:
                raise IncompleteDownloadError(
                    f"The server resumed {self.url} at the wrong place "
                    f"({headers.get('content-range')!r} for byte {self.received})."
                )
            self.total = None if encoded else span[1]
            return False
        length = headers.get("content-length")
        self.received = 0
        self.total = int(length) if length and length.isdigit() and not encoded else None
        return True

    def add(self, size: int) -> None:
        self.received += size
        if self.total is not None and self.received > self.total:
            raise IncompleteDownloadError(
                f"{self.url} sent more than the {self.total} bytes it announced."
            )

    @property
    def complete(self) -> bool:
        return self.total is None or self.received == self.total

    def broken(self, policy: RetryPolicy, cause: Exception) -> float:
        """Seconds before resuming; raises after `policy.max_retries` tries without progress."""
        if self.received > self._mark:
            self._mark, self.failures = self.received, 0
        self.failures += 1
        if self.failures > policy.max_retries:
            expected = "unknown" if self.total is None else str(self.total)
            raise IncompleteDownloadError(
                f"The download of {self.url} broke off at byte {self.received} of {expected} "
                f"({type(cause).__name__}: {cause})."
            ) from cause
        return policy.delay(self.failures - 1)
