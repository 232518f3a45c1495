"""Serving MCP over stdio so that every broken line gets an answer and none can exhaust memory.

The SDK's stdio transport reads one JSON-RPC message per line and silently drops a line it
cannot decode, so a client that sent one waits forever for its answer. Here:

- a line that is not JSON is answered with a JSON-RPC parse error (-32700, id null);
- JSON that is not a JSON-RPC message is answered with invalid request (-32600), with the
  message's id when one can be read from it;
- a line longer than `max_line_bytes` is never held whole: it is skipped to its end and
  answered with invalid request, saying the limit;
- a blank line is skipped without an answer (it carries no message to answer).

Then the server reads the next line, as before. The SDK's transport still owns the process's
stdout (it points fd 1 at stderr while serving, so a stray print cannot corrupt the wire).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, BinaryIO, cast

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

# What the line reader hands the SDK in place of an oversized line: not JSON, so the SDK reports
# it as undecodable, and recognisable in that report, so the answer can say why.
_OVERSIZED = "\x00flora-mcp: line over the size limit\x00"
_SKIP_CHUNK = 64 * 1024


class BoundedLines:
    """An async iterator of stdin's lines as text, none longer than `limit` bytes (see module doc)."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self.limit = limit

    async def _readline(self, size: int) -> bytes:
        # One blocking read in a worker thread, like the SDK's own reader; size bounds it.
        return await anyio.to_thread.run_sync(self._stream.readline, size)

    def __aiter__(self) -> BoundedLines:
        return self

    async def __anext__(self) -> str:
        while True:
            line = await self._readline(self.limit + 1)
            if not line:
                raise StopAsyncIteration
            if len(line) > self.limit and not line.endswith(b"\n"):
                # Over the limit: drop the rest of the line chunk by chunk instead of reading it whole.
                while line and not line.endswith(b"\n"):
                    line = await self._readline(_SKIP_CHUNK)
                return _OVERSIZED
            if line.strip():
                return line.decode("utf-8", errors="replace")
            # A blank line carries no message: nothing to answer.


def _readable_id(exc: ValidationError) -> str | int | None:
    """The id of a JSON object that failed JSON-RPC validation, when it has a usable one."""
    for error in exc.errors():
        value = error.get("input")
        if isinstance(value, dict):
            found = value.get("id")
            if isinstance(found, str | int) and not isinstance(found, bool):
                return found
    return None


def error_answer(exc: Exception, limit: int) -> JSONRPCError:
    """The JSON-RPC error that answers a line the transport could not decode."""
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    if any(e["type"] == "json_invalid" and e.get("input") == _OVERSIZED for e in errors):
        data = ErrorData(
            code=INVALID_REQUEST,
            message=f"Message too large: over {limit} bytes on one line; it was not read. Send a smaller request.",
        )
        return JSONRPCError(jsonrpc="2.0", id=None, error=data)
    if not errors or any(e["type"] == "json_invalid" for e in errors):
        data = ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON.")
        return JSONRPCError(jsonrpc="2.0", id=None, error=data)
    assert isinstance(exc, ValidationError)
    data = ErrorData(
        code=INVALID_REQUEST,
        message='Invalid Request: not a JSON-RPC 2.0 message (it needs "jsonrpc": "2.0", a method and an id).',
    )
    return JSONRPCError(jsonrpc="2.0", id=_readable_id(exc), error=data)


class AnsweringReadStream:
    """The SDK's read stream, with each undecodable line answered on the write stream and skipped."""

    def __init__(self, inner: Any, write_stream: Any, limit: int) -> None:
        self._inner = inner
        self._write = write_stream
        self._limit = limit

    @property
    def last_context(self) -> Any:
        # The dispatcher restores the reader's context from here.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return cast(SessionMessage, item)
            await self._write.send(SessionMessage(error_answer(item, self._limit)))

    def __aiter__(self) -> AnsweringReadStream:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> AnsweringReadStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def serve_stdio(server: MCPServer[Any], *, max_line_bytes: int, stdin: BinaryIO | None = None) -> None:
    """Serve `server` over stdin/stdout until stdin closes (see the module docstring)."""
    lines = BoundedLines(stdin or sys.stdin.buffer, max_line_bytes)
    async with stdio_server(stdin=cast(Any, lines)) as (read_stream, write_stream):
        # MCPServer.run("stdio") does exactly this with the SDK's own streams; it has no public
        # way to serve given streams, hence the lowlevel server.
        lowlevel = server._lowlevel_server
        await lowlevel.run(
            cast(Any, AnsweringReadStream(read_stream, write_stream, max_line_bytes)),
            write_stream,
            lowlevel.create_initialization_options(),
        )
