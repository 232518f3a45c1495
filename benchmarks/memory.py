"""Item 5: memory: RSS after start and as calls accumulate; growth between 5,000 and 10,000 calls.

Over stdio, one call at a time, reading one run's state (the bare floor echoes). RSS is read from
/proc after start (handshake and tools/list done) and at checkpoints. Growth from the halfway
checkpoint to the end is the leak signal: a server that keeps something per call grows linearly.
The official server's calls each start a Deno worker (its memory is not in the Node process's
RSS, and a call takes about a second), so it gets a short series, labelled as such.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.peers import Peer
from benchmarks.rpc import RPCError, rss_kib
from benchmarks.work import ToolError, read_once


def measure_peer(peer: Peer, run_id: str, calls: int, log_dir: Path, checkpoints: int = 10) -> dict[str, Any]:
    client = peer.stdio(log_dir)
    client.spawn()
    try:
        client.initialize()
        client.request("tools/list")
        curve = [(0, rss_kib(client.pid))]
        step = max(1, calls // checkpoints)
        failed = 0
        for done in range(1, calls + 1):
            try:
                read_once(peer, client, run_id)
            except (ToolError, RPCError):
                failed += 1  # counted and shown; the official server's workers sometimes fail to start
            if done % step == 0 or done == calls:
                curve.append((done, rss_kib(client.pid)))
        half = min(curve, key=lambda point: abs(point[0] - calls / 2))
        end = curve[-1]
        return {
            "calls": calls,
            "failed_calls": failed,
            "rss_kib_start": curve[0][1],
            "rss_kib_half": half[1],
            "rss_kib_end": end[1],
            "half_at": half[0],
            "growth_second_half": (end[1] - half[1]) / half[1] if half[1] else None,
            "curve": curve,
        }
    finally:
        client.close()
