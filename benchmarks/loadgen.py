"""A lean HTTP/1.1 load generator for MCP over streamable HTTP, on asyncio streams.

Why not httpx.AsyncClient: its connection pool costs more per request as connections are added,
and above ~16 concurrent requests it became the bottleneck here (a bare MCP server that answers
~1,400 calls/s to this client showed ~200 calls/s through httpx at 64 clients). One connection
per client, kept alive, with the request written in one piece, measures the servers instead.

It speaks just enough HTTP/1.1: Content-Length, chunked, or read-to-close bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from benchmarks.rpc import HttpSession, RPCError, answer_in_body, initialize_params


class Connection:
    """One kept-alive HTTP/1.1 connection to a server; reopened when the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def post(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        reader, writer = await self._open()
        head = [f"POST {self.path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        answer_headers: dict[str, str] = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        if "content-length" in answer_headers:
            content = await reader.readexactly(int(answer_headers["content-length"]))
        elif answer_headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                pass
            content = b"".join(chunks)
        else:
            content = await reader.read()
            await self.close()
        if answer_headers.get("connection", "").lower() == "close":
            await self.close()
        return status, answer_headers, content


class LoadClient:
    """One MCP client (its own session and connection) for throughput runs."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self.session = HttpSession(url, headers=headers)
        self.connection = Connection(url)

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        request_id, body = self.session.payload(method, params)
        status, headers, content = await self.connection.post(self.session.headers, body)
        text = content.decode()
        if status >= 400:
            raise RPCError(f"{method}: HTTP {status}: {text[:200]}")
        if method == "initialize":
            self.session.after_initialize(headers.get("mcp-session-id"))
        answer = answer_in_body(headers.get("content-type", ""), text, request_id, status)
        return self.session.result(method, answer)

    async def initialize(self) -> None:
        await self.request("initialize", initialize_params())
        status, _, _ = await self.connection.post(self.session.headers, self.session.initialized_body())
        if status >= 400:
            raise RPCError(f"notifications/initialized: HTTP {status}")

    async def close(self) -> None:
        await self.connection.close()
