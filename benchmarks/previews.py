"""What previews add to a finished run's answer, in time and bytes, for a one-megapixel PNG.

The answer timed is get_run's: the same answer and previews as wait_for_run's last, without
wait_for_run's pacing of rereads (it holds back a read of a run read a moment ago).

Run as `python -m benchmarks.previews [--repeats N]`. Two servers on one in-process sandbox
(image_size=1024), one with previews and one with FLORA_PREVIEWS=off, each answer the same
completed runs with wait_for_run; the sandbox's PNGs are rendered (and cached) before timing,
so the figures are flora-mcp's fetch, decode, downscale and encode, not the sandbox's PNG maker.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio
import httpx2
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server

START = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


async def measure(repeats: int) -> dict[str, Any]:
    sandbox = Sandbox(SandboxConfig(time_scale=0, image_size=1024))
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        on = create_server(Settings(previews=True), http_client=http, sandbox=sandbox)
        off = create_server(Settings(previews=False), http_client=http, sandbox=sandbox)
        # The runs are started and finished by a third server, so each timed server reads each run
        # for the first time (wait_for_run holds back a reread of a run it has just read).
        finisher = create_server(Settings(previews=False), http_client=http, sandbox=sandbox)
        async with Client(on) as with_previews, Client(off) as without, Client(finisher) as starter:
            run_ids = []
            for _ in range(repeats):
                started = await starter.call_tool("start_generation_run", START)
                run_id = (started.structured_content or {})["run_id"]
                done = await starter.call_tool("wait_for_run", {"run_id": run_id})
                await http.get((done.structured_content or {})["outputs"][0]["url"])  # render + cache the PNG
                run_ids.append(run_id)
            times: dict[str, list[float]] = {"on": [], "off": []}
            sizes: dict[str, int] = {}
            for index, run_id in enumerate(run_ids):
                pair = [("off", without), ("on", with_previews)]
                for name, client in pair if index % 2 else pair[::-1]:  # each goes first half the time
                    began = time.perf_counter()
                    # get_run: the same answer and previews, without wait_for_run's pacing of rereads.
                    answer = await client.call_tool("get_run", {"run_id": run_id})
                    times[name].append(time.perf_counter() - began)
                    sizes[name] = len(answer.model_dump_json(by_alias=True, exclude_none=True))
    png = len(await _png(sandbox, run_ids[0]))
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {
        "repeats": repeats,
        "png_bytes": png,
        "median_ms": median,
        "added_ms": median["on"] - median["off"],
        "answer_bytes": sizes,
        "added_bytes": sizes["on"] - sizes["off"],
    }


async def _png(sandbox: Sandbox, run_id: str) -> bytes:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        return (await http.get(f"http://sandbox.test/media/{run_id}/output_1.png")).content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    figures = anyio.run(measure, parser.parse_args().repeats)
    print(
        f"1024x1024 PNG ({figures['png_bytes']:,} bytes), median of {figures['repeats']}: get_run answers in "
        f"{figures['median_ms']['off']:.1f} ms without previews, {figures['median_ms']['on']:.1f} ms with "
        f"(+{figures['added_ms']:.1f} ms); answer {figures['answer_bytes']['off']:,} -> "
        f"{figures['answer_bytes']['on']:,} bytes (+{figures['added_bytes']:,})"
    )


if __name__ == "__main__":
    main()
