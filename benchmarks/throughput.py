"""Item 4: throughput over streamable HTTP at 1, 8 and 64 concurrent clients: calls/s and errors.

Each client is its own MCP session on its own kept-alive connection (initialize, then tools/call
in a loop, one call in flight per client), driven by benchmarks/loadgen.py. After a warm-up
(a second, and until every client has had one answer), throughput is the calls that complete
within a fixed window divided by the window; each level is measured in several rounds, peers
taking turns, and the median round is reported with the range. An error is any failed call in any phase: an HTTP
error status, a JSON-RPC error, a result with isError, or a broken connection.

The load generator, the server and the sandbox share this machine's cores, so the CPU each used
is recorded too: server CPU ms per call is the steadier number when the machine is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.loadgen import LoadClient
from benchmarks.peers import HttpServer, Peer
from benchmarks.rpc import RPCError, rss_kib, tool_call_params, tool_error_text
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.stats import summarize

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARMUP_CAP_SECONDS = 120.0


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User+system CPU seconds of a process (and of its waited-for children, when asked)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # Fields after the command: state is [0]; utime [11], stime [12], cutime [13], cstime [14].
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


async def _run_level(
    peer: Peer, server: HttpServer, run_id: str, clients: int, window: float, warmup: float
) -> dict[str, Any]:
    params = tool_call_params(*peer.read_call(run_id))
    loaders = [LoadClient(server.url, server.headers) for _ in range(clients)]
    await asyncio.gather(*(loader.initialize() for loader in loaders))

    phase = "warmup"  # then "measure", then "stop"
    warmed: set[int] = set()
    all_warmed = asyncio.Event()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    completed = 0

    async def one_client(index: int, loader: LoadClient) -> None:
        nonlocal completed
        while phase != "stop":
            started = time.perf_counter()
            try:
                problem = tool_error_text(await loader.request("tools/call", params))
            except (RPCError, OSError, EOFError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                await loader.close()
            warmed.add(index)
            if len(warmed) == clients:
                all_warmed.set()
            if problem is not None:
                errors[problem[:120]] = errors.get(problem[:120], 0) + 1  # errors count in every phase
            elif phase == "measure":
                completed += 1
                latencies.append((time.perf_counter() - started) * 1000)

    workers = [asyncio.create_task(one_client(i, loader)) for i, loader in enumerate(loaders)]
    # Warm up for `warmup` seconds and until every client has had an answer (slow servers).
    await asyncio.sleep(warmup)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_warmed.wait(), timeout=WARMUP_CAP_SECONDS)
    cpu_server = cpu_seconds(server.pid, children=True)
    cpu_self = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    phase = "measure"
    await asyncio.sleep(window)
    phase = "stop"
    elapsed = time.perf_counter() - began
    cpu_server = cpu_seconds(server.pid, children=True) - cpu_server
    after = resource.getrusage(resource.RUSAGE_SELF)
    # Let calls in flight finish (not counted) so the next level starts on a quiet server.
    await asyncio.wait(workers, timeout=WARMUP_CAP_SECONDS)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*(loader.close() for loader in loaders), return_exceptions=True)
    return {
        "clients": clients,
        "seconds": elapsed,
        "ok": completed,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "calls_per_second": completed / elapsed if elapsed > 0 else 0.0,
        "latencies": latencies,
        "server_cpu_ms_per_call": 1000 * cpu_server / completed if completed else None,
        "loadgen_cpu_share": (after.ru_utime + after.ru_stime - cpu_self.ru_utime - cpu_self.ru_stime) / elapsed,
    }


def _combine(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """One level's windows (rounds) as one row: median calls/s with its range, pooled latencies."""
    rates = [w["calls_per_second"] for w in windows]
    cpu = [w["server_cpu_ms_per_call"] for w in windows if w["server_cpu_ms_per_call"] is not None]
    errors: dict[str, int] = {}
    for window in windows:
        for kind, count in window["error_kinds"].items():
            errors[kind] = errors.get(kind, 0) + count
    return {
        "clients": windows[0]["clients"],
        "rounds": len(windows),
        "calls_per_second": statistics.median(rates),
        "calls_per_second_range": [min(rates), max(rates)],
        "ok": sum(w["ok"] for w in windows),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "latency_ms": summarize([ms for w in windows for ms in w["latencies"]]),
        "server_cpu_ms_per_call": statistics.median(cpu) if cpu else None,
        "loadgen_cpu_share": statistics.median(w["loadgen_cpu_share"] for w in windows),
    }


def measure(
    peers: list[Peer],
    sandbox: SandboxProcess,
    run_id: str,
    levels: dict[str, list[int]],
    window: float,
    rounds: dict[str, int],
    log_dir: Path,
) -> dict[str, Any]:
    """Every peer serves at once; rounds go level by level, peer by peer, so that a noisy moment
    on the shared machine lands on one window of each rather than on all of one peer's."""
    servers: dict[str, HttpServer] = {}
    try:
        for peer in peers:
            servers[peer.key] = HttpServer(peer, log_dir)
        rss_start = {key: rss_kib(server.pid) for key, server in servers.items()}
        windows: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for round_number in range(max(rounds.values())):
            for clients in sorted({n for peer_levels in levels.values() for n in peer_levels}):
                for peer in peers:
                    if clients not in levels[peer.key] or round_number >= rounds[peer.key]:
                        continue
                    # A slow server gets a longer window, so it completes enough calls to count.
                    span = window * (4 if peer.key == "official" else 1)
                    result = asyncio.run(_run_level(peer, servers[peer.key], run_id, clients, span, min(1.0, span / 4)))
                    windows.setdefault((peer.key, clients), []).append(result)
        return {
            peer.key: {
                "levels": [_combine(windows[peer.key, n]) for n in levels[peer.key] if (peer.key, n) in windows],
                "rss_kib_start": rss_start[peer.key],
                "rss_kib_after": rss_kib(servers[peer.key].pid),
            }
            for peer in peers
        }
    finally:
        for server in servers.values():
            server.close()
