"""Item 3: latency of the same work through each peer, over stdio and over streamable HTTP.

Series: `read` (one run's state), `start` (start one image generation), `start_follow` (start it
and follow it to the end). The sandbox runs with time_scale 0, so a run is complete when first
read: what is timed is the servers and the wire, not simulated generation time. Peers take turns
call by call (the order rotates every round) so that noise falls on all alike. The official
server's calls each start a Deno worker and type-check the agent's code, so it gets fewer rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.peers import HttpServer, Peer
from benchmarks.rpc import StdioPeer
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.stats import summarize
from benchmarks.surface import compact_size
from benchmarks.work import HttpCaller, RawFloor, ToolCaller, read_once, start_and_follow, start_once

RAW = "raw"


@dataclass(frozen=True)
class Counts:
    read: int
    start: int
    follow: int
    official_read: int
    official_start: int
    official_follow: int


def _open(peer: Peer, transport: str, log_dir: Path) -> tuple[ToolCaller, Callable[[], None]]:
    if transport == "stdio":
        client: StdioPeer = peer.stdio(log_dir)
        client.spawn()
        client.initialize()
        return client, client.close
    server = HttpServer(peer, log_dir)
    try:
        caller = HttpCaller(server.url, server.headers)
    except Exception:
        server.close()
        raise

    def close() -> None:
        caller.close()
        server.close()

    return caller, close


class Failures:
    """Failed calls per series and peer: counted and shown, never allowed to end the item (the
    official server's Deno workers sometimes fail to start)."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}
        self.examples: dict[str, str] = {}

    def add(self, series: str, key: str, exc: Exception) -> None:
        per_peer = self.counts.setdefault(series, {})
        per_peer[key] = per_peer.get(key, 0) + 1
        self.examples.setdefault(key, f"{type(exc).__name__}: {exc}"[:200])


def _rounds(
    series: str,
    keys: list[str],
    n: int,
    n_official: int,
    task: Callable[[str], Any],
    samples: dict[str, list[float]],
    failures: Failures,
) -> None:
    for round_number in range(n):
        shift = round_number % len(keys)
        for key in keys[shift:] + keys[:shift]:
            if key == "official" and round_number >= n_official:
                continue
            started = time.perf_counter()
            try:
                task(key)
            except Exception as exc:
                failures.add(series, key, exc)
                continue
            samples.setdefault(key, []).append((time.perf_counter() - started) * 1000)


def measure(
    peers: list[Peer], sandbox: SandboxProcess, transport: str, counts: Counts, log_dir: Path
) -> dict[str, Any]:
    raw = RawFloor(sandbox.base_url)
    run_id = raw.start()["run_id"]
    callers: dict[str, ToolCaller] = {}
    closers: list[Callable[[], None]] = [raw.close]
    by_key = {peer.key: peer for peer in peers}
    try:
        for peer in peers:
            caller, close = _open(peer, transport, log_dir)
            callers[peer.key] = caller
            closers.append(close)
        failures = Failures()
        result_bytes = {RAW: compact_size(raw.read(run_id))}
        for key, caller in callers.items():
            for _ in range(1 if key == "official" else 5):  # warm-up: first calls import lazily
                try:
                    result_bytes[key] = compact_size(read_once(by_key[key], caller, run_id))
                except Exception as exc:
                    failures.add("warm-up", key, exc)

        def read(key: str) -> None:
            if key == RAW:
                raw.read(run_id)
            else:
                read_once(by_key[key], callers[key], run_id)

        def start(key: str) -> None:
            if key == RAW:
                raw.start()
            else:
                start_once(by_key[key], callers[key])

        follow_calls: dict[str, int] = {}

        def follow(key: str) -> None:
            if key == RAW:
                before = raw.requests
                raw.follow(raw.start()["run_id"])
                follow_calls[RAW] = raw.requests - before
            else:
                follow_calls[key] = start_and_follow(by_key[key], callers[key])

        series: dict[str, dict[str, list[float]]] = {"read": {}, "start": {}, "start_follow": {}}
        everyone = [RAW, *callers]
        starters = [key for key in everyone if key != "bare"]
        _rounds("read", everyone, counts.read, counts.official_read, read, series["read"], failures)
        _rounds("start", starters, counts.start, counts.official_start, start, series["start"], failures)
        _rounds(
            "start_follow", starters, counts.follow, counts.official_follow, follow, series["start_follow"], failures
        )
    finally:
        for close in reversed(closers):
            close()

    summaries = {
        name: {key: summarize(values) for key, values in per_peer.items()} for name, per_peer in series.items()
    }
    overhead: dict[str, dict[str, float]] = {}
    for name, per_peer in summaries.items():
        floor = per_peer.get(RAW)
        ours = per_peer.get("ours")
        if floor and ours:
            overhead[name] = {"median_ms": ours.median - floor.median, "p95_ms": ours.p95 - floor.p95}
    return {
        "transport": transport,
        "summaries": summaries,
        "overhead_vs_raw": overhead,
        "calls_per_follow": follow_calls,
        "read_result_bytes": result_bytes,
        "failures": failures.counts,
        "failure_examples": failures.examples,
    }
