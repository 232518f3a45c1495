"""A live flora-mcp on a live sandbox: both on loopback sockets, for HTTP and browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox
from flora_mcp.sandbox.server import serving_app
from flora_mcp.server import create_server
from flora_mcp.server.wire.transports import http_app


@asynccontextmanager
async def live_server(sandbox: Sandbox, **settings: Any) -> AsyncIterator[str]:
    """Serve flora-mcp (which serves `sandbox` on its own loopback port) over HTTP; yields /mcp's URL."""
    server = create_server(Settings(**settings), sandbox=sandbox)
    app = http_app(server, host="127.0.0.1", transport="streamable-http")
    async with serving_app(app, lifespan=True) as origin:
        yield origin + "/mcp"


def http_client(url: str, key: str) -> Client:
    headers = {"Authorization": f"Bearer {key}"}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)))
