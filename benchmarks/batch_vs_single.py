""" "Four variations, wait for all": tool calls and wall time, batch tools against single tools.

    python -m benchmarks.batch_vs_single [--variations 4] [--time-scale 0.5] [--repeats 3]

An agent asked for N variations of an image either makes N start_generation_run and N
wait_for_run calls, or one start_generation_runs and one wait_for_runs. Each side runs against
its own FLORA sandbox served on 127.0.0.1 (real time: an image run takes 6 s x time_scale),
through a real MCP client over an in-process server. The single-tool agent waits for its runs
one after another, as an agent calling tools in turn does. Printed as a Markdown table; also
the upstream requests each side made (what FLORA's rate limit sees).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server

SHARED = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image"}
LIGHTS = ("warm light", "cold light", "top view", "on grass", "at dusk", "in fog", "on marble", "in neon")


def prompts(count: int) -> list[str]:
    return [f"A ceramic mug, {LIGHTS[i % len(LIGHTS)]} ({i})" for i in range(count)]


async def single_tools(client: Client, count: int) -> int:
    calls = 0
    run_ids = []
    for prompt in prompts(count):
        started = await client.call_tool("start_generation_run", {**SHARED, "prompt": prompt})
        calls += 1
        assert not started.is_error, started.content
        run_ids.append((started.structured_content or {})["run_id"])
    for run_id in run_ids:
        while True:
            waited = await client.call_tool("wait_for_run", {"run_id": run_id})
            calls += 1
            if (waited.structured_content or {}).get("finished"):
                break
    return calls


async def batch_tools(client: Client, count: int) -> int:
    items = [{"prompt": prompt} for prompt in prompts(count)]
    started = await client.call_tool("start_generation_runs", {**SHARED, "items": items})
    assert not started.is_error, started.content
    calls = 1
    arguments = (started.structured_content or {})["next"]["arguments"]
    while True:
        waited = await client.call_tool("wait_for_runs", arguments)
        calls += 1
        answer = waited.structured_content or {}
        if not answer.get("next"):
            return calls
        arguments = answer["next"]["arguments"]


async def measure(agent: Callable[[Client, int], Awaitable[int]], count: int, time_scale: float) -> dict[str, Any]:
    sandbox = Sandbox(SandboxConfig(time_scale=time_scale))
    # Without an http_client the server's lifespan serves the sandbox on a loopback port itself.
    server = create_server(Settings(max_retries=2), sandbox=sandbox)
    async with Client(server) as client:
        began = time.perf_counter()
        calls = await agent(client, count)
        seconds = time.perf_counter() - began
    return {"calls": calls, "seconds": seconds, "upstream": sum(sandbox.requests.values())}


async def main(count: int, time_scale: float, repeats: int) -> None:
    rows = []
    for name, agent in (("single tools", single_tools), ("batch tools", batch_tools)):
        runs = [await measure(agent, count, time_scale) for _ in range(repeats)]
        rows.append(
            (
                name,
                statistics.median(r["calls"] for r in runs),
                statistics.median(r["seconds"] for r in runs),
                statistics.median(r["upstream"] for r in runs),
            )
        )
    print(f"{count} variations, image runs of {6 * time_scale:g} s, median of {repeats}:\n")
    print("| agent | tool calls | wall time (s) | upstream requests |")
    print("|---|---|---|---|")
    for name, calls, seconds, upstream in rows:
        print(f"| {name} | {calls:g} | {seconds:.2f} | {upstream:g} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variations", type=int, default=4)
    parser.add_argument("--time-scale", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    anyio.run(main, options.variations, options.time_scale, options.repeats)
