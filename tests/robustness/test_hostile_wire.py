"""Broken and oversized JSON-RPC over the real wires: an error answer each time, and the next call is served.

flora-mcp runs as a subprocess with its built-in sandbox (`--sandbox`), over stdio and over
Streamable HTTP, with the request size limit set low (64 KiB) so oversized messages are cheap.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR

from .hostile_support import ACCEPT, LEGACY_VERSION, RawStdio, child_env, decode_answer, mcp_process, rpc, tool_call

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024
ENV = {"FLORA_SANDBOX_TIME_SCALE": "0", "FLORA_MAX_REQUEST_BYTES": str(LIMIT)}

# (what is sent, the id the answer must carry, the JSON-RPC error code)
BROKEN_LINES: list[tuple[bytes, Any, int]] = [
    (b"garbage", None, PARSE_ERROR),
    (b"{not json", None, PARSE_ERROR),
    (b'{"jsonrpc": "2.0", "id": 3, "method": "tools/list"', 3, PARSE_ERROR),  # truncated: its id is still read
    (b"\xff\xfe\x00\x01", None, PARSE_ERROR),
    (b'{"jsonrpc": "1.0", "id": 5, "method": "tools/list"}', 5, INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 6, "method": 7}', 6, INVALID_REQUEST),
    (b'{"id": 9, "method": "tools/list"}', 9, INVALID_REQUEST),
    (b"[1, 2, 3]", None, INVALID_REQUEST),
    (b'"just a string"', None, INVALID_REQUEST),
    (b"null", None, INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 12, "method": "no/such/method"}', 12, METHOD_NOT_FOUND),
    (b'{"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": "get_run", "arguments": "x"}}', 13,
     INVALID_PARAMS),
    (b'{"jsonrpc": "2.0", "id": 15, "method": "tools/list", "params": {"padding": "' + b"x" * (2 * LIMIT) + b'"}}',
     15, INVALID_REQUEST),
    # Lines the SDK's parser refuses: answered with the id they carry, never id null (a client hang).
    (b'{"jsonrpc": "2.0", "id": 16, "method": "tools/call", "params": {"name": "list_workspaces", '
     b'"arguments": {"x": "\\ud800"}}}', 16, PARSE_ERROR),
    (b'{"jsonrpc": "2.0", "id": 17, "method": "tools/list", "params": {"a": ' + b"[" * 200 + b"]" * 200 + b"}}",
     17, INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": "deep", "method": "tools/list", "params": {"a": ' + b"[" * 65 + b"]" * 65 + b"}}",
     "deep", INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": ' + b"7" * 4400 + b', "method": "tools/list"}', int("7" * 4000) * 10**400
     + int("7" * 400), PARSE_ERROR),
    (b'{"jsonrpc": "2.0", "id": 18, "method": "tools/call", "params": {"name": "list_workspaces", '
     b'"arguments": {"x": "caf\xe9"}}}', 18, PARSE_ERROR),
    (b"y" * (5 * LIMIT), None, INVALID_REQUEST),
]  # fmt: skip


def _is_workspace_list(answer: dict[str, Any]) -> bool:
    result = answer.get("result") or {}
    return result.get("isError") is False and "ws_sandbox" in json.dumps(result.get("structuredContent"))


@pytest.fixture
async def stdio() -> AsyncIterator[RawStdio]:
    # The 4,400-digit id must be read back from the answers: lift Python's int-from-text limit here.
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    async with RawStdio.start(child_env(**ENV), "--sandbox") as wire:
        await wire.initialize()
        yield wire
    sys.set_int_max_str_digits(digits)


async def test_over_stdio_each_broken_line_gets_an_error_answer_and_the_next_call_is_served(
    stdio: RawStdio,
) -> None:
    for i, (line, answer_id, code) in enumerate(BROKEN_LINES):
        await stdio.write(line + b"\n")
        answer = await stdio.next_message()
        assert answer["id"] == answer_id and answer["error"]["code"] == code, (line[:60], answer)
        assert answer["error"]["message"]

        assert _is_workspace_list(await stdio.call_tool(100 + i, "list_workspaces", {})), line[:60]


async def test_over_stdio_a_flood_of_broken_lines_gets_one_answer_per_line(stdio: RawStdio) -> None:
    await stdio.write(b"".join(line + b"\n" for line, _, _ in BROKEN_LINES) + b"\n\n  \n")
    answers = [await stdio.next_message() for _ in BROKEN_LINES]
    # JSON-RPC matches answers by id, not by order: a request the server dispatches (ids 12, 13)
    # may be answered after a later line the reader refused itself.
    got = Counter(repr((a["id"], a["error"]["code"])) for a in answers)
    assert got == Counter(repr((i, code)) for _, i, code in BROKEN_LINES)

    # Blank lines got no answer: the next message on the wire answers this call.
    assert _is_workspace_list(await stdio.call_tool(101, "list_workspaces", {}))
    assert all(json.loads(line) for line in stdio.transcript.splitlines())  # the wire carried only JSON


async def test_over_stdio_a_request_just_under_the_size_limit_is_served(stdio: RawStdio) -> None:
    request = {"jsonrpc": "2.0", "id": 102, "method": "tools/call", "params": tool_call("list_workspaces", {})}
    body = json.dumps(request)
    line = body[:-1] + " " * (LIMIT - len(body)) + "}"  # exactly LIMIT bytes, valid JSON
    assert len(line.encode()) == LIMIT

    await stdio.write(line.encode() + b"\n")

    assert _is_workspace_list(await stdio.answer_to(102))


# --- Streamable HTTP ---------------------------------------------------------------------------
async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 8192):
        yield b"z" * 8192


HEADERS = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": LEGACY_VERSION}
MODERN = {**HEADERS, "MCP-Protocol-Version": "2026-07-28"}

# (headers, body, expected HTTP status, expected JSON-RPC error code or None)
BROKEN_BODIES: list[tuple[dict[str, str], Any, int, int | None]] = [
    (HEADERS, b"garbage", 400, PARSE_ERROR),
    (HEADERS, b"{not json", 400, PARSE_ERROR),
    (MODERN, b"{not json", 400, PARSE_ERROR),
    (HEADERS, b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}', 400, None),
    (HEADERS, b"[1, 2, 3]", 400, None),
    (HEADERS, b"", 400, None),
    (HEADERS, b"\xff\xfe\x00", 400, PARSE_ERROR),
    ({**HEADERS, "Content-Type": "text/plain"}, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}', 400, None),
    ({**HEADERS, "Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 400, None),
    (HEADERS, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "x": "' + b"x" * LIMIT + b'"}', 413, None),
    (HEADERS, "chunked", 413, None),
]  # fmt: skip


async def test_over_http_broken_and_oversized_bodies_get_error_answers_and_the_server_keeps_serving() -> None:
    async with (
        # The limit by flag here (by environment over stdio above).
        mcp_process(child_env(FLORA_SANDBOX_TIME_SCALE="0"), "--sandbox", "--max-request-bytes", str(LIMIT)) as server,
        httpx2.AsyncClient(trust_env=False, timeout=30) as http,
    ):
        for i, (headers, body, status, code) in enumerate(BROKEN_BODIES):
            content = _chunks(4 * LIMIT) if body == "chunked" else body
            answer = await http.post(server.url, content=content, headers=headers)
            assert answer.status_code == status, (i, answer.status_code, answer.text[:200])
            if code is not None:
                assert answer.json()["error"]["code"] == code
            if status == 413:
                assert answer.json()["error"] == "request_too_large" and str(LIMIT) in answer.json()["message"]

            served = await rpc(http, server.url, "tools/call", tool_call("list_workspaces", {}), request_id=i)
            assert served.status_code == 200 and _is_workspace_list(decode_answer(served)), (i, served.text[:300])
        assert "Traceback" not in server.log()
