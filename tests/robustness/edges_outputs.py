"""Issue 19's output findings, tried again for real: `edge_figures(work)` measures each one.

- previews: 8 parallel reads of an 8000x8000 PNG in a subprocess, its peak RSS (VmHWM);
- downloads: wait_for_run(timeout_seconds=3) on a real server whose FLORA (a loopback double)
  lists 5 outputs that trickle forever, and the read after it;
- DNS rebinding: a resolver that answers a public address first and 127.0.0.1 afterwards,
  and whether a loopback media server is reached;
- callback hosts: names resolving to metadata, private and loopback addresses;
- a FIFO named like an output in the output dir, with an empty text output to save.

Everything is real (sockets, files, a FIFO, a subprocess); only DNS is injected, as there is none.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flora_mcp.api.urls import check_public_https_url
from flora_mcp.config import Settings
from flora_mcp.outputs.fetch import FetchError, fetch_output
from flora_mcp.outputs.index import KnownRun
from flora_mcp.outputs.service import OutputService
from flora_mcp.sandbox.server import serving_app
from flora_mcp.server import create_server
from flora_mcp.server.results import RunResult

from .edges import Edge

AREA = "outputs"
PUBLIC = "93.184.216.34"  # a global address; nothing here can reach it (no network), nothing should try hard


@dataclass
class MemoryIndex:
    """A RunIndex in a dict: who read which run (the service's bookkeeping, not what is measured)."""

    runs: dict[str, dict[str, KnownRun]] = field(default_factory=dict)

    async def record(self, caller: str, run: KnownRun) -> None:
        self.runs.setdefault(caller, {})[run.run_id] = run

    async def owns(self, caller: str, run_id: str) -> bool:
        return run_id in self.runs.get(caller, {})

    async def find(self, caller: str, run_id: str) -> KnownRun | None:
        return self.runs.get(caller, {}).get(run_id)

    async def runs_of(self, caller: str, limit: int = 50) -> list[KnownRun]:
        return list(self.runs.get(caller, {}).values())[:limit]


def completed(run_id: str, outputs: list[dict[str, Any]]) -> RunResult:
    return RunResult.model_validate(
        {"run_id": run_id, "status": "completed", "finished": True, "progress_percent": 100.0, "outputs": outputs}
    )


# --- previews: peak RSS of 8 parallel reads, in a subprocess ---------------------------------------
_RSS_SCRIPT = textwrap.dedent(
    """
    import json, pathlib, sys
    import anyio, httpx2
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route
    from flora_mcp.outputs.service import OutputService
    from flora_mcp.sandbox.server import serving_app
    from tests.robustness.edges_outputs import MemoryIndex, completed

    data = pathlib.Path(sys.argv[1]).read_bytes()

    async def image(request):
        return Response(data, media_type="image/png")

    async def main():
        async with serving_app(Starlette(routes=[Route("/media/{name}", image)])) as origin:
            async with httpx2.AsyncClient() as http:
                service = OutputService(http=http, index=MemoryIndex(), trusted_origin=origin)
                lines = []

                async def read(n):
                    shown = await service.present("c", completed(f"run_{n}", [
                        {"output_id": "o", "type": "imageUrl", "url": f"{origin}/media/{n}.png"}]))
                    lines.extend(shown.lines)

                async with anyio.create_task_group() as group:
                    for n in range(8):
                        group.start_soon(read, n)
        # VmHWM, not ru_maxrss: after fork+exec, ru_maxrss still counts the parent's pages.
        status = pathlib.Path("/proc/self/status").read_text()
        peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
        print(json.dumps({"peak_mb": peak, "lines": lines}))

    anyio.run(main)
    """
)


def png_of(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


def peak_rss_of_parallel_reads(work: pathlib.Path, width: int, height: int) -> tuple[float, list[str]]:
    """Peak RSS (MB) of a process making 8 parallel reads of one WxH PNG output, and its lines."""
    source = work / f"big-{width}x{height}.png"
    source.write_bytes(png_of(width, height))
    root = pathlib.Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(root)]))},
        check=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return float(answer["peak_mb"]), list(answer["lines"])


