"""Issue 19's stdio findings hold after their fix, over real stdio (flora-mcp --sandbox as a subprocess).

The figures test runs edges_stdio.edge_figures, as the robustness report does; the others try
one finding each, quickly, with finer assertions on the answers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .edges_stdio import BROKEN_SIZES, answers, broken_line, edge_figures, non_strict, sandbox_stdio

pytestmark = pytest.mark.anyio

LIST_WORKSPACES = (
    b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": {"name": "list_workspaces", "arguments": {}}}'
)
START = (
    b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": {"name": "start_generation_run", "arguments": '
    b'{"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image", "prompt": "a batched mug"}}}'
)


@pytest.mark.slow
async def test_every_stdio_edge_figure_holds(tmp_path: Path) -> None:
    started = time.perf_counter()
    edges = await edge_figures(tmp_path)
    assert len(edges) == 3 and all(edge.area == "stdio" for edge in edges)
    for edge in edges:
        assert edge.holds, edge
    assert time.perf_counter() - started < 20


async def test_broken_lines_up_to_one_mebibyte_are_answered_at_once_and_the_next_call_is_served(
    tmp_path: Path,
) -> None:
    async with sandbox_stdio(tmp_path, "broken") as wire:
        for n, size in enumerate(BROKEN_SIZES.values()):
            started = time.perf_counter()
            await wire.write(broken_line(size))
            [answer] = await answers(wire, 1)
            # Before the fix: 3.7 s at 32 KiB, about a minute at 128 KiB (the id search was quadratic).
            assert time.perf_counter() - started < 1.0, size
            assert answer["id"] is None and answer["error"]["code"] == -32700  # the line ends inside its string
            assert "result" in await wire.call_tool(n, "list_workspaces", {})


async def test_a_message_after_a_bom_or_nul_bytes_is_served_with_its_own_id(tmp_path: Path) -> None:
    prefixes = [b"\xef\xbb\xbf", b"\x00", b"\x00" * 7, b"\x00\xef\xbb\xbf\x00"]
    async with sandbox_stdio(tmp_path, "prefixed") as wire:
        for n, prefix in enumerate(prefixes):
            await wire.write(prefix + LIST_WORKSPACES % n + b"\n")
            [answer] = await answers(wire, 1)
            assert answer["id"] == n and answer["result"]["isError"] is False, prefix
        # Only NULs: nothing is left of the line, so (like a blank line) it gets no answer.
        await wire.write(b"\x00\x00\n" + b'{"jsonrpc": "2.0", "id": "after", "method": "ping"}\n')
        assert [answer["id"] for answer in await answers(wire, 1)] == ["after"]
        # A BOM anywhere but first is inside the JSON: a parse error, still with the id.
        await wire.write(b'{"jsonrpc": "2.0", "id": 9, "method": "ping"}\xef\xbb\xbf\n')
        [inside] = await answers(wire, 1)
    assert inside["id"] == 9 and inside["error"]["code"] == -32700


async def test_a_batch_gets_one_refusal_per_item_with_its_id_and_starts_nothing(tmp_path: Path) -> None:
    notification = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
    batch = b"[" + START % 1 + b", " + notification + b', {"jsonrpc": "2.0", "id": "two", "method": "ping"}]\n'
    async with sandbox_stdio(tmp_path, "batch") as wire:
        await wire.write(batch)
        items = await answers(wire, 2)
        await wire.write(b"[]\n")
        [empty] = await answers(wire, 1)
        listed = await wire.call_tool(3, "list_generations", {"project_id": "prj_sandbox"})
    assert [item["id"] for item in items] == [1, "two"]
    assert all(item["error"]["code"] == -32600 and "one message per line" in item["error"]["message"] for item in items)
    assert empty["id"] is None and empty["error"]["code"] == -32600
    assert listed["result"]["structuredContent"]["generations"] == []


async def test_nan_infinity_and_duplicate_keys_are_refused_with_the_line_id_and_start_no_paid_run(
    tmp_path: Path,
) -> None:
    async with sandbox_stdio(tmp_path, "strict") as wire:
        refusals = []
        for n in range(12):  # every kind of non_strict line twice, with each constant
            line, request_id = non_strict(n)
            await wire.write(line)
            [answer] = await answers(wire, 1)
            assert answer["id"] == request_id, line
            refusals.append(answer["error"])
        listed = await wire.call_tool(1, "list_generations", {"project_id": "prj_sandbox"})
    assert listed["result"]["structuredContent"]["generations"] == []
    assert {error["code"] for error in refusals[:2]} == {-32700}  # NaN / Infinity: not JSON
    assert "NaN is not a JSON value" in refusals[0]["message"]
    assert "too large for a double" in refusals[7]["message"]  # 1e999 would be read as infinity
    assert refusals[3] == {
        "code": -32600,
        "message": 'Invalid Request: "prompt" appears twice in one object; send each key once.',
    }
    assert '"name" appears twice' in refusals[4]["message"] and '"method" appears twice' in refusals[5]["message"]
