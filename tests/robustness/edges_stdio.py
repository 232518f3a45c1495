"""Issue 19's stdio findings, tried again over real stdio (flora-mcp --sandbox as a subprocess).

`edge_figures(work)` returns one Edge per finding, each measured on a server of its own (a
finding that froze the wire must not spoil the next one's figure):

1. broken lines: a line cut off inside a string of escaped quotes, the worst case for finding
   an id in broken JSON, at 32 KiB, 128 KiB and 1 MiB (the default limit); each must be
   answered within `BROKEN_LINE_SECONDS`, and the next call served;
2. prefixed and batched lines: a UTF-8 BOM and/or NULs before a message, or a JSON-RPC batch
   array; each must be answered with exactly the ids it carries (one answer per batch item);
3. non-strict JSON: NaN, Infinity, -Infinity, 1e999 or a duplicate key in a tools/call that
   would otherwise start a paid run; each must be refused with its id, and none may start a run.

Each server's stderr is kept in `work/edges_stdio_<finding>.log` for a reader of the report.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from .edges import Edge
from .hostile_support import RawStdio, child_env

BROKEN_LINE_SECONDS = 1.0
BROKEN_SIZES = {"32 KiB": 32 * 1024, "128 KiB": 128 * 1024, "1 MiB": 1024 * 1024}
PREFIXED_LINES = 300
# Long enough for any answer on a busy machine, short enough that a frozen server (the old
# code took 68 s on a 128 KiB line) fails the figure instead of stalling the report.
ANSWER_SECONDS = 5.0
PREFIXES = [b"\xef\xbb\xbf", b"\x00", b"\x00\x00\x00", b"\x00\xef\xbb\xbf", b"\xef\xbb\xbf\x00"]
WORKSPACE = '"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image"'


@asynccontextmanager
async def sandbox_stdio(work: Path, name: str) -> AsyncIterator[RawStdio]:
    """flora-mcp --sandbox over stdio at the default line limit, initialized; its log saved in `work`."""
    async with RawStdio.start(child_env(FLORA_SANDBOX_TIME_SCALE="0", FLORA_LOG_LEVEL="ERROR"), "--sandbox") as wire:
        try:
            await wire.initialize()
            yield wire
        finally:
            await anyio.Path(work / f"edges_stdio_{name}.log").write_text(wire.log())


async def answers(wire: RawStdio, count: int) -> list[dict[str, Any]]:
    """The next `count` answers (notifications skipped); fewer if they stop coming in time."""
    found: list[dict[str, Any]] = []
    with anyio.move_on_after(ANSWER_SECONDS):
        while len(found) < count:
            message = await wire.next_message()
            if "id" in message:
                found.append(message)
    return found


def broken_line(size: int) -> bytes:
    """A tools/call line of `size` bytes (newline included), cut off inside a prompt of escaped quotes."""
    head = b'{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "start_generation_run", "arguments": '
    head += b'{"prompt": "'
    return head + b'\\"' * ((size - len(head) - 1) // 2) + b"\n"


async def broken_lines_edge(work: Path) -> Edge:
    figures: dict[str, str] = {label: "not tried" for label in BROKEN_SIZES}
    held = 0  # lines answered in time, with the next call served
    async with sandbox_stdio(work, "broken_lines") as wire:
        for n, (label, size) in enumerate(BROKEN_SIZES.items()):
            started = time.perf_counter()
            await wire.write(broken_line(size))
            got = await answers(wire, 1)
            seconds = time.perf_counter() - started
            if not got:
                figures[label] = f"no answer in {ANSWER_SECONDS:g} s"
                break  # the wire is frozen: later lines (and calls) would only wait too
            figures[label] = f"{seconds:.3f} s"
            refused = got[0].get("error", {}).get("code") == -32700
            served = "result" in await wire.call_tool(n, "list_workspaces", {})
            held += refused and served and seconds < BROKEN_LINE_SECONDS
    return Edge(
        area="stdio",
        finding="one broken stdio line froze the server (id search quadratic: 128 KB 68.5 s, 1 MiB ~73 min)",
        target=f"linear handling: broken lines up to 1 MiB answered in < {BROKEN_LINE_SECONDS:g} s, next call served",
        tried=len(BROKEN_SIZES),
        failed=len(BROKEN_SIZES) - held,
        measured=", ".join(f"{label} {figure}" for label, figure in figures.items()),
    )


def _message(request_id: int, rng: random.Random) -> tuple[str, bool]:
    """A JSON-RPC request as text, and whether it is valid (so must be served, not refused)."""
    kind = rng.randrange(4)
    if kind == 0:
        return f'{{"jsonrpc": "2.0", "id": {request_id}, "method": "tools/list"}}', True
    if kind == 1:
        return f'{{"jsonrpc": "2.0", "id": {request_id}, "method": "ping"}}', True
    if kind == 2:
        call = '"method": "tools/call", "params": {"name": "list_workspaces", "arguments": {}}'
        return f'{{"jsonrpc": "2.0", "id": {request_id}, {call}}}', True
    return f'{{"jsonrpc": "1.0", "id": {request_id}, "method": "tools/list"}}', False  # not JSON-RPC 2.0


def prefixed_or_batched(n: int, rng: random.Random) -> tuple[bytes, list[int], bool]:
    """Line n: (bytes, the ids its answers must carry, whether the first answer must be a result)."""
    request_id = 1000 + 10 * n
    if n % 3 < 2:  # two lines in three: a prefix before one message
        text, valid = _message(request_id, rng)
        return rng.choice(PREFIXES) + text.encode() + b"\n", [request_id], valid
    ids = [request_id + i for i in range(rng.randrange(1, 5))]
    items = [_message(item_id, rng)[0] for item_id in ids]
    if rng.random() < 0.3:  # a notification among them: JSON-RPC answers it with nothing
        items.insert(rng.randrange(len(items) + 1), '{"jsonrpc": "2.0", "method": "notifications/initialized"}')
    return b"[" + ", ".join(items).encode() + b"]\n", ids, False


async def prefixed_edge(work: Path, count: int = PREFIXED_LINES, seed: int = 19) -> Edge:
    rng = random.Random(seed)
    failed = tried = 0
    kinds: Counter[str] = Counter()
    async with sandbox_stdio(work, "prefixed_lines") as wire:
        for n in range(count):
            line, ids, served = prefixed_or_batched(n, rng)
            kinds["batch" if line.startswith(b"[") else "prefixed"] += 1
            tried += 1
            await wire.write(line)
            got = await answers(wire, len(ids))
            right_ids = Counter(answer.get("id") for answer in got) == Counter(ids)
            if not right_ids or (served and "result" not in got[0]):
                failed += 1
            if len(got) < len(ids):
                # Answers stopped coming (frozen, or one answer for a whole batch): waiting
                # ANSWER_SECONDS on every later line would stall the report; count them as failed.
                failed += count - tried
                break
    return Edge(
        area="stdio",
        finding="lines with a UTF-8 BOM, a NUL prefix or a batch array were answered with id null (109 of 1,779)",
        target="each such line answered with its own id(s): prefixed messages served, batch items answered one by one",
        tried=count,
        failed=failed,
        measured=f"{count - failed} of {count} answered with their ids ({kinds['prefixed']} prefixed, "
        f"{kinds['batch']} batches)",
    )


def non_strict(n: int) -> tuple[bytes, int]:
    """Line n: a start_generation_run made non-strict in one of several ways, and the id it carries."""
    request_id = 5000 + n
    value = ["NaN", "Infinity", "-Infinity", "1e999"][n % 4]
    arguments = f'{WORKSPACE}, "prompt": "a strict mug {n}"'
    call = f'"name": "start_generation_run", "arguments": {{{arguments}}}'
    head = f'"jsonrpc": "2.0", "id": {request_id}'
    lines = [
        f'{{{head}, "method": "tools/call", "params": {{{call}, "_meta": {{"x": {value}}}}}}}',
        f'{{{head}, "method": "tools/call", "params": {{{call}}}, "x": {value}}}',
        f'{{{head}, "method": "tools/call", "params": {{{call}, "_meta": {{"x": 1, "x": 2}}}}}}',
        f'{{{head}, "method": "tools/call", "params": {{{call[:-1]}, "prompt": "a cheap mug {n}"}}}}}}',
        f'{{{head}, "method": "tools/call", "params": {{"name": "list_workspaces", "arguments": {{{arguments}}}, '
        '"name": "start_generation_run"}}',
        f'{{{head}, "method": "tools/list", "params": {{{call}}}, "method": "tools/call"}}',
    ]
    return lines[n % len(lines)].encode() + b"\n", request_id


async def non_strict_edge(work: Path, count: int = 60) -> Edge:
    refused = 0
    async with sandbox_stdio(work, "non_strict") as wire:
        for n in range(count):
            line, request_id = non_strict(n)
            await wire.write(line)
            got = await answers(wire, 1)
            if got and got[0].get("id") == request_id and got[0].get("error", {}).get("code") in (-32700, -32600):
                refused += 1
            if not got:
                break
        listed = await wire.call_tool(1, "list_generations", {"project_id": "prj_sandbox"})
        started = len(listed["result"]["structuredContent"]["generations"])
    return Edge(
        area="stdio",
        finding="stdio accepted NaN/Infinity tokens (55 of 55 started paid runs) and duplicate keys",
        target="strict JSON: such lines refused with their id, 0 paid runs started",
        tried=count,
        failed=max(count - refused, started),
        measured=f"{count} lines: {refused} refused with their id, {started} paid runs started",
    )


async def edge_figures(work: Path) -> list[Edge]:
    """One Edge per stdio finding of issue 19 (see the module docstring)."""
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    return [await broken_lines_edge(work), await prefixed_edge(work), await non_strict_edge(work)]
