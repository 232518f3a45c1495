"""The booking campaign: each promise of "one owner for every paid start", tried through the real server.

    rows = await run_booking_campaign()      # in memory, virtual time: no waiting
    rows += await run_wire_campaign()        # booking_wire.py: subprocesses over HTTP and stdio, real time

Every row is one promise, the cases tried for it and how many broke it. A case fails when
FLORA saw more starts (or spent more) than the promise allows, or the agent's answer lacks what
it needs (the run id, a conflict it can act on). Runs are counted where they are made: in the
sandbox, or in `PricedFlora`, a scripted FLORA whose starts cost 0.25 USD each and whose reads
answer the charges a test sets (0, negative, NaN, infinite). scripts/robustness_report.py puts
the rows in docs/ROBUSTNESS.md; tests/robustness/test_booking_campaign.py asserts none failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp_types import CallToolResult

from flora_mcp.sandbox import Fault, Sandbox
from flora_mcp.server import create_server

from .fault_support import PROJECT, WORKSPACE, FakeClock, campaign_settings, connected, new_sandbox, text_of

__all__ = ["FakeClock", "Fault", "Row", "connected", "new_sandbox", "run_booking_campaign", "text_of"]

POSTER, POSTER_SLUG = "tech_sandboxposter", "poster-maker"
ALICE, BOB = "sk-alice-0001", "sk-bob-0002"
PRICE = 0.25
CAP = 1.0


@dataclass
class Row:
    """One promise: the cases tried, how many broke it, and what was measured."""

    promise: str
    tried: int
    failed: int
    measured: str


def image(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"workspace_id": WORKSPACE, "project_id": PROJECT, "prompt": prompt, "type": "image", **extra}


def poster(headline: str, **extra: Any) -> dict[str, Any]:
    inputs = [{"id": "subject", "type": "text", "value": headline}]
    return {"technique_id": POSTER, "workspace_id": WORKSPACE, "inputs": inputs, **extra}


def data(result: CallToolResult) -> dict[str, Any]:
    return dict(result.structured_content or {})


def runs_tagged(sandbox: Sandbox, tag: str) -> int:
    """Sandbox runs whose prompt or inputs carry `tag`: what FLORA made (and billed) for one start."""
    return sum(1 for run in sandbox.runs if tag in (run.prompt or "") + repr(run.inputs))


# --- a scripted FLORA with a price and hostile charges ---------------------------------------------
class PricedFlora:
    """FLORA's routes for one image model; each start makes a run and costs PRICE (unless `free_start`).

    `listing`: "priced" (the model lists estimated_credits), "unpriced" (it lists none),
    "missing" (it is not listed) or "down" (GET /models answers 503). `read_charge` is the raw
    JSON text of `charged_cost` in reads of a running run ("0", "-20", "NaN", "1e309"...).
    `start_body` replaces the start answer (still making the run), e.g. with estimated_seconds 1e309.
    """

    def __init__(self, listing: str = "priced", *, read_charge: str = "0.25", start_body: str | None = None) -> None:
        self.listing = listing
        self.read_charge = read_charge
        self.start_body = start_body
        self.runs: list[str] = []
        self.start_delay = 0.0
        self.history_down = False  # GET /generations answers 503: a lost run cannot be searched for

    @property
    def spent(self) -> float:
        return PRICE * len(self.runs)

    def _model(self) -> dict[str, Any]:
        model: dict[str, Any] = {"model_id": "t2i-priced", "type": "image", "params": []}
        if self.listing == "priced":
            model["estimated_credits"] = PRICE * 1000  # 0.001 USD per credit
        return model

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/api/v1")
        if request.method == "GET" and path == "/models":
            if self.listing == "down":
                return httpx2.Response(503, json={"error": {"code": "unavailable", "message": "down"}})
            return httpx2.Response(200, json={"models": [] if self.listing == "missing" else [self._model()]})
        if request.method == "POST" and path == "/runs/generation":
            await anyio.sleep(self.start_delay)  # concurrent starts overlap in flight
            run_id = f"run_priced{len(self.runs):04d}"
            self.runs.append(run_id)
            body = (
                self.start_body or '{"run_id": "%s", "type": "generation", "charged_cost": %s, "estimated_seconds": 5}'
            )
            return httpx2.Response(200, content=(body % (run_id, PRICE)).encode(), headers=JSON)
        if request.method == "GET" and path.startswith("/runs/"):
            run_id = path.rsplit("/", 1)[1]
            body = '{"run_id": "%s", "status": "running", "progress": 0.5, "charged_cost": %s}'
            return httpx2.Response(200, content=(body % (run_id, self.read_charge)).encode(), headers=JSON)
        if request.method == "GET" and path == "/generations" and self.history_down:
            return httpx2.Response(503, json={"error": {"code": "unavailable", "message": "down"}})
        if request.method == "GET" and path == "/generations":
            items = [{"run_id": r, "status": "running", "model": {"model_id": "t2i-priced"}} for r in self.runs]
            return httpx2.Response(200, json={"generations": items[::-1], "meta": {}})
        return httpx2.Response(404, json={"error": {"code": "not_found", "message": f"no route {path}"}})


JSON = {"content-type": "application/json"}
NO_CHARGE = '{"run_id": "%s", "type": "generation", "estimated_seconds": 5%.0s}'
ZERO_CHARGE = '{"run_id": "%s", "type": "generation", "charged_cost": 0%.0s}'


@asynccontextmanager
async def priced_client(flora: PricedFlora, **settings: Any) -> AsyncIterator[Client]:
    """An in-memory mcp.Client to flora-mcp on `flora`, with a 1.00 USD cap unless told otherwise."""
    clock = FakeClock()
    values = {
        "api_key": "sk-priced-0001",
        "base_url": "https://flora.priced/api/v1",
        "max_spend_usd": CAP,
        "state_url": "memory",  # each case its own journal, whoever runs the campaign
    }
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(flora)) as http:
        server = create_server(
            campaign_settings(**(values | settings)), http_client=http, sleep=clock.sleep, clock=clock.time
        )
        async with Client(server) as client:
            yield client


async def gather(calls: list[Callable[[], Awaitable[CallToolResult]]]) -> list[CallToolResult]:
    """Run `calls` all at once; their answers in order."""
    answers: list[CallToolResult | None] = [None] * len(calls)

    async def one(index: int) -> None:
        answers[index] = await calls[index]()

    async with anyio.create_task_group() as tasks:
        for index in range(len(calls)):
            tasks.start_soon(one, index)
    return [a for a in answers if a is not None]


# --- in memory ---------------------------------------------------------------------------------------
async def identical_concurrent(bursts: int = 5, calls: int = 10) -> Row:
    """10 identical calls at once (no key) -> 1 run, and every answer names it."""
    failed = 0
    runs_made = []
    for burst in range(bursts):
        clock = FakeClock()
        sandbox = new_sandbox(clock)
        tool, arguments = (
            ("start_generation_run", image(f"burst {burst}"))
            if burst % 2 == 0
            else ("start_technique_run", poster(f"burst {burst}"))
        )
        if burst >= 2:
            sandbox.faults.push("*", Fault.slow(2))  # the first start answers late: the others arrive meanwhile
        async with connected(sandbox, clock) as client:
            answers = await gather([lambda t=tool, a=arguments: client.call_tool(t, a)] * calls)
        ids = {data(a).get("run_id") for a in answers}
        made = runs_tagged(sandbox, f"burst {burst}")
        runs_made.append(made)
        failed += made != 1 or len(ids) != 1 or None in ids or any(a.is_error for a in answers)
    return Row(
        f"{calls} identical concurrent calls, no key → 1 run, every answer with its run id",
        bursts,
        failed,
        f"runs per burst of {calls}: {runs_made}",
    )


async def reused_keys() -> list[Row]:
    """A key reused with other arguments or by another tool -> 0 new runs and a conflict answer."""
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("other arguments", "start_generation_run", image("a mug, but blue", idempotency_key="reused-key-0001")),
        ("another tool", "start_technique_run", poster("a mug", idempotency_key="reused-key-0001")),
        ("other arguments, technique", "start_technique_run", poster("other", idempotency_key="reused-key-0002")),
    ]
    failed, seen = 0, []
    for name, tool, arguments in cases:
        clock = FakeClock()
        sandbox = new_sandbox(clock)
        async with connected(sandbox, clock) as client:
            await client.call_tool("start_generation_run", image("a mug", idempotency_key="reused-key-0001"))
            await client.call_tool("start_technique_run", poster("a mug", idempotency_key="reused-key-0002"))
            before = len(sandbox.runs)
            answer = await client.call_tool(tool, arguments)
            new = len(sandbox.runs) - before
        ok = answer.is_error and "Idempotency key conflict" in text_of(answer) and new == 0
        failed += not ok
        seen.append(f"{name}: {new} new")
    return [
        Row(
            "a key reused with other arguments or another tool → 0 new runs, a conflict",
            len(cases),
            failed,
            "; ".join(seen),
        )
    ]


async def unknown_quotes_under_cap(starts: int = 20, waves: int = 6) -> Row:
    """20 parallel starts of unknown quote under a 1.00 cap at 0.25 each -> at most 1.25 spent."""
    failed, spent = 0, []
    cases = {
        "missing": PricedFlora("missing"),
        "down": PricedFlora("down"),
        "unpriced": PricedFlora("unpriced"),
        # FLORA's start answer names no charge and reads report none: the cost stays unknown.
        "no charge reported": PricedFlora("down", start_body=NO_CHARGE, read_charge="null"),
        "charge 0 while running": PricedFlora("down", start_body=ZERO_CHARGE, read_charge="0"),
    }
    for name, flora in cases.items():
        flora.start_delay = 0.02
        async with priced_client(flora) as client:
            for wave in range(waves):  # the same burst again: the cap must hold across waves too
                await gather(
                    [
                        lambda w=wave, i=i: client.call_tool(
                            "start_generation_run", image(f"u{w}-{i}", model="t2i-priced")
                        )
                        for i in range(starts)
                    ]
                )
        spent.append(
            f"{name}: {flora.spent:.2f} USD" + (" (refused before sending: not listed)" if not flora.runs else "")
        )
        failed += flora.spent > CAP + PRICE + 1e-9
    return Row(
        f"{starts} parallel starts of unknown quote ({waves} waves) under a {CAP:.2f} cap, {PRICE} each "
        f"→ ≤ {CAP + PRICE:.2f} spent (model missing from the listing / GET /models failing / "
        "listed without a price / no charge reported / charge 0 while running)",
        len(cases),
        failed,
        "; ".join(spent),
    )


async def hostile_charges() -> Row:
    """Reads reporting charged_cost 0, negative, NaN or infinite for running runs -> the cap unmoved."""
    failed, seen = 0, []
    values = ["0", "-20", "NaN", "Infinity", "1e309", "-0.0"]
    for raw in values:
        flora = PricedFlora("priced", read_charge=raw)
        async with priced_client(flora) as client:
            first = await client.call_tool("start_generation_run", image("hostile 0", model="t2i-priced"))
            run_id = data(first).get("run_id") or "run_none"
            for _ in range(3):
                await client.call_tool("get_run", {"run_id": run_id})
            spend = data(await client.call_tool("get_spend", {}))
            for index in range(1, 8):  # as many more as the cap would let through
                await client.call_tool("start_generation_run", image(f"hostile {index}", model="t2i-priced"))
        unmoved = abs(spend.get("spent_usd", -1) - PRICE) < 1e-9
        seen.append(
            f"{raw}: spent after 3 reads {spend.get('spent_usd')} USD, then {len(flora.runs)} runs before the cap"
        )
        failed += not unmoved or flora.spent > CAP + 1e-9
    return Row(
        "reads of running runs reporting charged_cost 0, negative, NaN or infinite → the cap unmoved",
        len(values),
        failed,
        "; ".join(seen),
    )


async def huge_estimates() -> Row:
    """A start answer with estimated_seconds (or charged_cost) 1e309 or NaN -> the answer still carries the run id."""
    head = '{"run_id": "%s", "type": "generation", '
    bodies = {
        "estimated_seconds 1e309": head + '"charged_cost": %s, "estimated_seconds": 1e309}',
        "estimated_seconds NaN": head + '"charged_cost": %s, "estimated_seconds": NaN}',
        "charged_cost 1e309": '{"run_id": "%s", "type": "generation", "charged_cost": 1e309%.0s}',
    }
    failed, seen = 0, []
    bodies["estimated_seconds 1e309, run history down"] = bodies["estimated_seconds 1e309"]
    for name, body in bodies.items():
        flora = PricedFlora("priced", start_body=body)
        flora.history_down = "history down" in name
        async with priced_client(flora) as client:
            answer = await client.call_tool("start_generation_run", image(name, model="t2i-priced"))
            again = await client.call_tool("start_generation_run", image(name, model="t2i-priced"))
        run_id = data(answer).get("run_id")
        ok = (
            not answer.is_error
            and run_id == flora.runs[0]
            and len(flora.runs) == 1
            and data(again).get("run_id") == run_id
        )
        seen.append(f"{name}: {data(answer).get('outcome') or 'error'} {run_id}")
        failed += not ok
    return Row(
        "a start answer with a non-finite number (1e309, NaN) → the answer carries the run id",
        len(bodies),
        failed,
        "; ".join(seen),
    )


LOST = {
    "answer dropped, then 503 twice": [Fault.dropped_after_create(), Fault.status_(503), Fault.status_(503)],
    "answer dropped, then dropped twice": [Fault.dropped_after_create(), Fault.dropped(), Fault.dropped()],
    "answer dropped, then too slow twice": [Fault.dropped_after_create(), Fault.slow(20), Fault.slow(20)],
    "answer dropped once (retry: idempotency_duplicate or replay)": [Fault.dropped_after_create()],
}


async def lost_answers() -> Row:
    """A lost answer -> the run id in the answer (outcome recovered or started), no list call by the agent."""
    failed, outcomes = 0, []
    for kind in ("generation", "technique"):
        for index, faults in enumerate(LOST.values()):
            clock = FakeClock()
            sandbox = new_sandbox(clock)
            tag = f"lost {kind} {index}"
            route = "POST /runs/generation" if kind == "generation" else "POST /runs/technique"
            for fault in faults:
                sandbox.faults.push(route, fault)
            tool, arguments = (
                ("start_generation_run", image(tag)) if kind == "generation" else ("start_technique_run", poster(tag))
            )
            async with connected(sandbox, clock) as client:
                answer = await client.call_tool(tool, arguments)
            made = [run.run_id for run in sandbox.runs if tag in (run.prompt or "") + repr(run.inputs)]
            outcome = data(answer).get("outcome") or "error"
            outcomes.append(outcome)
            failed += made != [data(answer).get("run_id")] or outcome not in ("recovered", "started")
    recovered = outcomes.count("recovered")
    return Row(
        "a lost answer → the run id in the answer, with no list call by the agent",
        len(outcomes),
        failed,
        f"outcomes: {recovered} recovered, {outcomes.count('started')} started (FLORA replayed the answer), "
        f"{len(outcomes) - recovered - outcomes.count('started')} other",
    )


async def slug_with_workspace() -> Row:
    """A slug with workspace_id -> started in that workspace (tech_ id, top-level route) or refused."""
    failed, seen = 0, []
    for workspace, expect in ((WORKSPACE, "run"), ("ws_other", "refused")):
        clock = FakeClock()
        sandbox = new_sandbox(clock)
        async with connected(sandbox, clock) as client:
            answer = await client.call_tool(
                "start_technique_run", poster(f"slug {workspace}", technique_id=POSTER_SLUG, workspace_id=workspace)
            )
        nested = sandbox.requests["POST /techniques/{technique_id}/runs"]
        if expect == "run":
            run = sandbox.runs[-1] if sandbox.runs else None
            ok = not answer.is_error and run is not None and run.workspace_id == workspace and nested == 0
            ok = ok and sandbox.requests["POST /runs/technique"] == 1 and data(answer).get("technique_id") == POSTER
        else:
            ok = answer.is_error and not sandbox.runs and nested == 0
        where = "refused" if answer.is_error else f"run in {sandbox.runs[-1].workspace_id}"
        seen.append(f"{workspace}: {where}, nested route used {nested} times")
        failed += not ok
    return Row(
        "a slug with workspace_id → that workspace (tech_ id, top-level route) or refused", 2, failed, "; ".join(seen)
    )


async def run_booking_campaign() -> list[Row]:
    rows = [await identical_concurrent()]
    rows += await reused_keys()
    rows += [await unknown_quotes_under_cap(), await hostile_charges(), await huge_estimates()]
    rows += [await lost_answers(), await slug_with_workspace()]
    return rows
