"""A hostile stdio campaign: lines a client (or an attacker) might send, each of which must be answered.

`run_stdio_campaign(count, seed)` starts flora-mcp over stdio with its sandbox, sends `count`
hostile lines one at a time (seeded, so the same every run), and waits for each answer. A
hang is a line whose answer did not come within the time limit, or came with another id (the
client is still waiting for its own). Every line is built so its id is readable, so an
answer with `id: null` counts as a hang too. Used by the test and by scripts/robustness_report.py.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from .hostile_support import RawStdio, child_env

LIMIT = 64 * 1024
WORKSPACE_ARGS = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image"}


def _call(request_id: int, arguments_json: bytes) -> bytes:
    return (
        b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": {"name": "start_generation_run", '
        b'"arguments": ' % request_id + arguments_json + b"}}"
    )


def _prompt(request_id: int, prompt_json: bytes) -> bytes:
    fixed = json.dumps(WORKSPACE_ARGS)[1:-1].encode()
    return _call(request_id, b'{"prompt": ' + prompt_json + b", " + fixed + b"}")


# Each kind builds (line, id the answer must carry) from a request id and a random source.
Kind = Callable[[int, random.Random], tuple[bytes, object]]
KINDS: dict[str, Kind] = {
    "oversized line (over the limit)": lambda i, r: (
        _prompt(i, b'"' + b"x" * (LIMIT + r.randrange(1, 4 * LIMIT)) + b'"'),
        i,
    ),
    "lone surrogate escape": lambda i, r: (_prompt(i, r.choice([b'"\\ud800"', b'"a\\udfff b"', b'"\\ud83d"'])), i),
    "deep nesting": lambda i, r: (
        _call(i, b'{"params": ' + b"[" * (depth := r.randrange(65, 400)) + b"]" * depth + b"}"),
        i,
    ),
    "long numeric id": lambda i, r: (
        b'{"jsonrpc": "2.0", "id": %s, "method": "tools/list"}' % (str(i) + "7" * r.randrange(20, 5000)).encode(),
        None,  # filled in below: the id is the number itself
    ),
    "invalid UTF-8 in a prompt": lambda i, r: (
        _prompt(i, b'"a mug ' + r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + b'"'),
        i,
    ),
    "truncated JSON": lambda i, r: (_prompt(i, b'"a mug"')[: r.randrange(30, 60)], i),
    "NaN and trailing garbage": lambda i, r: (
        b'{"jsonrpc": "2.0", "id": %d, "method": "tools/list"} ' % i + r.choice([b"x", b"}", b"]"]),
        i,
    ),
    "not JSON-RPC": lambda i, r: (b'{"jsonrpc": "1.0", "id": %d, "method": "tools/list"}' % i, i),
    # Served as usual (a tools/list: nothing is started), answered with its id, not id null.
    "BOM or NULs before a message": lambda i, r: (
        r.choice([b"\xef\xbb\xbf", b"\x00", b"\x00\xef\xbb\xbf"])
        + b'{"jsonrpc": "2.0", "id": %d, "method": "tools/list"}' % i,
        i,
    ),
    # Each of these would start a paid run if read leniently; strict JSON refuses them.
    "NaN, Infinity or a duplicate key": lambda i, r: (
        r.choice(
            [
                _prompt(i, b'"a mug %d"' % i)[:-1] + b', "x": ' + r.choice([b"NaN", b"Infinity", b"-Infinity"]) + b"}",
                _prompt(i, b'"a mug %d", "prompt": "another mug"' % i),
            ]
        ),
        i,
    ),
}


@dataclass
class StdioFigures:
    lines: int = 0
    answered_with_id: int = 0
    hangs: int = 0  # no answer in time, or an answer with another id
    runs_started: int = 0  # paid starts that a hostile line got through (must be 0)
    served_after: bool = False  # a normal call still succeeded at the end
    seconds: float = 0.0
    by_kind: Counter[str] = field(default_factory=Counter)
    hangs_by_kind: Counter[str] = field(default_factory=Counter)


async def run_stdio_campaign(count: int, seed: int = 0, answer_timeout: float = 10.0) -> StdioFigures:
    """Send `count` hostile lines over stdio; see the module docstring for what is counted."""
    rng = random.Random(seed)
    figures = StdioFigures()
    started = time.perf_counter()
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # long numeric ids are read back from the answers
    try:
        env = child_env(FLORA_SANDBOX_TIME_SCALE="0", FLORA_MAX_REQUEST_BYTES=str(LIMIT), FLORA_LOG_LEVEL="ERROR")
        async with RawStdio.start(env, "--sandbox") as wire:
            await wire.initialize()
            names = sorted(KINDS)
            for n in range(count):
                kind = names[n % len(names)]
                request_id = 1000 + n
                line, expected = KINDS[kind](request_id, rng)
                if expected is None:
                    expected = int(line.split(b'"id": ', 1)[1].split(b",", 1)[0])
                figures.lines += 1
                figures.by_kind[kind] += 1
                await wire.write(line + b"\n")
                answer: dict[str, object] | None = None
                with anyio.move_on_after(answer_timeout):
                    answer = await wire.next_message()
                # A long id the parser can hold is served normally (a result); any other answer is an error.
                if answer is None or answer.get("id") != expected or not ("error" in answer or "result" in answer):
                    figures.hangs += 1
                    figures.hangs_by_kind[kind] += 1
                    if answer is None:
                        break  # the wire is stuck: every later line would hang too
                else:
                    figures.answered_with_id += 1
            listed = await wire.call_tool(1, "list_generations", {"project_id": "prj_sandbox"})
            result = listed.get("result") or {}
            figures.served_after = result.get("isError") is False
            figures.runs_started = len((result.get("structuredContent") or {}).get("generations") or [])
    finally:
        sys.set_int_max_str_digits(digits)
    figures.seconds = time.perf_counter() - started
    return figures
