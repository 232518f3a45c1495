"""Helpers for the API client's tests: a scripted FLORA over httpx2.MockTransport.

The client is always given a real httpx2.AsyncClient with an injected transport; nothing is
patched. Its sleep is the fake clock's (tests/fake_clock.py), which records the waits the retry
loop asks for in `sleeps`, so no test really waits.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2

from flora_mcp.api import FloraClient, GenerationRunRequest
from tests.fake_clock import FakeClock

BASE_URL = "https://flora.test/api/v1"
# A key no code would produce by accident: if it shows up anywhere but the Authorization
# header, it leaked.
CANARY_KEY = "sk-canary-3f9d1c7e5a2b4c6d8e0f"

# A valid generation start, for tests that need one and do not care which.
GENERATION = GenerationRunRequest(
    workspace_id="ws_abc123", project_id="prj_abc123", prompt="A ceramic mug", type="image"
)

Reply = httpx2.Response | Exception | Callable[[httpx2.Request], httpx2.Response]


def envelope(code: str, message: str = "", fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message or code.replace("_", " ")}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def start_answer(run_id: str = "run_abc123", **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "type": "generation", "charged_cost": 0.04, "estimated_seconds": 6, **extra}


def run_state(run_id: str = "run_abc123", status: str = "running", **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "status": status, "progress": 0.5, "created_at": 1700000000, **extra}


class ScriptedFlora:
    """A MockTransport handler answering from a script, recording every request it gets.

    Each request takes the next reply; the last reply repeats. A reply is a response, an
    exception to raise (as a real transport would), or a function of the request.
    """

    def __init__(self, *replies: Reply) -> None:
        assert replies, "a script needs at least one reply"
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx2.Response):
            return reply
        return reply(request)

    def json_bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


class Harness:
    """A FloraClient wired to a ScriptedFlora, plus what the test needs to look at."""

    def __init__(self, flora: ScriptedFlora, client: FloraClient, clock: FakeClock) -> None:
        self.flora = flora
        self.client = client
        self.clock = clock  # the client's sleep is clock.sleep


MakeHarness = Callable[..., Harness]


async def chunks(*parts: bytes, then: Exception | None = None) -> AsyncIterator[bytes]:
    """A response body delivered in pieces, optionally breaking off with `then`."""
    for part in parts:
        yield part
    if then is not None:
        raise then
