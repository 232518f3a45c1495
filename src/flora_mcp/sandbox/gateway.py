"""The sandbox's front door: what happens to every request before and after its route.

It stamps a `request-id` on every answer, counts requests per route template, and plays the
scripted faults (see faults.py) the way an unreliable network or proxy in front of FLORA would:
before auth, before the route, and for `drop_after_create` after the route has done its work.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from flora_mcp.sandbox.errors import code_for_status, envelope
from flora_mcp.sandbox.faults import Fault, FaultQueue
from flora_mcp.sandbox.render import API_PREFIX
from flora_mcp.sandbox.state import retry_after_headers
from flora_mcp.sandbox.transport import drop_connection

CONTROL_PREFIX = "/_sandbox/"


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def route_name(app: Starlette, scope: Scope) -> str:
    """The template a request matches ("GET /runs/{run_id}"), or its raw method and path."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "name", ""))
    path = scope["path"]
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]
    return f"{scope['method']} {path}"


def fault_headers(fault: Fault) -> list[tuple[bytes, bytes]]:
    hints = retry_after_headers(fault.retry_after) if fault.retry_after is not None else {}
    return [(k.lower().encode(), v.encode()) for k, v in (*hints.items(), *fault.headers)]


async def send_fault_answer(fault: Fault, send: Send) -> None:
    """The answer of a status, rate_limit or body fault."""
    if fault.kind == "body":
        status, body, content_type = fault.status, fault.body, fault.content_type
    else:
        status = 429 if fault.kind == "rate_limit" else fault.status
        code = code_for_status(status)
        message = "Rate limit exceeded." if status == 429 else f"Sandbox fault: HTTP {status}."
        body = json.dumps(envelope(code, message)).encode()
        content_type = "application/json"
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + fault_headers(fault)})
    await send({"type": "http.response.body", "body": body})


async def _discard(message: Message) -> None:
    """A `send` that throws the answer away: the client of a dropped connection never gets it."""


class Gateway:
    """The ASGI app the sandbox serves: the Starlette routes behind counting and faults."""

    def __init__(
        self,
        app: Starlette,
        faults: FaultQueue,
        count: Callable[[str], None],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.app = app
        self.faults = faults
        self.count = count
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, raw_send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, raw_send)
            return
        request_id = new_request_id().encode()

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"request-id", request_id)]}
            await raw_send(message)

        path: str = scope["path"]
        if path.startswith((CONTROL_PREFIX, API_PREFIX + CONTROL_PREFIX)):
            await self.app(scope, receive, send)
            return
        route = route_name(self.app, scope)
        self.count(route)
        fault = self.faults.pop(route, include_any=path.startswith(API_PREFIX + "/"))
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "slow":
            await self.sleep(fault.delay)
            await self.app(scope, receive, send)
        elif fault.kind == "drop":
            await drop_connection(receive, raw_send)
        elif fault.kind == "drop_after_create":
            await self.app(scope, receive, _discard)
            await drop_connection(receive, raw_send)
        else:
            await send_fault_answer(fault, send)
