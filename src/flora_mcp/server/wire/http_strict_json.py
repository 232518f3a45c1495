"""Strict JSON over HTTP: a POST body is read as strictly as a stdio line before the SDK sees it.

The SDK's parser reads NaN, Infinity and 1e999 as numbers and keeps the last of two equal keys
(strict_json.py says why neither may reach a tool that starts paid runs). stdio checks every
line; this middleware does the same for every POSTed body: a body `strict_json.refusal` refuses
is answered here with HTTP 400 and the JSON-RPC error (with the request's id when it can be
read; one per item of a batch), and goes no further. Other bodies are replayed to the app as
they came.
"""

from __future__ import annotations

import json

from mcp_types import JSONRPCError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flora_mcp.server.wire import strict_json


class StrictJsonBody:
    """ASGI middleware: refuse a POST body that is not strict JSON (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        messages, whole = await _body(receive)
        if whole:
            answers = strict_json.refusal(messages[0]["body"].decode("utf-8", "replace"))
            if answers is not None:
                await _refuse(send, answers)
                return
        await self.app(scope, _replaying(messages, receive), send)


async def _body(receive: Receive) -> tuple[list[Message], bool]:
    """The request's messages with the body joined in the first, and whether the body is whole."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left: the app sees that after the body
            return [{"type": "http.request", "body": b"".join(chunks), "more_body": True}, message], False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return [{"type": "http.request", "body": b"".join(chunks), "more_body": False}], True


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(reversed(messages))

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(send: Send, answers: list[JSONRPCError]) -> None:
    dumped = [a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in answers]
    body = json.dumps(dumped[0] if len(dumped) == 1 else dumped).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
