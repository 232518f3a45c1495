"""Dropped connections, made to look real both in process and over a socket.

A fault that drops the connection raises nothing a client could read as an answer:

- under uvicorn, the request's socket is aborted before a byte is written, so httpx2 sees the
  server disconnect (httpx2.RemoteProtocolError), exactly as when a proxy or network drops it;
- anywhere else, the response is started and then broken off with `ConnectionDropped`; the
  in-process `SandboxTransport` (an httpx2.ASGITransport wrapper) turns that into
  httpx2.RemoteProtocolError, and a real server closes the half-sent response.
"""

from __future__ import annotations

import logging

import anyio
import httpx2
from starlette.types import ASGIApp, Receive, Send

logger = logging.getLogger("flora_mcp.sandbox")

DROP_MESSAGE = "Server disconnected without sending a response."


class ConnectionDropped(Exception):
    """The sandbox's signal that this request's connection is to be dropped."""


async def drop_connection(receive: Receive, raw_send: Send) -> None:
    """Drop the connection of the request whose ASGI `send` (as the server gave it) is raw_send."""
    # uvicorn's send is a bound method of its request cycle, which holds the socket's transport.
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        # Wait for the server to notice the disconnect, so it does not try to answer 500 instead.
        with anyio.move_on_after(5):
            while (await receive())["type"] != "http.disconnect":
                pass
        return
    await raw_send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1048576")],
        }
    )
    raise ConnectionDropped(DROP_MESSAGE)


class SandboxTransport(httpx2.AsyncBaseTransport):
    """httpx2.ASGITransport for a sandbox app, with dropped connections as transport errors."""

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped:
            raise httpx2.RemoteProtocolError(DROP_MESSAGE, request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()