# --- downloads inside the wait's budget -----------------------------------------------------------
@asynccontextmanager
async def slow_flora(outputs: int) -> AsyncIterator[str]:
    """A FLORA double on loopback whose run is completed with `outputs` media that never finish."""
    origin: list[str] = []

    async def run(request: Request) -> JSONResponse:
        listed = [
            {"output_id": f"output_{i}", "type": "imageUrl", "url": f"{origin[0]}/media/slow-{i}.png"}
            for i in range(outputs)
        ]
        body = {"run_id": request.path_params["run_id"], "status": "completed", "progress": 1.0, "outputs": listed}
        return JSONResponse({**body, "created_at": 1_700_000_000})

    async def trickle() -> AsyncIterator[bytes]:
        yield b"\x89PNG"
        await anyio.sleep(120)

    async def slow(request: Request) -> StreamingResponse:
        return StreamingResponse(trickle(), media_type="image/png")

    app = Starlette(routes=[Route("/api/v1/runs/{run_id}", run), Route("/media/{name}", slow)])
    async with serving_app(app) as served:
        origin.append(served)
        yield served + "/api/v1"


async def wait_seconds_with_slow_outputs(outputs: int = 5) -> tuple[float, float, str]:
    """Seconds wait_for_run(timeout_seconds=3) took with slow outputs, the read after, its text."""
    async with slow_flora(outputs) as base_url:
        server = create_server(Settings(api_key="sk-edge-key-0001", base_url=base_url, max_retries=0))
        async with Client(server) as client:
            began = time.monotonic()
            await client.call_tool("wait_for_run", {"run_id": "run_slow", "timeout_seconds": 3})
            first = time.monotonic() - began
            began = time.monotonic()
            again = await client.call_tool("wait_for_run", {"run_id": "run_slow", "timeout_seconds": 3})
            second = time.monotonic() - began
    text = "\n".join(getattr(block, "text", "") for block in again.content)
    return first, second, text


