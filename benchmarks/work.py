"""The same work done through each peer: read one run, start one generation, follow it to the end.

`RawFloor` is the floor: the documented requests sent straight to the sandbox with httpx, one
kept-alive connection, nothing else. `ToolCaller` is anything with `call_tool` (a stdio child or
an HTTP session). The "follow" step is what an agent does with each server: with flora-mcp, call
`wait_for_run` until the run ends; with the official server, one `execute` whose TypeScript polls
once a second; on the floor, GET until the run ends, once a second.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from benchmarks.peers import IMAGE_START, Peer, official_start_and_follow_code
from benchmarks.rpc import HttpSession, tool_call_params, tool_error_text
from benchmarks.sandbox_proc import API_KEY

TERMINAL = {"completed", "failed"}


class ToolError(RuntimeError):
    """A tool answered with isError where success was expected."""


class ToolCaller(Protocol):
    def call_tool(self, name: str, arguments: Mapping[str, Any], *, progress: bool = False) -> dict[str, Any]: ...


class HttpCaller:
    """A streamable HTTP session used one call at a time (for latency series)."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self.client = httpx.Client(timeout=300)
        self.session = HttpSession(url, headers=headers)
        self.session.initialize(self.client)

    def call_tool(self, name: str, arguments: Mapping[str, Any], *, progress: bool = False) -> dict[str, Any]:
        return self.session.request(self.client, "tools/call", tool_call_params(name, arguments, progress=progress))

    def close(self) -> None:
        self.client.close()


def structured(result: Mapping[str, Any]) -> dict[str, Any]:
    """A tool result's structured content, or its first text parsed as JSON (the official server's)."""
    content = result.get("structuredContent")
    if isinstance(content, dict):
        return content
    for item in result.get("content", []):
        if item.get("type") == "text":
            try:
                value = json.loads(item["text"])
            except (ValueError, KeyError):
                continue
            if isinstance(value, dict):
                return value
    return {}


def checked(result: dict[str, Any]) -> dict[str, Any]:
    error = tool_error_text(result)
    if error is not None:
        raise ToolError(error)
    return result


def find_key(value: Any, key: str) -> Any:
    """The first value of `key` anywhere in nested dicts/lists (tool results nest run fields differently)."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for child in value.values():
            found = find_key(child, key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for child in value:
            found = find_key(child, key)
            if found is not None:
                return found
    return None


class RawFloor:
    """The documented requests, straight to the sandbox."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30)
        self.requests = 0

    def read(self, run_id: str) -> dict[str, Any]:
        self.requests += 1
        response = self.client.get(f"/runs/{run_id}")
        response.raise_for_status()
        return dict(response.json())

    def start(self) -> dict[str, Any]:
        self.requests += 1
        response = self.client.post(
            "/runs/generation", json=IMAGE_START, headers={"idempotency-key": f"bench-{uuid.uuid4().hex}"}
        )
        response.raise_for_status()
        return dict(response.json())

    def follow(self, run_id: str, *, every: float = 1.0) -> dict[str, Any]:
        state = self.read(run_id)
        while state["status"] not in TERMINAL:
            time.sleep(every)
            state = self.read(run_id)
        return state

    def close(self) -> None:
        self.client.close()


def read_once(peer: Peer, caller: ToolCaller, run_id: str) -> dict[str, Any]:
    name, arguments = peer.read_call(run_id)
    return checked(caller.call_tool(name, arguments))


def start_answer(peer: Peer, caller: ToolCaller) -> tuple[str, dict[str, Any]]:
    """Start one image generation: (run id, the start's structured answer)."""
    name, arguments = peer.start_call()
    answer = structured(checked(caller.call_tool(name, arguments)))
    run_id = find_key(answer, "run_id")
    if not isinstance(run_id, str):
        raise ToolError(f"{peer.key}: no run_id in the start answer")
    return run_id, answer


def start_once(peer: Peer, caller: ToolCaller) -> str:
    return start_answer(peer, caller)[0]


def hinted_delay(answer: dict[str, Any]) -> float:
    """Seconds flora-mcp's `next` hint says to wait before the next call (0 when there is none)."""
    step = answer.get("next")
    delay = step.get("after_seconds") if isinstance(step, dict) else None
    return float(delay) if isinstance(delay, int | float) and delay > 0 else 0.0


def wait_until_done(
    caller: ToolCaller, run_id: str, *, follow_hints: bool = False, max_calls: int = 100
) -> tuple[dict[str, Any], int]:
    """flora-mcp's way to follow a run: wait_for_run until it ends. Returns (final result, calls made).

    With follow_hints, the agent sleeps as each answer's `next.after_seconds` says before calling
    again, as an agent that can wait (has a sleep tool, or a scheduler) would."""
    for calls in range(1, max_calls + 1):
        result = checked(caller.call_tool("wait_for_run", {"run_id": run_id}, progress=True))
        answer = structured(result)
        if find_key(answer, "status") in TERMINAL:
            return result, calls
        if follow_hints:
            time.sleep(hinted_delay(answer))
    raise ToolError(f"run {run_id} still not finished after {max_calls} wait_for_run calls")


def start_and_follow(peer: Peer, caller: ToolCaller) -> int:
    """Start one image generation and follow it to the end; returns the number of tool calls made."""
    if peer.key == "official":
        state = structured(checked(caller.call_tool("execute", {"code": official_start_and_follow_code()})))
        if state.get("status") not in TERMINAL:
            raise ToolError(f"official: the run did not end: {state}")
        return 1
    run_id = start_once(peer, caller)
    _, calls = wait_until_done(caller, run_id)
    return 1 + calls
