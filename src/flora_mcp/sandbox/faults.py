"""Scripted misbehaviour: what a sandbox route answers next instead of (or besides) its normal answer.

Tests push faults onto a route ("POST /runs/generation", "GET /runs/{run_id}", or "*" for any
API route); each request to the route consumes one. Kinds:

    status             answer `status` with FLORA's error envelope (503 by default)
    rate_limit         answer 429 rate_limited, with Retry-After / retry-after-ms when given
    drop               drop the connection before doing anything
    drop_after_create  handle the request normally (a start creates and charges its run), then
                       drop the connection instead of answering
    slow               wait `delay` seconds, then answer normally
    body               answer `status` with `body` verbatim as `content_type` (HTML 502 pages,
                       truncated JSON, huge bodies)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from flora_mcp.sandbox.render import API_PREFIX

FaultKind = Literal["status", "rate_limit", "drop_after_create", "drop", "slow", "body"]
FAULT_KINDS: tuple[str, ...] = ("status", "rate_limit", "drop_after_create", "drop", "slow", "body")

ANY_ROUTE = "*"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    delay: float = 0
    body: bytes = b""
    content_type: str = "text/html"
    # Extra response headers, e.g. (("x-should-retry", "false"),) to test that override.
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def status_(cls, status: int = 503, *, retry_after: float | None = None) -> Fault:
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1) -> Fault:
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def dropped(cls) -> Fault:
        return cls("drop")

    @classmethod
    def dropped_after_create(cls) -> Fault:
        return cls("drop_after_create")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls("slow", delay=seconds)

    @classmethod
    def raw(cls, status: int, body: bytes, content_type: str = "text/html") -> Fault:
        return cls("body", status=status, body=body, content_type=content_type)


def normalize_route(route: str) -> str:
    """'POST /api/v1/runs/generation' and 'post /runs/generation' both become 'POST /runs/generation'."""
    if route.strip() == ANY_ROUTE:
        return ANY_ROUTE
    method, _, path = route.strip().partition(" ")
    path = path.strip()
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]
    return f"{method.upper()} {path}"


class FaultQueue:
    """Faults waiting per route, consumed in push order; a route's own faults before "*" ones."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def push(self, route: str, fault: Fault, times: int = 1) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._queues.setdefault(normalize_route(route), deque()).extend([fault] * times)

    def pop(self, route: str, *, include_any: bool = True) -> Fault | None:
        """The next fault for `route`; "*" faults only when include_any (API routes, not media)."""
        for key in (route, ANY_ROUTE) if include_any else (route,):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return None

    def clear(self) -> None:
        self._queues.clear()

    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def __len__(self) -> int:
        return self.pending()
