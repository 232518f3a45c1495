"""The money fault campaign: many logical starts through the MCP tools under seeded random faults.

    figures = await run_fault_campaign(seed=0, starts=400)

Each logical start is one thing an agent wants started: a generation (start_generation_run) or
a technique (start_technique_run, on the top-level route or the nested one). Before it, a seeded
`random.Random` queues 0-4 faults on its route in the sandbox: an answer lost after the run was
created, a 5xx (FLORA's envelope or a proxy's 502 HTML page), 429 with Retry-After, a timeout
(an answer slower than the client's timeout) and a dropped connection. Some starts are invalid
on purpose (an unknown model, a missing technique input) so that FLORA refuses them.

The agent calls the tool as a model would: first without an idempotency key half of the time,
and after an error it does what the error's "Next step" says: when that names
`idempotency_key=...` it calls again with that key, otherwise it stops. Then the campaign
counts, per logical start, the sandbox runs whose prompt or inputs carry the start's tag:

- reported started, recovered or accepted_earlier: exactly one run (else "lost" or "double charged");
- reported failed: zero runs (else "charged but reported failed").

The same starts with the same faults are then sent by a naive client, the official SDKs' way:
the same POST retried on connection errors, timeouts, 408, 409, 429 and 5xx, with no
idempotency key, and re-sent by its agent after an error. Its extra runs are the comparison.

Time is virtual (fault_support.py), so the campaign never waits. `failing_calls_memory_growth`
is the memory measurement under failure. scripts/robustness_report.py runs both at full size
and writes docs/ROBUSTNESS.md.
"""

from __future__ import annotations

import gc
import logging
import random
import re
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client

from flora_mcp.sandbox import Fault, Sandbox

from .fault_support import (
    CLIENT_TIMEOUT,
    HTML_502,
    MAX_RETRIES,
    PROJECT,
    WORKSPACE,
    FakeClock,
    TimeoutTransport,
    campaign_settings,
    connected,
    new_sandbox,
    text_of,
)

MAX_AGENT_CALLS = 5  # tool calls an agent makes for one logical start before giving up
INVALID_SHARE = 0.08
POSTER = "tech_sandboxposter"
POSTER_SLUG = "poster-maker"

FAULT_KINDS = ("dropped_after_create", "server_error_5xx", "bad_gateway_html", "rate_limited_429", "timeout", "dropped")
START_KINDS = ("generation", "technique_top_level", "technique_nested")
ROUTES = {
    "generation": "POST /runs/generation",
    "technique_top_level": "POST /runs/technique",
    "technique_nested": "POST /techniques/{technique_id}/runs",
}
_KEY_ADVICE = re.compile(r"idempotency_key=([A-Za-z0-9._:-]{8,255})")


@dataclass
class PlannedStart:
    """One logical start and the faults waiting for it."""

    index: int
    kind: str
    tag: str
    valid: bool
    arguments: dict[str, Any]
    faults: list[tuple[str, Fault]]
    own_key: str | None

    @property
    def tool(self) -> str:
        return "start_generation_run" if self.kind == "generation" else "start_technique_run"

    @property
    def route(self) -> str:
        return ROUTES[self.kind]


def make_fault(kind: str, rng: random.Random) -> Fault:
    if kind == "dropped_after_create":
        return Fault.dropped_after_create()
    if kind == "server_error_5xx":
        return Fault.status_(rng.choice([500, 503, 504]))
    if kind == "bad_gateway_html":
        return Fault.raw(502, HTML_502)
    if kind == "rate_limited_429":
        return Fault.rate_limited(retry_after=rng.choice([1, 2, 7]))
    if kind == "timeout":
        return Fault.slow(CLIENT_TIMEOUT * 4)
    return Fault.dropped()


