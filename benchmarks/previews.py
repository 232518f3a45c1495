"""What previews add to wait_for_run's final answer, in time and bytes, for a one-megapixel PNG.

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
import httpx
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server

START = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


async def measure(repeats: int) -> dict[str, Any]:
    sandbox = Sandbox(SandboxConfig(time_scale=0, image_size=1024))
    async with httpx.AsyncClient(transport=sandbox.transport()) as http:
        on = create_server(Settings(previews=True), http_client=http, sandbox=sandbox)
        off = create_server(Settings(previews=False), http_client=http, sandbox=sandbox)
        async with Client(on) as with_previews, Client(off) as without:
            run_ids = []
            for _ in range(repeats):
                started = await without.call_tool("start_generation_run", START)
                run_id = (started.structured_content or {})["run_id"]
                done = await without.call_tool("wait_for_run", {"run_id": run_id})
                await http.get((done.structured_content or {})["outputs"][0]["url"])  # render + cache the PNG
                run_ids.append(run_id)
            times: dict[str, list[float]] = {"on": [], "off": []}
            sizes: dict[str, int] = {}
            for run_id in run_ids:
                for name, client in (("off", without), ("on", with_previews)):
                    began = time.perf_counter()
                    answer = await client.call_tool("wait_for_run", {"run_id": run_id})
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
    async with httpx.AsyncClient(transport=sandbox.transport()) as http:
        return (await http.get(f"http://sandbox.test/media/{run_id}/output_1.png")).content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    figures = anyio.run(measure, parser.parse_args().repeats)
    print(
        f"1024x1024 PNG ({figures['png_bytes']:,} bytes), median of {figures['repeats']}: wait_for_run answers in "
        f"{figures['median_ms']['off']:.1f} ms without previews, {figures['median_ms']['on']:.1f} ms with "
        f"(+{figures['added_ms']:.1f} ms); answer {figures['answer_bytes']['off']:,} -> "
        f"{figures['answer_bytes']['on']:,} bytes (+{figures['added_bytes']:,})"
    )


if __name__ == "__main__":
    main()
