"""Item 7: money under faults: one lost answer on a start, and how many runs each server creates.

The sandbox handles the start normally (the run is created and charged), then drops the
connection instead of answering (`drop_after_create`), exactly once. A client that retries the
POST without an idempotency key starts, and pays for, a second run; flora-mcp retries with the
same Idempotency-Key, gets `idempotency_duplicate`, and reports the run as accepted. The runs
each server created are counted by the sandbox, and the credits it charged are shown.

The official server is asked the way its docs show: `client.generations.create` (POST /generate),
and also through the deprecated `client.runs.startGeneration` (POST /runs/generation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.peers import IMAGE_START, OFFICIAL_START, Peer
from benchmarks.rpc import tool_error_text
from benchmarks.sandbox_proc import SandboxProcess

# The same start through the SDK's deprecated call, which POSTs /runs/generation.
OFFICIAL_DEPRECATED_START = OFFICIAL_START.replace("client.generations.create", "client.runs.startGeneration")


def _case(
    peer: Peer, sandbox: SandboxProcess, route: str, call: tuple[str, dict[str, Any]], log_dir: Path
) -> dict[str, Any]:
    client = peer.stdio(log_dir)
    client.spawn()
    try:
        client.initialize()
        sandbox.reset()  # no fault left over from an earlier case (one that never fired)
        before = sandbox.state()
        sandbox.push_fault(route, "drop_after_create")
        started = time.perf_counter()
        answer = client.call_tool(*call)
        elapsed = time.perf_counter() - started
        after = sandbox.state()
    finally:
        client.close()
    text = " ".join(str(item.get("text", "")) for item in answer.get("content", []))
    return {
        "route": route,
        "runs_created": int(after["runs"]) - int(before["runs"]),
        "charged_usd": round(float(before["credits_usd"]) - float(after["credits_usd"]), 4),
        "posts": after["requests"].get(route, 0) - before["requests"].get(route, 0),
        "is_error": tool_error_text(answer) is not None,
        "answer": text[:300],
        "seconds": elapsed,
        "fault_consumed": int(after.get("faults_pending", 0)) == 0,
    }


def measure(make_peers: Callable[[str], list[Peer]], repo_root: Path, log_dir: Path) -> dict[str, Any]:
    """`make_peers(base_url)` builds the peers pointed at this item's own sandbox."""
    sandbox = SandboxProcess(time_scale=0, repo_root=repo_root, log_path=log_dir / "sandbox.log")
    results: dict[str, Any] = {}
    try:
        for peer in make_peers(sandbox.base_url):
            if peer.key == "ours":
                results["ours"] = _case(peer, sandbox, "POST /runs/generation", peer.start_call(), log_dir)
            elif peer.key == "official":
                results["official"] = _case(peer, sandbox, "POST /generate", peer.start_call(), log_dir)
                code = OFFICIAL_DEPRECATED_START % IMAGE_START
                results["official_deprecated_route"] = _case(
                    peer, sandbox, "POST /runs/generation", ("execute", {"code": code}), log_dir
                )
    finally:
        sandbox.close()
    return results
