"""A scripted FLORA that is not the sandbox: an httpx2.MockTransport handler with FLORA's routes.

It answers from data a test sets (models, a technique, the states a run goes through, list
pages), records every request, and can play what the sandbox never does: statuses, output
types, run types and model types FLORA may add, nulls in documented fields, malformed list
items, a retired /runs/generation route. The server reaches it through its real FLORA client
(an httpx2.AsyncClient with this handler as transport) and is driven through a real mcp.Client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.server import create_server

from .fault_support import FakeClock

BASE = "https://flora.scripted/api/v1"
API = "/api/v1"
WORKSPACE, PROJECT, TECHNIQUE = "ws_scripted", "prj_scripted", "tech_scripted"

IMAGE_MODEL: dict[str, Any] = {
    "model_id": "t2i-scripted",
    "name": "Scripted image",
    "type": "image",
    "estimated_credits": 40,
    "estimated_seconds": 5,
    "params": [
        {
            "name": "aspect_ratio",
            "required": False,
            "type": "string",
            "default": "1:1",
            "options": [{"label": "Square", "value": "1:1"}, {"label": "Wide", "value": "16:9"}],
        },
        {"name": "steps_hint", "required": False, "type": "int?", "min": 1, "max": 50},
        {"name": "seed", "required": False, "type": "seed"},
        {"name": "quality", "required": True, "type": "string", "default": "standard"},
        {"name": "mask", "required": False, "type": "mask2d", "description": "A type added after this server."},
    ],
}
VIDEO_MODEL: dict[str, Any] = {
    "model_id": "t2v-scripted",
    "type": "video",
    "estimated_credits": 500,
    "params": [{"name": "duration", "required": False, "type": "int", "default": 5, "min": 2, "max": 10}],
}
TECHNIQUE_BODY: dict[str, Any] = {
    "technique_id": TECHNIQUE,
    "name": "Scripted technique",
    "run_cost": 0.12,
    "inputs": [
        {"id": "subject", "name": "Subject", "type": "text", "optional": False},
        {"id": "refs", "name": "References", "type": "imageUrl", "optional": True, "allow_multiple": True},
        {"id": "settings", "name": "Settings", "type": "json", "optional": True},
    ],
}


def running(run_id: str = "run_scripted", status: str = "running", **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "status": status, "progress": 0.5, "created_at": 1_700_000_000, **extra}


@dataclass
class ScriptedFlora:
    """FLORA's routes answered from the fields below; `requests` records what arrived."""

    models: list[Any] = field(default_factory=lambda: [IMAGE_MODEL, VIDEO_MODEL])
    technique: dict[str, Any] = field(default_factory=lambda: dict(TECHNIQUE_BODY))
    start: dict[str, Any] = field(
        default_factory=lambda: {"run_id": "run_scripted", "type": "generation", "charged_cost": 0.04}
    )
    nested: dict[str, Any] = field(default_factory=lambda: running(status="pending"))
    reads: list[dict[str, Any]] = field(default_factory=lambda: [running(status="completed", outputs=[])])
    technique_runs: dict[str, Any] = field(default_factory=lambda: {"technique_runs": [], "meta": {}})
    generations: dict[str, Any] = field(default_factory=lambda: {"generations": [], "meta": {}})
    generation_route_gone: bool = False
    start_reply: httpx2.Response | None = None  # answers every start POST instead of `start`/`nested`
    models_status: int = 200
    requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        method, path = request.method, request.url.path.removeprefix(API)
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/models":
            if self.models_status != 200:
                return httpx2.Response(self.models_status, json={"error": {"code": "unknown_error", "message": "x"}})
            kind = request.url.params.get("type")
            listed = [m for m in self.models if kind is None or _type_of(m) in (None, kind)]
            return httpx2.Response(200, json={"models": listed})
        if method == "GET" and len(parts) == 2 and parts[0] == "techniques":
            return httpx2.Response(200, json=self.technique)
        if method == "POST" and self.start_reply is not None:
            return self.start_reply
        if method == "POST" and path == "/runs/generation" and self.generation_route_gone:
            return httpx2.Response(404, text="<html>Not Found</html>", headers={"content-type": "text/html"})
        if method == "POST" and path in ("/runs/generation", "/generate", "/runs/technique"):
            return httpx2.Response(200, json=self.start)
        if method == "POST" and len(parts) == 3 and parts[0] == "techniques":
            return httpx2.Response(200, json=self.nested)
        if method == "GET" and (parts[0] == "runs" or (parts[0] == "techniques" and len(parts) == 4)):
            state = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
            return httpx2.Response(200, json=state)
        if method == "GET" and path == "/technique-runs":
            return httpx2.Response(200, json=self.technique_runs)
        if method == "GET" and path == "/generations":
            return httpx2.Response(200, json=self.generations)
        return httpx2.Response(404, json={"error": {"code": "not_found", "message": f"no route {method} {path}"}})

    def sent(self, method: str | None = None) -> list[httpx2.Request]:
        return [r for r in self.requests if method is None or r.method == method]

    def starts(self) -> int:
        """POSTs that reached this FLORA: each could have run, and billed, a start."""
        return len(self.sent("POST"))

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.sent("POST")]


def _type_of(model: Any) -> Any:
    return model.get("type") if isinstance(model, dict) else None


@asynccontextmanager
async def scripted_client(flora: ScriptedFlora, **settings: Any) -> AsyncIterator[Client]:
    """An in-memory mcp.Client to a flora-mcp server whose FLORA is `flora`."""
    clock = FakeClock()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(flora)) as http:
        server = create_server(
            Settings(api_key="sk-scripted-key-0001", base_url=BASE, max_retries=0, **settings),
            http_client=http,
            sleep=clock.sleep,
            clock=clock.time,
        )
        async with Client(server) as client:
            yield client
