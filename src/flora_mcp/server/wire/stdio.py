"""Serving MCP over stdio so that every broken line gets an answer and none can exhaust memory.

The SDK's stdio transport reads one JSON-RPC message per line and silently drops a line it
cannot decode, so a client that sent one waits forever for its answer. Here every line that
cannot be served is answered, with the request's id whenever it can be read from the line
(`read_id` finds a top-level "id" even in broken or cut-off JSON), so the client's wait ends:

- a line that is not JSON, or not UTF-8, is answered with a JSON-RPC parse error (-32700).
  Invalid UTF-8 is never replaced with U+FFFD: a garbled prompt must not start a paid run;
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
import json
import re
import sys
from types import TracebackType
from typing import Any, BinaryIO, cast

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

from flora_mcp.server.wire.pipes import PipeLineReader, PipeTextWriter, divert_stdout, is_pipe_or_socket, nonblocking

# Far deeper than any tool call (arguments nest a few levels), far shallower than what would
# strain a parser or a schema validator.
MAX_DEPTH = 64
_SKIP_CHUNK = 64 * 1024
# What the line reader hands the SDK in place of a line it refused itself: not JSON, so the
# SDK reports it as undecodable, and recognisable in that report, so the answer is the reader's.
_MARK = "\x00flora-mcp refused line {}\x00"

RequestId = str | int

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]', re.DOTALL)
_ID_STRING = re.compile(r'\s*("(?:[^"\\]|\\.)*")', re.DOTALL)
_ID_NUMBER = re.compile(r"\s*(-?(?:0|[1-9][0-9]*))(?![0-9.eE])")


def _big_int(digits: str) -> int:
    """int(digits) for any length: Python refuses str-to-int over 4,300 digits, and an id may be longer."""
    sign, digits = (-1, digits[1:]) if digits.startswith("-") else (1, digits)
    value = 0
    for start in range(0, len(digits), 1000):
        chunk = digits[start : start + 1000]
        value = value * 10 ** len(chunk) + int(chunk)
    return sign * value


def _id_value(text: str, at: int) -> RequestId | None:
    """The string or integer JSON value starting at `at`, when it is a usable id."""
    if found := _ID_STRING.match(text, at):
        try:
            value = json.loads(found.group(1))
            value.encode("utf-8")  # a lone surrogate cannot be written back to the client
        except (ValueError, UnicodeEncodeError):
            return None
        return cast(str, value)
    if found := _ID_NUMBER.match(text, at):
        return _big_int(found.group(1))
    return None


def read_id(text: str) -> RequestId | None:
    """The top-level "id" of a JSON object, read from text that may be broken, cut off or too deep."""
    if not text.lstrip().startswith("{"):
        return None
    depth = 0
    expect_key = False
    key: str | None = None
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in "{[":
            depth += 1
            expect_key = mark == "{" and depth == 1
        elif mark in "}]":
            depth -= 1
            if depth <= 0:
                return None
        elif depth != 1:
            continue
        elif mark == ",":
            expect_key = True
        elif mark == ":":
            if key == "id":
                return _id_value(text, token.end())
            key = None
        elif expect_key:
            try:
                key = json.loads(mark)
            except ValueError:
                key = None
            expect_key = False
    return None


def nesting_depth(text: str, limit: int) -> int:
    """How deep `text` nests objects and arrays (strings skipped), counted up to just past `limit`."""
    if text.count("{") + text.count("[") <= limit:
        return 0  # cannot nest deeper than it has brackets
    depth = deepest = 0
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in "{[":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif mark in "}]":
            depth -= 1
    return deepest


def _answer(code: int, message: str, request_id: RequestId | None) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


class BoundedLines:
    """An async iterator of stdin's lines as text: none longer than `limit` bytes, all UTF-8, none too deep.

    `stream` is a binary file (read in a worker thread, like the SDK's own reader) or a
    `PipeLineReader` (read on the event loop). A line refused here is replaced by a marker line,
    and its answer kept in `answers` for AnsweringReadStream to send when the SDK reports the
    marker as undecodable.
    """

    def __init__(self, stream: BinaryIO | PipeLineReader, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self.answers: dict[str, JSONRPCError] = {}
        self._refused = 0

    async def _readline(self, size: int) -> bytes:
        # size bounds every read: a line over the limit is never held whole.
        if isinstance(self._stream, PipeLineReader):
            return await self._stream.readline(size)
        return await anyio.to_thread.run_sync(self._stream.readline, size)

    def __aiter__(self) -> BoundedLines:
        return self

    def _refuse(self, answer: JSONRPCError) -> str:
        self._refused += 1
        mark = _MARK.format(self._refused)
        self.answers[mark] = answer
        return mark

    async def __anext__(self) -> str:
        while True:
            line = await self._readline(self.limit + 1)
            if not line:
                raise StopAsyncIteration
            if len(line) > self.limit and not line.endswith(b"\n"):
                request_id = read_id(line.decode("utf-8", errors="replace"))
                # Over the limit: drop the rest of the line chunk by chunk instead of reading it whole.
                while line and not line.endswith(b"\n"):
                    line = await self._readline(_SKIP_CHUNK)
                message = (
                    f"Message too large: over {self.limit} bytes on one line; it was not read. Send a smaller request."
                )
                return self._refuse(_answer(INVALID_REQUEST, message, request_id))
            if not line.strip():
                continue  # a blank line carries no message: nothing to answer
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                request_id = read_id(line.decode("utf-8", errors="replace"))
                message = f"Parse error: the line is not valid UTF-8 (byte {exc.start + 1}); send UTF-8 text."
                return self._refuse(_answer(PARSE_ERROR, message, request_id))
            if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
                message = f"Invalid Request: the message nests deeper than {MAX_DEPTH} levels; send flatter arguments."
                return self._refuse(_answer(INVALID_REQUEST, message, read_id(text)))
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


def error_answer(exc: Exception, lines: BoundedLines) -> JSONRPCError:
    """The JSON-RPC error that answers a line the transport could not decode."""
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
        return _answer(PARSE_ERROR, message, read_id(line) if isinstance(line, str) else None)
    assert isinstance(exc, ValidationError)
    message = 'Invalid Request: not a JSON-RPC 2.0 message (it needs "jsonrpc": "2.0", a method and an id).'
    return _answer(INVALID_REQUEST, message, _readable_id(exc))


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
            await self._write.send(SessionMessage(error_answer(item, self._lines)))

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
            # way to serve given streams, hence the lowlevel server.
            lowlevel = server._lowlevel_server
            await lowlevel.run(
                cast(Any, AnsweringReadStream(read_stream, write_stream, lines)),
                write_stream,
                lowlevel.create_initialization_options(),
            )