def plan_starts(seed: int, starts: int) -> list[PlannedStart]:
    """The campaign's logical starts, the same for a given seed."""
    rng = random.Random(seed)
    plans = []
    for index in range(starts):
        kind = START_KINDS[0] if index % 2 == 0 else START_KINDS[1 + (index // 2) % 2]
        tag = f"campaign start {seed}-{index}"
        valid = rng.random() >= INVALID_SHARE
        arguments = _arguments(kind, tag, valid)
        count = rng.choices([0, 1, 2, 3, 4], weights=[30, 30, 20, 12, 8])[0]
        faults = [(name, make_fault(name, rng)) for name in (rng.choice(FAULT_KINDS) for _ in range(count))]
        own_key = f"agent-{seed}-{index}-{rng.getrandbits(32):08x}" if rng.random() < 0.5 else None
        plans.append(PlannedStart(index, kind, tag, valid, arguments, faults, own_key))
    return plans


def _arguments(kind: str, tag: str, valid: bool) -> dict[str, Any]:
    if kind == "generation":
        arguments: dict[str, Any] = {"workspace_id": WORKSPACE, "project_id": PROJECT, "prompt": tag, "type": "image"}
        if not valid:
            arguments["model"] = "t2i-no-such-model"
        return arguments
    # A poster needs its subject: an invalid start gives only the optional style.
    inputs = [{"id": "subject" if valid else "style", "type": "text", "value": tag}]
    if kind == "technique_top_level":
        return {"technique_id": POSTER, "workspace_id": WORKSPACE, "inputs": inputs}
    return {"technique_id": POSTER_SLUG, "inputs": inputs}


@dataclass
class CampaignFigures:
    """What the campaign did and found; every count is computed, none typed."""

    seed: int
    logical_starts: int = 0
    invalid_starts: int = 0  # refused by FLORA by design (an unknown model, a missing input)
    starts_by_kind: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    tool_calls: int = 0
    http_start_attempts: int = 0
    reported: Counter[str] = field(default_factory=Counter)  # started / recovered / accepted_earlier / failed / ...
    valid_starts_reported_failed: int = 0
    invalid_starts_reported_started: int = 0
    outcome_unknown_reports: int = 0
    runs_created: int = 0
    runs_lost: int = 0  # reported started or accepted, but no run
    double_charges: int = 0  # runs beyond the first for one logical start
    charged_but_reported_failed: int = 0
    run_id_mismatches: int = 0
    naive_runs_created: int = 0
    naive_double_charges: int = 0
    naive_extra_usd: float = 0.0
    naive_starts_double_charged: int = 0

    def as_dict(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, Counter):
                flat.update({f"{name}.{key}": count for key, count in sorted(value.items())})
                flat[f"{name}.total"] = sum(value.values())
            else:
                flat[name] = value
        return flat


def runs_for(sandbox: Sandbox, tag: str) -> list[Any]:
    return [run for run in sandbox.runs if run.prompt == tag or tag in run.inputs.values()]


async def run_fault_campaign(*, seed: int = 0, starts: int = 400) -> CampaignFigures:
    """Run the campaign and return its figures (see the module docstring)."""
    plans = plan_starts(seed, starts)
    figures = CampaignFigures(seed=seed)
    await _through_flora_mcp(plans, figures)
    await _through_a_naive_client(plans, figures)
    return figures


async def _through_flora_mcp(plans: list[PlannedStart], figures: CampaignFigures) -> None:
    clock = FakeClock()
    sandbox = new_sandbox(clock)
    async with connected(sandbox, clock) as client:
        for plan in plans:
            for _, fault in plan.faults:
                sandbox.faults.push(plan.route, fault)
            reported, run_id = await _agent_start(client, plan, figures)
            left = sandbox.faults.pending()
            sandbox.faults.clear()
            for name, _ in plan.faults[: len(plan.faults) - left]:
                figures.faults_injected[name] += 1
            _judge(plan, reported, run_id, runs_for(sandbox, plan.tag), figures)
    figures.runs_created = len(sandbox.runs)
    figures.http_start_attempts = sum(sandbox.requests[route] for route in ROUTES.values())


async def _agent_start(client: Client, plan: PlannedStart, figures: CampaignFigures) -> tuple[str, str | None]:
    """Start it as an agent following the server's advice; returns (what was reported, run id)."""
    arguments = dict(plan.arguments)
    if plan.own_key:
        arguments["idempotency_key"] = plan.own_key
    for _ in range(MAX_AGENT_CALLS):
        result = await client.call_tool(plan.tool, arguments)
        figures.tool_calls += 1
        if not result.is_error:
            start = result.structured_content or {}
            return str(start["outcome"]), start.get("run_id")
        text = text_of(result)
        if "Start outcome: unknown" in text:
            figures.outcome_unknown_reports += 1
        advice = _KEY_ADVICE.search(text)
        if advice is None:
            if "Start outcome: not started" not in text:
                raise AssertionError(f"a failed start did not say whether it started:\n{text}")
            return "failed", None
        arguments["idempotency_key"] = advice.group(1)
    return "unresolved", None


def _judge(plan: PlannedStart, reported: str, run_id: str | None, runs: list[Any], figures: CampaignFigures) -> None:
    figures.logical_starts += 1
    figures.invalid_starts += not plan.valid
    figures.starts_by_kind[plan.kind] += 1
    figures.reported[reported] += 1
    if plan.valid and reported == "failed":
        figures.valid_starts_reported_failed += 1
    if not plan.valid and reported != "failed":
        figures.invalid_starts_reported_started += 1
    if len(runs) > 1:
        figures.double_charges += len(runs) - 1
    if reported in ("started", "recovered", "accepted_earlier"):
        if not runs:
            figures.runs_lost += 1
        if reported in ("started", "recovered") and runs and runs[0].run_id != run_id:
            figures.run_id_mismatches += 1
    elif reported == "failed" and runs:
        figures.charged_but_reported_failed += 1


# --- the naive client ---------------------------------------------------------------------------
async def _through_a_naive_client(plans: list[PlannedStart], figures: CampaignFigures) -> None:
    clock = FakeClock()
    sandbox = new_sandbox(clock)
    base = sandbox.base_url()
    headers = {"Authorization": f"Bearer {sandbox.config.api_key}"}
    async with httpx2.AsyncClient(
        transport=TimeoutTransport(sandbox.transport()), base_url=base, headers=headers
    ) as http:
        for plan in plans:
            for _, fault in plan.faults:
                sandbox.faults.push(plan.route, fault)
            for _ in range(MAX_AGENT_CALLS):
                outcome = await _naive_call(http, plan)
                if outcome != "retry":
                    break
            sandbox.faults.clear()
            extra = runs_for(sandbox, plan.tag)[1:]
            figures.naive_double_charges += len(extra)
            figures.naive_starts_double_charged += bool(extra)
            figures.naive_extra_usd += sum(run.charged_cost for run in extra)
    figures.naive_runs_created = len(sandbox.runs)
    figures.naive_extra_usd = round(figures.naive_extra_usd, 2)


async def _naive_call(http: httpx2.AsyncClient, plan: PlannedStart) -> str:
    """One SDK call: the POST and two retries, no idempotency key. "ok", "refused" or "retry"."""
    path, body = _naive_request(plan)
    for _ in range(1 + MAX_RETRIES):
        try:
            response = await http.post(path, json=body)
        except httpx2.TransportError:
            continue
        status = response.status_code
        if 200 <= status < 300:
            return "ok"
        if status not in (408, 409, 429) and status < 500:
            return "refused"
    return "retry"


def _naive_request(plan: PlannedStart) -> tuple[str, dict[str, Any]]:
    arguments = plan.arguments
    if plan.kind == "generation":
        return "/runs/generation", dict(arguments)
    if plan.kind == "technique_top_level":
        inputs = {item["id"]: item["value"] for item in arguments["inputs"]}
        body = {"technique_id": arguments["technique_id"], "workspace_id": arguments["workspace_id"], "inputs": inputs}
        return "/runs/technique", body
    return f"/techniques/{arguments['technique_id']}/runs", {"inputs": arguments["inputs"], "mode": "async"}


# --- memory under failure ------------------------------------------------------------------------
# Process-wide tables that grow in steps whenever anything in the process uses them (the
# interned-string table, the regex cache, import machinery): not state kept per call.
INTERPRETER_CACHES = [
    tracemalloc.Filter(False, pattern)
    for pattern in (
        "*/pathlib.py",
        "*/re/__init__.py",
        "*/_distutils_hack/*",
        "<frozen importlib.*",
        "*/tracemalloc.py",
    )
]
FAILURES = [
    Fault.raw(502, HTML_502),
    Fault.raw(200, b'{"workspaces": [', "application/json"),
    Fault.status_(503),
    Fault.rate_limited(1),
    Fault.dropped(),
    Fault.slow(CLIENT_TIMEOUT * 4),
]


async def failing_calls_memory_growth(calls: int = 1000) -> int:
    """Bytes still allocated after `calls` failing calls, measured with tracemalloc after a warm-up.

    Half are reads, half one start an agent keeps retrying with its key, each failing with the
    next of FAILURES in turn (no client retries). The interpreter's own caches are left out.
    """
    clock = FakeClock()
    sandbox = new_sandbox(clock)
    start = {
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "prompt": "a mug",
        "type": "image",
        "model": "t2i-no-such-model",
        "idempotency_key": "retried-key-0001",
    }

    async def fail(client: Client, times: int) -> None:
        for n in range(times):
            sandbox.faults.push("GET /workspaces", FAILURES[n % len(FAILURES)])
            assert (await client.call_tool("list_workspaces", {})).is_error
            sandbox.faults.push("POST /runs/generation", FAILURES[n % len(FAILURES)])
            assert (await client.call_tool("start_generation_run", start)).is_error

    # A thousand failures log a thousand lines; a capturing handler (pytest's) would keep them.
    logger = logging.getLogger("flora_mcp")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        async with connected(sandbox, clock, campaign_settings(max_retries=0)) as client:
            await fail(client, 100)  # warm-up: lazily built schemas, first-call allocations
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.take_snapshot().filter_traces(INTERPRETER_CACHES)
                await fail(client, calls // 2)
                gc.collect()
                after = tracemalloc.take_snapshot().filter_traces(INTERPRETER_CACHES)
            finally:
                tracemalloc.stop()
            assert not (await client.call_tool("list_workspaces", {})).is_error, "the server stopped serving"
    finally:
        logger.setLevel(level)
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))
