"""Helpers for the booking's tests: a fake wall clock, FLORA's late charges, an image start.

Nothing here imports MCP: the booking is the product's rules on their own (flora_mcp/runs).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from flora_mcp.api import FloraClient, GenerationRunRequest
from flora_mcp.api.client import AcceptedEarlier, Started
from flora_mcp.runs.booking import Booked, Booking, Send
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.quotes import Quote
from flora_mcp.sandbox import Sandbox

START_ROUTE = "POST /runs/generation"
IMAGE_MODEL = "t2i-sandbox-image"  # the sandbox's image model; it charges 0.04 USD a run


async def no_wait(_: float) -> None:
    """The client's backoff between retries, skipped."""


class ChargesSettleLate(httpx2.AsyncBaseTransport):
    """FLORA's answer to a start, as FLORA gives it: charged_cost 0, settled only after the run ends.

    The sandbox answers a start with the model's full cost; FLORA answers 0 and bills later
    (flora-api.md, "Cost"). Every other request and answer passes through unchanged.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith("/runs/generation"):
            return response
        if response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        body["charged_cost"] = 0
        stale = {"content-length", "content-encoding"}
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in stale]
        return httpx2.Response(response.status_code, headers=headers, json=body, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def priced(usd: float | None) -> Quote:
    """A quote of `usd` USD (None: a start whose cost is not known in advance)."""
    return Quote(usd, "the test's price" if usd is not None else "no price listed")


def image_plan(prompt: str, *, key: str | None = None, repeat: bool = False, model: str | None = None) -> StartPlan:
    """An image generation in the sandbox's project, as start_generation_run plans it."""
    arguments: dict[str, Any] = {
        "workspace_id": Sandbox.workspace_id,
        "project_id": Sandbox.project_id,
        "prompt": prompt,
        "type": "image",
    }
    if model is not None:
        arguments["model"] = model
    return StartPlan(
        tool="start_generation_run",
        kind="generation",
        arguments=arguments,
        given_key=key,
        repeat=repeat,
        describe=f"an image generation of {prompt!r}",
        workspace_id=Sandbox.workspace_id,
        project_id=Sandbox.project_id,
        model_id=model,
        prompt=prompt,
    )


def sender(plan: StartPlan) -> Send:
    """How the tool sends the plan: the generation start, under the key the booking picked."""
    request = GenerationRunRequest.model_construct(**plan.arguments)

    async def send(client: FloraClient, key: str) -> Started[Any] | AcceptedEarlier:
        return await client.start_generation_run(request, idempotency_key=key)

    return send


async def start_image(
    booking: Booking,
    who: Caller,
    prompt: str,
    usd: float | None,
    *,
    key: str | None = None,
    repeat: bool = False,
    model: str | None = None,
) -> Booked:
    """Book an image start quoted `usd` and send it, as the start tool does."""
    plan = image_plan(prompt, key=key, repeat=repeat, model=model)
    return await booking.start(who, plan, priced(usd), sender(plan))


def starts_sent(sandbox: Sandbox) -> int:
    """How many start requests reached FLORA (every attempt counts)."""
    return sandbox.requests[START_ROUTE]