# --- DNS rebinding ----------------------------------------------------------------------------------
class Rebinding:
    """A resolver that answers a public address the first time and 127.0.0.1 every time after."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [PUBLIC] if self.calls == 1 else ["127.0.0.1"]


async def rebinding_hits(attempts: int = 3) -> tuple[int, int]:
    """(attempts, requests that reached the loopback server) for fetches through a rebinding name."""
    hits: list[str] = []

    async def media(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(b"secret", media_type="image/png")

    async with serving_app(Starlette(routes=[Route("/{path:path}", media)])) as origin:
        port = httpx2.URL(origin).port
        async with httpx2.AsyncClient() as http:
            for n in range(attempts):
                url = f"http://media{n}.rebind.test:{port}/a.png"
                with suppress(FetchError):
                    await fetch_output(
                        http, url, trusted_origin=None, max_bytes=1000, within_seconds=1.0, resolve=Rebinding()
                    )
    return attempts, len(hits)


# --- callback hosts -----------------------------------------------------------------------------------
CALLBACK_ANSWERS = {
    "169.254.169.254.nip.io": ["169.254.169.254"],
    "10.0.0.5.sslip.io": ["10.0.0.5"],
    "hooks.internal-looking.example": ["127.0.0.1"],
    "mixed.example": [PUBLIC, "192.168.1.10"],
    "v6-metadata.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:169.254.169.254"],
}


def fake_dns(host: str) -> list[str]:
    if host in CALLBACK_ANSWERS:
        return CALLBACK_ANSWERS[host]
    if host == "hooks.example.com":
        return [PUBLIC]
    raise OSError(f"{host} does not resolve")


def callbacks_refused() -> tuple[int, int, list[str]]:
    """(hosts tried, hosts refused, hosts wrongly accepted) among names pointing at private networks."""
    accepted: list[str] = []
    for host in CALLBACK_ANSWERS:
        try:
            check_public_https_url(f"https://{host}/hook", resolver=fake_dns)
        except ValueError:
            continue
        accepted.append(host)
    return len(CALLBACK_ANSWERS), len(CALLBACK_ANSWERS) - len(accepted), accepted


# --- a FIFO in the output dir -------------------------------------------------------------------------
def fifo_answer_seconds(work: pathlib.Path, limit: float = 10.0) -> float | None:
    """Seconds to answer a run whose empty text output is saved where a FIFO has its name; None if hung.

    The read runs on an event loop of its own in a thread, so a hang (old code blocked the loop
    in open()) is seen as a timeout here; the FIFO is then opened for writing to release it.
    """
    folder = work / "fifo-out"
    folder.mkdir(exist_ok=True)
    fifo = folder / "run_fifo_output_1.txt"
    if not fifo.exists():
        os.mkfifo(fifo)
    took: list[float] = []

    async def read() -> None:
        async with httpx2.AsyncClient() as http:
            service = OutputService(http=http, index=MemoryIndex(), trusted_origin=None, output_dir=folder)
            began = time.monotonic()
            await service.present("c", completed("run_fifo", [{"output_id": "output_1", "type": "text", "url": ""}]))
            took.append(time.monotonic() - began)

    worker = threading.Thread(target=anyio.run, args=(read,), daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        release = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(release)
        worker.join(5)
        return None
    return took[0] if took else None


async def edge_figures(work: pathlib.Path) -> list[Edge]:
    """Every output finding of issue 19, tried for real (about 25 s)."""
    edges: list[Edge] = []

    peak, lines = await anyio.to_thread.run_sync(peak_rss_of_parallel_reads, work, 8000, 8000)
    refused = sum("too large to preview (8000x8000)" in line for line in lines)
    # Just under the limit the images are decoded: two at a time keep the peak bounded too.
    near, near_lines = await anyio.to_thread.run_sync(peak_rss_of_parallel_reads, work, 4900, 4900)
    attached = sum("preview of o is attached" in line for line in near_lines)
    edges.append(
        Edge(
            AREA,
            "previews decode without bound (8 parallel reads of an 8000x8000 PNG peaked at 5.2 GB)",
            "peak RSS under 1 GB; an over-limit image answers 'too large to preview (WxH)' undecoded",
            tried=16,
            failed=(8 - refused if peak < 1024 else 8) + (8 - attached if near < 1024 else 8),
            measured=(
                f"8 parallel reads of 8000x8000 → peak RSS {peak:.0f} MB, {refused}/8 'too large to preview'; "
                f"of 4900x4900 (decoded) → {near:.0f} MB, {attached}/8 previews"
            ),
        )
    )

    first, second, text = await wait_seconds_with_slow_outputs(5)
    edges.append(
        Edge(
            AREA,
            "downloads ignore the wait budget (wait_for_run(timeout_seconds=3) with 5 slow outputs took 75 s)",
            "back within 5 s, and the read after without downloading again",
            tried=2,
            failed=int(first >= 5) + int(second >= 5 or text.count("not tried again") != 4),
            measured=f"wait_for_run(3 s), 5 slow outputs → {first:.1f} s; the read after → {second:.1f} s",
        )
    )

    attempts, hits = await rebinding_hits(3)
    edges.append(
        Edge(
            AREA,
            "DNS rebinding: the fetch checks one DNS answer and connects with another",
            "0 fetches reach the private address the name rebinds to",
            tried=attempts,
            failed=hits,
            measured=f"{attempts} rebinding fetches → {hits} reached 127.0.0.1",
        )
    )

    tried, refused_hosts, accepted = callbacks_refused()
    edges.append(
        Edge(
            AREA,
            "169.254.169.254.nip.io accepted as a callback host",
            "callback names resolving to private, link-local, loopback or metadata addresses are refused",
            tried=tried,
            failed=tried - refused_hosts,
            measured=f"{refused_hosts}/{tried} private-resolving callback hosts refused"
            + (f" (accepted: {accepted})" if accepted else ""),
        )
    )

    seconds = await anyio.to_thread.run_sync(fifo_answer_seconds, work)
    edges.append(
        Edge(
            AREA,
            "a FIFO in --output-dir plus an empty output hangs the server",
            "the answer comes within 2 s; special files are never opened blocking",
            tried=1,
            failed=int(seconds is None or seconds >= 2),
            measured="FIFO under the output's name → "
            + ("hung (>10 s)" if seconds is None else f"answered in {seconds:.2f} s"),
        )
    )
    return edges
