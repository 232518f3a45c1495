"""When a failed FLORA call is tried again, and how long to wait first.

This is the only place retry decisions are made; the request loop in `transport.py` asks
`RetryPolicy.should_retry` and `RetryPolicy.delay` and does nothing else about retries.

The rules follow FLORA's official SDKs, minus their one hazard: they retry POSTs without an
idempotency key, and treat 409 as retryable. Here a start is retried only with the key it was
first sent with (the loop guarantees that), and 409 is never retried, because for FLORA it means
"a start with this key was already accepted".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 429})


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup that works on httpx2.Headers and on a plain dict."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def parse_retry_after(headers: Mapping[str, str] | None, now: float) -> float | None:
    """Seconds the answer asks us to wait, or None when it names no usable wait.

    `retry-after-ms` wins over `Retry-After`; `Retry-After` is either seconds or an HTTP date
    (compared with `now`, unix seconds). A date in the past means "now" (0). Values that are
    not numbers, negative or not finite are ignored rather than trusted.
    """
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value

    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT even when the zone is missing
            return None
        return max(0.0, when.timestamp() - now)
    if math.isfinite(seconds) and seconds >= 0:
        return seconds
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how often, and the waits between attempts.

    Backoff before retry n (n = 0 for the first retry) is min(base_delay * 2**n, max_delay),
    shortened by up to a quarter at random so that many clients do not retry in step.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def should_retry(self, status: int | None, headers: Mapping[str, str] | None) -> bool:
        """True when an attempt that ended this way is worth repeating.

        `status` None means no answer at all (connection error or timeout). FLORA's
        `x-should-retry: true|false` header overrides the status rule either way.
        """
        override = (_header(headers, "x-should-retry") or "").strip().lower()
        if override == "true":
            return True
        if override == "false":
            return False
        if status is None:
            return True
        return status in RETRYABLE_STATUSES or status >= 500

    def delay(
        self,
        retry_number: int,
        headers: Mapping[str, str] | None,
        random: Callable[[], float],
        *,
        now: float | None = None,
    ) -> float:
        """Seconds to wait before retry `retry_number` (0 for the first retry).

        A wait the answer asks for (retry-after-ms, Retry-After) is honoured up to
        `max_retry_after`; otherwise exponential backoff with jitter.
        """
        asked = parse_retry_after(headers, time.time() if now is None else now)
        if asked is not None:
            return min(asked, self.max_retry_after)
        backoff = min(self.base_delay * 2.0**retry_number, self.max_delay)
        return backoff * (1 - 0.25 * random())
