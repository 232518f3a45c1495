"""Serving MCP over stdio so that every broken line gets an answer and none can exhaust memory.

The SDK's stdio transport reads one JSON-RPC message per line and silently drops a line it
cannot decode, so a client that sent one waits forever for its answer. Here every line that
cannot be served is answered, with the request's id whenever it can be read from the line
(json_scan.read_id finds a top-level "id" even in broken or cut-off JSON, in linear time), so
the client's wait ends:

- a leading UTF-8 BOM or NUL bytes are dropped and the message after them served as usual;
- a line that is not JSON, or not UTF-8, is answered with a JSON-RPC parse error (-32700).
  Invalid UTF-8 is never replaced with U+FFFD: a garbled prompt must not start a paid run;
- JSON is read strictly before the SDK sees it (strict_json.py): NaN, Infinity and duplicate
  keys are refused, and a batch array is answered item by item, each with its own id;
- JSON that is not a JSON-RPC message, or that nests deeper than `MAX_DEPTH`, is answered with
  invalid request (-32600);
- a line longer than `max_line_bytes` is never held whole: it is skipped to its end and
  answered with invalid request, saying the limit;
- a blank line is skipped without an answer (it carries no message to answer).

Then the server reads the next line, as before. While serving, fd 1 points at stderr (the SDK's
transport does this, or pipes.divert_stdout when the wire is a pipe), so a stray print cannot
corrupt the wire.
"""

from __future__ import annotations

import contextlib
import sys
from types import TracebackType
from typing import Any, BinaryIO, cast

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, JSONRPCError
from pydantic import ValidationError

from flora_mcp.server.sdk_internals import lowlevel_server
from flora_mcp.server.wire.json_scan import RequestId, nesting_depth, read_id
from flora_mcp.server.wire.pipes import PipeLineReader, PipeTextWriter, divert_stdout, is_pipe_or_socket, nonblocking
from flora_mcp.server.wire.strict_json import answer, refusal, strip_prefix

# Far deeper than any tool call (arguments nest a few levels), far shallower than what would
# strain a parser or a schema validator.
MAX_DEPTH = 64
_SKIP_CHUNK = 64 * 1024
# What the line reader hands the SDK in place of a line it refused itself: not JSON, so the
# SDK reports it as undecodable, and recognisable in that report, so the answer is the reader's.
_MARK = "\x00flora-mcp refused line {}\x00"


