"""Item 8: what this round's additions cost: the state store per start, previews, a batch of 4.

- store: reserve + settle around one start (benchmarks/store_cost.py) per backend, and what
  each adds over the in-memory store; PostgreSQL only where tests/postgres_server.py can start one.
- previews: wait_for_run's final answer with and without previews of a 1024x1024 PNG
  (benchmarks/previews.py), in time and bytes.
- batch: one `start_generation_runs` call with 4 items against 4 `start_generation_run` calls,
  in process on one server with a fresh SQLite store, against an in-process sandbox; measured
  only when the server offers that tool (it is added by the tasks branch).

All three run in this process, so they time flora-mcp's own work, not a wire.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

from benchmarks import previews, store_cost

BATCH_TOOL = "start_generation_runs"
SHARED = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image"}


def _ms(timings: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(timings) * 1000, "n": len(timings)}


def measure_store(iterations: int, repo_root: Path) -> dict[str, Any]:
    memory = anyio.run(store_cost.measure, "memory", iterations)
    result: dict[str, Any] = {"memory": _ms(memory)}
    with tempfile.TemporaryDirectory(prefix="flora-bench-") as folder:
        result["sqlite"] = _ms(anyio.run(store_cost.measure, f"sqlite://{folder}/state.db", iterations))
    try:
        from tests.postgres_server import start_postgres

        with start_postgres(durable=True) as server:
            result["postgresql"] = _ms(anyio.run(store_cost.measure, server.new_database(), iterations))
    except BaseException as exc:  # pytest's skip outcome is a BaseException
        if isinstance(exc, KeyboardInterrupt):
            raise
        result["postgresql"] = {"not_measured": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
    base = result["memory"]["median_ms"]
    for name in ("sqlite", "postgresql"):
        if "median_ms" in result[name]:
            result[name]["added_ms"] = result[name]["median_ms"] - base
            result[name]["target_added_ms"] = store_cost.TARGETS_MS[name]
    return result


def measure_previews(repeats: int) -> dict[str, Any]:
    return anyio.run(previews.measure, repeats)


async def _batch(repeats: int, folder: str) -> dict[str, Any]:
    from flora_mcp.config import Settings
    from flora_mcp.sandbox import Sandbox, SandboxConfig
    from flora_mcp.server import create_server
    from flora_mcp.state import open_store

    sandbox = Sandbox(SandboxConfig(time_scale=0))
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        store = open_store(f"sqlite://{folder}/state.db")
        server = create_server(Settings(previews=False), http_client=http, sandbox=sandbox, store=store)
        async with Client(server) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            if BATCH_TOOL not in names:
                return {"not_measured": f"this server has no {BATCH_TOOL} tool (it comes with the tasks branch)"}
            singles: list[float] = []
            batches: list[float] = []
            for round_ in range(repeats + 1):  # the first round warms up, unmeasured
                began = time.perf_counter()
                for i in range(4):
                    single_args = {**SHARED, "prompt": f"single {round_}.{i}"}
                    answer = await client.call_tool("start_generation_run", single_args)
                    assert not answer.is_error, answer
                single = time.perf_counter() - began
                items = [{"prompt": f"batch {round_}.{i}"} for i in range(4)]
                began = time.perf_counter()
                answer = await client.call_tool(BATCH_TOOL, {**SHARED, "items": items})
                batch = time.perf_counter() - began
                assert not answer.is_error, answer
                if round_:
                    singles.append(single)
                    batches.append(batch)
    return {"four_singles": _ms(singles), "one_batch_of_four": _ms(batches)}


def measure_batch(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flora-bench-") as folder:
        result: dict[str, Any] = anyio.run(_batch, repeats, folder)
    if "four_singles" in result:
        result["ratio"] = result["one_batch_of_four"]["median_ms"] / result["four_singles"]["median_ms"]
    return result


def measure(store_iterations: int, preview_repeats: int, batch_repeats: int, repo_root: Path) -> dict[str, Any]:
    """The three measures; one failing leaves its reason and the others' figures."""
    out: dict[str, Any] = {}
    for key, run in (
        ("store", lambda: measure_store(store_iterations, repo_root)),
        ("previews", lambda: measure_previews(preview_repeats)),
        ("batch", lambda: measure_batch(batch_repeats)),
    ):
        try:
            out[key] = run()
        except Exception as exc:
            out[key] = {"not_measured": f"{type(exc).__name__}: {exc}"[:300]}
    return out
