"""Item 6: polling economy: upstream requests wait_for_run makes per run, against naive 1 s polling.

For each simulated duration D, a sandbox of its own runs image generations (6 s at time_scale 1)
with time_scale D/6, so the run really lasts D seconds of wall time and the sandbox's
estimated_seconds says D. flora-mcp (over stdio, its own sandbox, so the sandbox's request
counter is exactly its requests) starts one run and an agent calls `wait_for_run` until the run
ends: once calling again at once whenever a wait's budget runs out (an agent that cannot wait),
once following the answers' `next.after_seconds` hints (an agent that can). Beside them, on
another sandbox, a naive agent GETs the run every second. Per run we count the upstream GETs and
the lag between the run's completed_at and the moment the agent had the final state.

Time is not sped up: wait_for_run sleeps on the real clock, so a faster sandbox would make it look
thriftier than it is. The durations run concurrently (each in a thread, each with its own server
and sandbox), so the item takes as long as the longest run, and the runner starts it first and
runs the other items while it waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.peers import Peer
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.work import RawFloor, find_key, hinted_delay, start_answer, structured, wait_until_done

IMAGE_SECONDS = 6.0  # the sandbox's simulated image duration at time_scale 1
# ours: the agent calls wait_for_run again at once until the run ends (an agent that cannot wait);
# hinted: it first sleeps as the answers' `next.after_seconds` says; naive: GET once a second.
SIDES = ("ours", "hinted", "naive")


def _gets(counts: dict[str, int]) -> int:
    return sum(count for route, count in counts.items() if route.startswith("GET "))


def _lag(completed_at: Any, finished_wall: float) -> float | None:
    """Seconds from the run's completed_at (epoch ms) to the moment the agent had the final state."""
    if not isinstance(completed_at, int | float):
        return None
    return finished_wall - completed_at / 1000


def ours_run(
    peer_for: Callable[[str], Peer],
    duration: float,
    repo_root: Path,
    log_dir: Path,
    started: Callable[[], None],
    *,
    follow_hints: bool = False,
) -> dict[str, Any]:
    sandbox = SandboxProcess(time_scale=duration / IMAGE_SECONDS, repo_root=repo_root, log_path=log_dir / "sandbox.log")
    try:
        peer = peer_for(sandbox.base_url)
        client = peer.stdio(log_dir)
        client.spawn()
        try:
            client.initialize()
            run_id, answer = start_answer(peer, client)
            before = sandbox.api_requests()
            started()
            if follow_hints:
                time.sleep(hinted_delay(answer))
            final, calls = wait_until_done(client, run_id, follow_hints=follow_hints)
            finished = time.time()
            after = sandbox.api_requests()
            progress = sum(1 for note in client.notifications if note.get("method") == "notifications/progress")
        finally:
            client.close()
        state = structured(final)
        upstream = {route: after.get(route, 0) - before.get(route, 0) for route in after}
        return {
            "gets": _gets(upstream),
            "upstream": {route: count for route, count in upstream.items() if count},
            "tool_calls": calls,
            "progress_notifications": progress,
            "lag_s": _lag(find_key(state, "completed_at"), finished),
            "status": find_key(state, "status"),
        }
    finally:
        sandbox.close()


def naive_run(duration: float, repo_root: Path, log_dir: Path, started: Callable[[], None]) -> dict[str, Any]:
    sandbox = SandboxProcess(time_scale=duration / IMAGE_SECONDS, repo_root=repo_root, log_path=log_dir / "sandbox.log")
    raw = RawFloor(sandbox.base_url)
    try:
        run_id = raw.start()["run_id"]
        before = raw.requests
        started()
        state = raw.follow(run_id, every=1.0)
        finished = time.time()
        return {
            "gets": raw.requests - before,
            "lag_s": _lag(state.get("completed_at"), finished),
            "status": state["status"],
        }
    finally:
        raw.close()
        sandbox.close()


def measure(
    peer_for: Callable[[str], Peer],
    durations: list[float],
    repo_root: Path,
    log_dir: Path,
    started: Callable[[], None],
) -> dict[str, Any]:
    """`peer_for(base_url)` builds the flora-mcp peer for a sandbox; `started()` is called once per
    run (three per duration) as soon as it is under way, so a caller can wait out the start-up burst."""
    with ThreadPoolExecutor(max_workers=3 * len(durations)) as pool:
        futures = {
            (d, side): (
                pool.submit(naive_run, d, repo_root, log_dir, started)
                if side == "naive"
                else pool.submit(ours_run, peer_for, d, repo_root, log_dir, started, follow_hints=side == "hinted")
            )
            for d in durations
            for side in SIDES
        }
        rows = []
        for duration in durations:
            row: dict[str, Any] = {"duration_s": duration, "lag_target_s": max(0.2 * duration, 2.0)}
            for side in SIDES:
                try:
                    row[side] = futures[duration, side].result()
                except Exception as exc:
                    row[f"{side}_error"] = f"{type(exc).__name__}: {exc}"
            naive_gets = (row.get("naive") or {}).get("gets")
            for side in ("ours", "hinted"):
                if side in row and naive_gets:
                    row[f"{side}_share"] = row[side]["gets"] / naive_gets
            rows.append(row)
    return {"rows": rows}
