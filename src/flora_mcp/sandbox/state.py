"""The sandbox's mutable state: runs and their lifecycle, projects made through the API, credits,
idempotency keys, rate limits.

Run progress is computed lazily from the injected clock; nothing runs in the background. A run
of simulated length D (its base duration times time_scale) is `pending` for the first 10% of D,
then `running` with `progress` rising as a fraction from 0.0 towards 1.0, then `completed` at D
with progress 1.0. A run marked to fail stops at half of D as `failed` with error_code
provider_error. With time_scale 0 a run is already completed (or failed) when first read.
Progress is a 0.0-1.0 fraction, not a percentage.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flora_mcp.sandbox import seed

IDEMPOTENCY_WINDOW_SECONDS = 2 * 60 * 60
MAX_RUNS = 10_000  # the oldest runs are forgotten past this, so a long-lived sandbox stays small
MAX_ROUTE_COUNTS = 1_000
MAX_PROJECTS = 1_000  # made through the API; past this the route refuses, so the store stays small
PENDING_SHARE = 0.1
FAIL_AT_SHARE = 0.5
PROVIDER_ERROR_MESSAGE = "The provider failed to complete the generation."


@dataclass
class Run:
    run_id: str
    kind: str  # "generation", "technique" or "action"
    seq: int  # creation order; list cursors page on it so new runs never shift a page
    created: float  # clock seconds
    duration: float  # simulated seconds, already scaled
    fails: bool
    charged_cost: float
    estimated_seconds: float
    workspace_id: str
    project_id: str
    output_type: str  # imageUrl, videoUrl, audioUrl or text
    output_text: str = ""
    generation_type: str | None = None
    model_id: str | None = None
    prompt: str | None = None
    technique_id: str | None = None
    technique_name: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] | None = None  # a generation's params, as sent (never checked, as at FLORA)
    action_id: str | None = None
    # (error_code, error_message) a failing run ends with, when not the provider failure a fail
    # marker plays: an action whose inputs FLORA cannot load fails with its own message.
    failure: tuple[str, str] | None = None

    def phase(self, now: float) -> Phase:
        """Where this run is at clock time `now`."""
        elapsed = max(0.0, now - self.created)
        pending_until = self.duration * PENDING_SHARE
        end = self.duration * FAIL_AT_SHARE if self.fails else self.duration
        started = self.created + pending_until
        if elapsed >= end:
            status = "failed" if self.fails else "completed"
            progress = _running_progress(end - pending_until, self.duration - pending_until)
            return Phase(status, 1.0 if status == "completed" else progress, started, self.created + end)
        if elapsed < pending_until:
            return Phase("pending", 0.0, None, None)
        progress = _running_progress(elapsed - pending_until, self.duration - pending_until)
        return Phase("running", progress, started, None)


def _running_progress(done: float, total: float) -> float:
    if total <= 0:
        return 0.0
    # Never report 1.0 before the run has actually completed.
    return min(0.99, round(done / total, 3))


@dataclass(frozen=True)
class Phase:
    status: str
    progress: float
    started: float | None
    completed: float | None


class TokenBucket:
    """Per-key rate limit: `rate` requests a second on average, bursts up to max(1, rate)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = now

    def take(self, now: float) -> float | None:
        """Spend one token; None when allowed, else the seconds until a token is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


@dataclass
class IdempotencyRecord:
    seen_at: float
    run_id: str  # or, for a key that made a project, the project's id


class SandboxState:
    """All mutable sandbox state, in one place so reset() is one call."""

    def __init__(self, credits_usd: float) -> None:
        self.runs: list[Run] = []
        self.by_id: dict[str, Run] = {}
        self.projects: list[seed.SeedProject] = []  # made through the API, oldest first
        self.assets: dict[str, Any] = {}  # asset id -> sandbox.assets.Asset
        self.credits_usd = credits_usd
        self.requests: Counter[str] = Counter()
        self.header_keys: dict[str, IdempotencyRecord] = {}
        self.body_keys: dict[str, IdempotencyRecord] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add_run(self, run: Run) -> None:
        self.runs.append(run)
        self.by_id[run.run_id] = run
        if len(self.runs) > MAX_RUNS:
            del self.by_id[self.runs.pop(0).run_id]

    # --- projects --------------------------------------------------------------------------
    def find_project(self, project_id: str) -> seed.SeedProject | None:
        """A seeded project or one made through the API: both can hold generations."""
        made = next((p for p in self.projects if p.project_id == project_id), None)
        return made or seed.find_project(project_id)

    def all_projects(self) -> list[seed.SeedProject]:
        """Every project, newest first (the seed's are older than any made here)."""
        return [*reversed(self.projects), *seed.PROJECTS]

    def count_request(self, route: str) -> None:
        # Unmatched paths are counted under their raw path; cap how many such keys can pile up.
        if route in self.requests or len(self.requests) < MAX_ROUTE_COUNTS:
            self.requests[route] += 1

    def charge(self, amount: float) -> bool:
        """Take `amount` off the credits; False (and nothing taken) when they do not cover it."""
        # Compare in micro-dollars so 0.04 * 25 exhausts 1.00 exactly, not 0.9999999.
        if round(self.credits_usd * 1e6) < round(amount * 1e6):
            return False
        self.credits_usd = round(self.credits_usd - amount, 6)
        return True

    # --- idempotency -----------------------------------------------------------------------
    def _fresh(self, table: dict[str, IdempotencyRecord], key: str, now: float) -> IdempotencyRecord | None:
        record = table.get(key)
        if record is None:
            return None
        if now - record.seen_at >= IDEMPOTENCY_WINDOW_SECONDS:
            del table[key]
            return None
        return record

    def header_key_seen(self, key: str, now: float) -> bool:
        return self._fresh(self.header_keys, key, now) is not None

    def run_for_body_key(self, key: str, now: float) -> Run | None:
        record = self._fresh(self.body_keys, key, now)
        return self.by_id.get(record.run_id) if record else None

    def remember_keys(self, run: Run, now: float, header_key: str | None, body_key: str | None) -> None:
        self._prune(now)
        if header_key:
            self.header_keys[header_key] = IdempotencyRecord(now, run.run_id)
        if body_key:
            self.body_keys[body_key] = IdempotencyRecord(now, run.run_id)

    def remember_header_key(self, key: str | None, now: float, made_id: str) -> None:
        """Hold a header key that made something other than a run (a project) for the window."""
        self._prune(now)
        if key:
            self.header_keys[key] = IdempotencyRecord(now, made_id)

    def _prune(self, now: float) -> None:
        # Keeps the key tables bounded by what two hours of traffic can add.
        for table in (self.header_keys, self.body_keys):
            for key in [k for k, r in table.items() if now - r.seen_at >= IDEMPOTENCY_WINDOW_SECONDS]:
                del table[key]

    # --- rate limiting ---------------------------------------------------------------------
    def rate_limit_wait(self, api_key: str, rate: float | None, now: float) -> float | None:
        """None when this request may proceed, else seconds to wait before the next one."""
        if rate is None or rate <= 0:
            return None
        bucket = self.buckets.get(api_key)
        if bucket is None:
            bucket = self.buckets[api_key] = TokenBucket(rate, now)
        return bucket.take(now)


def retry_after_headers(wait_seconds: float) -> dict[str, str]:
    """Both of FLORA's retry hints: Retry-After in whole seconds and retry-after-ms, rounded up."""
    return {
        "Retry-After": str(math.ceil(wait_seconds)),
        "retry-after-ms": str(math.ceil(wait_seconds * 1000)),
    }