class BoundedLines:
    """An async iterator of stdin's lines as text: none longer than `limit` bytes, all strict JSON, none too deep.

    `stream` is a binary file (read in a worker thread, like the SDK's own reader) or a
    `PipeLineReader` (read on the event loop). A leading BOM or NULs are dropped (see
    strict_json.strip_prefix). A line refused here is replaced by a marker line, and its answers
    (one, or one per batch item) kept in `answers` for AnsweringReadStream to send when the SDK
    reports the marker as undecodable.
    """

    def __init__(self, stream: BinaryIO | PipeLineReader, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self.answers: dict[str, list[JSONRPCError]] = {}
        self._refused = 0

    async def _readline(self, size: int) -> bytes:
        # size bounds every read: a line over the limit is never held whole.
        if isinstance(self._stream, PipeLineReader):
            return await self._stream.readline(size)
        return await anyio.to_thread.run_sync(self._stream.readline, size)

    def __aiter__(self) -> BoundedLines:
        return self

    def _refuse(self, *answers: JSONRPCError) -> str:
        self._refused += 1
        mark = _MARK.format(self._refused)
        self.answers[mark] = list(answers)
        return mark

    async def __anext__(self) -> str:
        while True:
            raw = await self._readline(self.limit + 1)
            if not raw:
                raise StopAsyncIteration
            line = strip_prefix(raw)
            if len(raw) > self.limit and not raw.endswith(b"\n"):
                request_id = read_id(line.decode("utf-8", errors="replace"))
                # Over the limit: drop the rest of the line chunk by chunk instead of reading it whole.
                while raw and not raw.endswith(b"\n"):
                    raw = await self._readline(_SKIP_CHUNK)
                message = (
                    f"Message too large: over {self.limit} bytes on one line; it was not read. Send a smaller request."
                )
                return self._refuse(answer(INVALID_REQUEST, message, request_id))
            if not line.strip():
                continue  # a blank line carries no message: nothing to answer
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                request_id = read_id(line.decode("utf-8", errors="replace"))
                byte = exc.start + 1 + len(raw) - len(line)  # counted on the line as sent
                message = f"Parse error: the line is not valid UTF-8 (byte {byte}); send UTF-8 text."
                return self._refuse(answer(PARSE_ERROR, message, request_id))
            # Depth first: the strict read below recurses once per level.
            if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
                message = f"Invalid Request: the message nests deeper than {MAX_DEPTH} levels; send flatter arguments."
                return self._refuse(answer(INVALID_REQUEST, message, read_id(text)))
            if (refused := refusal(text)) is not None:
                return self._refuse(*refused)
            return text


def _readable_id(exc: ValidationError) -> RequestId | None:
    """The id of a JSON object that failed JSON-RPC validation, when it has a usable one."""
    for error in exc.errors():
        value = error.get("input")
        if isinstance(value, dict):
            found = value.get("id")
            if isinstance(found, str | int) and not isinstance(found, bool):
                return found
    return None


def error_answers(exc: Exception, lines: BoundedLines) -> list[JSONRPCError]:
    """The JSON-RPC errors that answer a line the transport could not decode (one, or one per batch item)."""
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    for error in errors:
        refused = lines.answers.pop(str(error.get("input")), None) if error["type"] == "json_invalid" else None
        if refused is not None:
            return refused
    invalid = next((e for e in errors if e["type"] == "json_invalid"), None)
    if not errors or invalid is not None:
        line = invalid.get("input") if invalid is not None else None
        # pydantic's reason names a position, never the content ("number out of range at line 1 column 4324").
        reason = str(invalid["msg"]).removeprefix("Invalid JSON: ") if invalid is not None else ""
        message = "Parse error: the line is not valid JSON" + (f" ({reason})." if reason else ".")
        return [answer(PARSE_ERROR, message, read_id(line) if isinstance(line, str) else None)]
    assert isinstance(exc, ValidationError)
    message = 'Invalid Request: not a JSON-RPC 2.0 message (it needs "jsonrpc": "2.0", a method and an id).'
    return [answer(INVALID_REQUEST, message, _readable_id(exc))]


class AnsweringReadStream:
    """The SDK's read stream, with each undecodable line answered on the write stream and skipped."""

    def __init__(self, inner: Any, write_stream: Any, lines: BoundedLines) -> None:
        self._inner = inner
        self._write = write_stream
        self._lines = lines

    @property
    def last_context(self) -> Any:
        # The dispatcher restores the reader's context from here.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return cast(SessionMessage, item)
            for error in error_answers(item, self._lines):
                await self._write.send(SessionMessage(error))

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
    """Serve `server` over stdin/stdout until stdin closes (see the module docstring).

    The process's own stdin and stdout, when they are pipes or sockets (as MCP clients start
    servers), are read and written on the event loop (see pipes.py); otherwise, or with an
    explicit `stdin`, in worker threads as the SDK does.
    """
    with contextlib.ExitStack() as stack:
        source: BinaryIO | PipeLineReader = stdin or sys.stdin.buffer
        if stdin is None and is_pipe_or_socket(0):
            stack.enter_context(nonblocking(0))
            source = PipeLineReader(0)
        sink: PipeTextWriter | None = None
        if is_pipe_or_socket(1):
            wire = stack.enter_context(divert_stdout())
            stack.enter_context(nonblocking(wire))
            sink = PipeTextWriter(wire)
        lines = BoundedLines(source, max_line_bytes)
        async with stdio_server(stdin=cast(Any, lines), stdout=cast(Any, sink)) as (read_stream, write_stream):
            # MCPServer.run("stdio") does exactly this with the SDK's own streams; it has no public
            # way to serve given streams, hence the lowlevel server (an SDK internal: sdk_internals.py).
            lowlevel = lowlevel_server(server)
            await lowlevel.run(
                cast(Any, AnsweringReadStream(read_stream, write_stream, lines)),
                write_stream,
                lowlevel.create_initialization_options(),
            )
