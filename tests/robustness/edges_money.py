"""Issue 19's money findings, tried again: the cap, the advice, a dead sender, a failing store.

Each case runs flora-mcp for real: in memory (`mcp.Client` against `create_server`, virtual
time) on the sandbox behind `Rewriting`, a transport that rewrites FLORA's answers the way the
attack campaign did (a charge of 0 once a run ends, `runId` for `run_id`, camelCase fields, a
0-credit catalog), or as real processes on one SQLite file or PostgreSQL database, one of
them killed with SIGKILL while FLORA holds its start's answer.

`edge_figures` measures them all; test_edges_money.py asserts on the same figures.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp_types import CallToolResult
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.config import Settings
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.sandbox.server import serving_app
from flora_mcp.server import create_server
from flora_mcp.state import Store, open_store

from .edges import Edge
from .fault_support import MAX_RETRIES, FakeClock, TimeoutTransport, campaign_settings, new_sandbox, text_of
from .hostile_support import child_env, decode_answer, mcp_process, rpc, tool_call

IMAGE_MODEL = "t2i-sandbox-image"  # 0.04 USD a run (40 credits)
IMAGE: dict[str, Any] = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image"}
GENERATE = "POST /runs/generation"
NESTED = "POST /techniques/{technique_id}/runs"
KEY_IN_ADVICE = re.compile(r"idempotency_key=([A-Za-z0-9._:-]+)")

Rewrite = Callable[[httpx2.Request, Any], Any]


class Rewriting(httpx2.AsyncBaseTransport):
    """FLORA behind a wrapper: answers rewritten, requests failed or held, every request recorded."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner
        self.rewrites: list[tuple[str, re.Pattern[str], Rewrite]] = []
        self.failing: Callable[[httpx2.Request], bool] = lambda request: False
        self.on_send: Callable[[httpx2.Request], None] = lambda request: None
        self.sent: list[httpx2.Request] = []

    def rewrite(self, method: str, path: str, change: Rewrite) -> None:
        self.rewrites.append((method, re.compile(path), change))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(request)
        if self.failing(request):
            body = {"error": {"code": "unknown_error", "message": "Upstream failed."}}
            return httpx2.Response(503, json=body, request=request)
        self.on_send(request)
        response = await self._inner.handle_async_request(request)
        changes = [c for m, p, c in self.rewrites if m == request.method and p.search(request.url.path)]
        if not changes or response.status_code >= 300:
            return response
        body = json.loads(await response.aread())
        for change in changes:
            body = change(request, body)
        headers = [
            (k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx2.Response(response.status_code, headers=headers, json=body, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def prompt_of(request: httpx2.Request) -> str:
    try:
        return str(json.loads(request.content or b"{}").get("prompt", ""))
    except ValueError:
        return ""


def charge_zero(_: httpx2.Request, body: Any) -> Any:
    return {**body, "charged_cost": 0} if isinstance(body, dict) else body


def zero_credits(_: httpx2.Request, body: Any) -> Any:
    return {**body, "models": [{**m, "estimated_credits": 0} for m in body.get("models", [])]}


@dataclass
class World:
    client: Client
    sandbox: Sandbox
    upstream: Rewriting
    clock: FakeClock


@asynccontextmanager
async def world(settings: Settings, *, store: Store | None = None, **client_options: Any) -> AsyncIterator[World]:
    """flora-mcp in memory on the sandbox behind `Rewriting`, on a virtual clock."""
    clock = FakeClock()
    sandbox = new_sandbox(clock)
    upstream = Rewriting(TimeoutTransport(sandbox.transport()))
    async with httpx2.AsyncClient(transport=upstream) as http:
        server = create_server(
            settings, http_client=http, sandbox=sandbox, store=store, sleep=clock.sleep, clock=clock.time,
            wall_clock=clock.time,
        )  # fmt: skip
        async with Client(server, **client_options) as client:
            yield World(client, sandbox, upstream, clock)


def runs_made(sandbox: Sandbox) -> int:
    return len(sandbox.state.runs)


def structured(result: CallToolResult) -> dict[str, Any]:
    return dict(result.structured_content or {})


# --- the cap and charges of 0 ------------------------------------------------------------------
async def zero_charges_cap(*, unknown_quote: bool, starts: int = 25) -> tuple[int, float]:
    """Cap 0.20 USD, 0.04 a run, every finished run reads charged_cost 0: (starts accepted, USD billed)."""
    async with world(campaign_settings(max_spend_usd=0.20)) as w:
        w.upstream.rewrite("GET", r"/runs/run_", charge_zero)
        if unknown_quote:  # the catalog lists 0 credits and the start answer no quote either
            w.upstream.rewrite("GET", r"/models$", zero_credits)
            w.upstream.rewrite("POST", r"/runs/generation$", charge_zero)
        accepted = 0
        for n in range(starts):
            started = await w.client.call_tool(
                "start_generation_run", {**IMAGE, "model": IMAGE_MODEL, "prompt": f"a fox, take {n}"}
            )
            if started.is_error:
                continue
            accepted += 1
            await w.client.call_tool("wait_for_run", {"run_id": structured(started)["run_id"]})
        return accepted, round(accepted * 0.04, 2)


async def boolean_charge() -> float:
    """Three runs whose reads say charged_cost: true; returns the spend get_spend reports."""
    async with world(campaign_settings()) as w:
        w.upstream.rewrite("GET", r"/runs/run_", lambda _, body: {**body, "charged_cost": True})
        for n in range(3):
            started = await w.client.call_tool(
                "start_generation_run", {**IMAGE, "model": IMAGE_MODEL, "prompt": f"an owl {n}"}
            )
            await w.client.call_tool("wait_for_run", {"run_id": structured(started)["run_id"]})
        return float(structured(await w.client.call_tool("get_spend", {}))["spent_usd"])


# --- batches --------------------------------------------------------------------------------------
def batch(size: int, word: str) -> dict[str, Any]:
    return {
        **IMAGE,
        "model": IMAGE_MODEL,
        "items": [{"prompt": f"{word} pose {n}"} for n in range(size)],
    }


async def failed_item_advice_followed(size: int = 20) -> tuple[int, str]:
    """One item's start fails (503 on every attempt); the agent re-sends as the item's reason says.

    Returns (runs FLORA made, the advice followed).
    """
    async with world(campaign_settings()) as w:
        attempts = {"left": MAX_RETRIES + 1}

        def failing(request: httpx2.Request) -> bool:
            if request.method == "POST" and prompt_of(request) == "dancer pose 7" and attempts["left"] > 0:
                attempts["left"] -= 1
                return True
            return False

        w.upstream.failing = failing
        arguments = batch(size, "dancer")
        first = structured(await w.client.call_tool("start_generation_runs", arguments))
        reason = next(item["reason"] for item in first["items"] if item["outcome"] == "failed")
        advised = KEY_IN_ADVICE.findall(reason)
        assert advised, reason
        again = await w.client.call_tool("start_generation_runs", {**arguments, "idempotency_key": advised[-1]})
        assert not again.is_error, text_of(again)
        return runs_made(w.sandbox), f"idempotency_key={advised[-1]}"


async def lost_batch_answers(size: int = 20) -> tuple[int, int]:
    """Every item's first answer is lost after FLORA made the run: (items answered with their own run, runs made)."""
    async with world(campaign_settings()) as w:
        w.sandbox.faults.push(GENERATE, Fault.dropped_after_create(), times=size)
        answer = structured(await w.client.call_tool("start_generation_runs", batch(size, "heron")))
        own = 0
        for item in answer["items"]:
            run = w.sandbox.state.by_id.get(item.get("run_id") or "")
            own += run is not None and run.prompt == f"heron pose {item['index']}"
        return own, runs_made(w.sandbox)


# --- FLORA's spellings and quotes ---------------------------------------------------------------
def renamed(name: str) -> Rewrite:
    def change(_: httpx2.Request, body: Any) -> Any:
        body = dict(body)
        body[name] = body.pop("run_id")
        return body

    return change


def camel_case(_: httpx2.Request, body: Any) -> Any:
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in body.items()}


async def run_id_spelled(name: str) -> bool:
    """A start answer naming its run as `name`: the start reports that run as started."""
    async with world(campaign_settings()) as w:
        w.upstream.rewrite("POST", r"/runs/generation$", renamed(name))
        answer = structured(await w.client.call_tool("start_generation_run", {**IMAGE, "prompt": "a lark"}))
        return answer.get("outcome") == "started" and answer.get("run_id") in w.sandbox.state.by_id


async def camel_case_failure_read() -> bool:
    """A failed run read back in camelCase: its error code and message reach the agent."""
    async with world(campaign_settings()) as w:
        w.upstream.rewrite("GET", r"/runs/run_", camel_case)
        started = structured(await w.client.call_tool("start_generation_run", {**IMAGE, "prompt": "[fail] a wren"}))
        read = await w.client.call_tool("get_run", {"run_id": started["run_id"]})
        return structured(read).get("error_code") == "provider_error" and "provider_error" in text_of(read)


async def zero_credit_quote() -> tuple[bool, bool]:
    """A model listing 0 credits: (asked about under a 1 USD threshold, the cap held a second such start)."""
    async with world(campaign_settings(confirm_above_usd=1.0)) as w:
        w.upstream.rewrite("GET", r"/models$", zero_credits)
        asked = await w.client.call_tool("start_generation_run", {**IMAGE, "model": IMAGE_MODEL, "prompt": "a lynx"})
        refused_for_threshold = asked.is_error and "confirmation threshold" in text_of(asked)
    async with world(campaign_settings(max_spend_usd=1.0)) as w:
        w.upstream.rewrite("GET", r"/models$", zero_credits)
        w.upstream.rewrite("POST", r"/runs/generation$", charge_zero)
        args = {**IMAGE, "model": IMAGE_MODEL}
        await w.client.call_tool("start_generation_run", {**args, "prompt": "a lynx"})
        second = await w.client.call_tool("start_generation_run", {**args, "prompt": "a lynx, again"})
        held = second.is_error and "unknown cost" in text_of(second)
    return refused_for_threshold, held


async def slug_start_recovered() -> tuple[bool, list[str]]:
    """A slug start on the nested route whose every answer is lost: (recovered, technique_id filters listed)."""
    async with world(campaign_settings()) as w:
        w.sandbox.faults.push(NESTED, Fault.dropped_after_create(), times=MAX_RETRIES + 1)
        answer = await w.client.call_tool(
            "start_technique_run",
            {"technique_id": "poster-maker", "inputs": [{"id": "subject", "type": "text", "value": "a kite"}]},
        )
        filters = [
            r.url.params.get("technique_id", "") for r in w.upstream.sent if r.url.path.endswith("/technique-runs")
        ]
        return structured(answer).get("outcome") == "recovered", filters


async def nested_start_failing_at_once() -> str:
    """A nested technique start whose run fails at once: the answer's text."""
    async with world(campaign_settings()) as w:
        answer = await w.client.call_tool(
            "start_technique_run",
            {"technique_id": "poster-maker", "inputs": [{"id": "subject", "type": "text", "value": "[fail] a kite"}]},
        )
        return text_of(answer)


# --- the store failing after FLORA accepted -------------------------------------------------------
async def store_locked_after_accept(work: Path) -> tuple[str | None, str | None]:
    """SQLite locked by another connection once the start goes out: (run id answered, journal's run id later)."""
    from flora_mcp.state import sqlite as sqlite_store

    path = work / "locked.db"
    store = open_store(f"sqlite:///{path}")
    lock: list[sqlite3.Connection] = []

    def take_lock(request: httpx2.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/runs/generation") and not lock:
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            lock.append(holder)

    busy, sqlite_store.BUSY_TIMEOUT_MS = sqlite_store.BUSY_TIMEOUT_MS, 200  # fail fast instead of after 15 s
    try:
        async with world(campaign_settings(), store=store) as w:
            w.upstream.on_send = take_lock
            answer = structured(await w.client.call_tool("start_generation_run", {**IMAGE, "prompt": "a bison"}))
            for holder in lock:
                holder.execute("ROLLBACK")
                holder.close()
            await w.client.call_tool("get_spend", {})  # any later call writes what was kept
            found = structured(await w.client.call_tool("find_runs", {"text": "bison"}))
            journal = [r.get("run_id") for r in found.get("runs", [])]
            return answer.get("run_id"), journal[0] if journal else None
    finally:
        sqlite_store.BUSY_TIMEOUT_MS = busy


# --- a process killed between booking and FLORA's answer -------------------------------------------
class HoldingStarts:
    """The sandbox's app, holding the answer of a generation start (after the run is made) while armed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.armed = True
        self.made = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held = scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/runs/generation")
        if not (held and self.armed):
            await self.app(scope, receive, send)
            return
        self.armed = False
        kept: list[Any] = []

        async def keep(message: Any) -> None:
            kept.append(message)

        await self.app(scope, receive, keep)
        self.made.set()
        await self.release.wait()  # the answer never reaches the killed process
        for message in kept:
            await send(message)


async def unanswered(http: httpx2.AsyncClient, url: str, call: dict[str, Any]) -> None:
    with contextlib.suppress(httpx2.HTTPError):
        await rpc(http, url, "tools/call", call)


@dataclass
class KillFigures:
    rounds: int = 0
    second_runs: int = 0
    answered_with_the_run: int = 0
    slowest_resend_seconds: float = 0.0
    said: list[str] = field(default_factory=list)


async def killed_mid_start(store_url: Callable[[], str], rounds: int = 5) -> KillFigures:
    """kill -9 of a server while FLORA holds its start's answer; a new process, the same call re-sent."""
    figures = KillFigures()
    for n in range(rounds):
        sandbox = Sandbox(SandboxConfig(time_scale=0))
        holding = HoldingStarts(sandbox.app)
        call = tool_call("start_generation_run", {**IMAGE, "prompt": f"a stag, round {n}"})
        async with AsyncExitStack() as stack:
            origin = await stack.enter_async_context(serving_app(holding))
            env = child_env(
                FLORA_BASE_URL=sandbox.base_url(origin), FLORA_API_KEY="sk-sandbox", FLORA_STATE_URL=store_url(),
                FLORA_LEND_SERVER_KEY="true", FLORA_LOG_LEVEL="ERROR",
            )  # fmt: skip
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=120))
            async with mcp_process(env) as first, anyio.create_task_group() as tasks:
                # The process dies under this call: its agent sees no answer.
                tasks.start_soon(unanswered, http, first.url, call)
                with anyio.fail_after(30):
                    await holding.made.wait()
                first.process.kill()
                await first.process.wait()
            holding.release.set()
            async with mcp_process(env) as second:
                began = anyio.current_time()
                answer = decode_answer(await rpc(http, second.url, "tools/call", call))
                figures.slowest_resend_seconds = max(figures.slowest_resend_seconds, anyio.current_time() - began)
            result = answer.get("result", {})
            run_id = (result.get("structuredContent") or {}).get("run_id")
            made = [r.run_id for r in sandbox.state.runs]
            figures.rounds += 1
            figures.second_runs += max(0, len(made) - 1)
            figures.answered_with_the_run += run_id is not None and made == [run_id]
            if run_id is None:
                figures.said.append(" ".join(b.get("text", "") for b in result.get("content", []))[:300])
    return figures


# --- the figures ------------------------------------------------------------------------------------
def postgres_databases() -> tuple[Callable[[], str] | None, Callable[[], None], str]:
    """(a new database per call, a stop function, why not) for the kill rounds on PostgreSQL."""
    from tests.postgres_server import start_postgres

    try:
        manager = start_postgres()
        server = manager.__enter__()
    except BaseException as exc:  # pytest's skip outside pytest: PostgreSQL is not here
        return None, lambda: None, str(exc)[:120]
    return server.new_database, lambda: manager.__exit__(None, None, None), ""


async def edge_figures(work: Path, *, postgres: bool = True) -> list[Edge]:
    edges: list[Edge] = []

    def add(finding: str, target: str, tried: int, failed: int, measured: str) -> None:
        edges.append(Edge("money", finding, target, tried, failed, measured))

    known, _ = await zero_charges_cap(unknown_quote=False)
    unknown, _ = await zero_charges_cap(unknown_quote=True)
    add(
        "a finished run reading charged_cost 0 freed the cap (25 of 25 starts under 0.20 USD at 0.04)",
        "cap 0.20 at 0.04, zero charges read back: ≤ 5 starts (≤ 6 with one unknown)",
        2, int(known > 5) + int(unknown > 6),
        f"25 tried: {known} accepted at a known quote; {unknown} accepted with the catalog at 0 credits",
    )  # fmt: skip
    spent = await boolean_charge()
    add("charged_cost: true counted as 1 USD", "never money", 1, int(spent > 0.12 + 1e-9),
        f"3 runs read charged_cost true: get_spend {spent:g} USD (their quotes)")  # fmt: skip
    runs, advice = await failed_item_advice_followed()
    add("following a failed batch item's advice re-keyed every item (20 items, 1 failing: 39 runs)",
        "advice followed → 20 runs for 20 items", 1, int(runs != 20),
        f"{runs} runs for 20 items, after re-sending with {advice.split('=')[0]}=<the batch's key>")  # fmt: skip
    own, made = await lost_batch_answers()
    add("lost batch answers never got their run ids (4 of 20)", "20 of 20 items answered with their own run",
        20, 20 - own, f"{own} of 20 items with their own run id; {made} runs made")  # fmt: skip
    spellings = [await run_id_spelled("runId"), await run_id_spelled("id"), await camel_case_failure_read()]
    add("a start answering runId or id was an unknown outcome; camelCase reads lost fields",
        "run_id, runId and id read; camelCase fields on reads", 3, spellings.count(False),
        f"runId: {'started' if spellings[0] else 'lost'}; id: {'started' if spellings[1] else 'lost'}; "
        f"camelCase errorCode: {'shown' if spellings[2] else 'lost'}")  # fmt: skip
    asked, held = await zero_credit_quote()
    add("estimated_credits 0 became a 0.00 USD quote, skipping the threshold and the cap",
        "an unknown quote for both, labelled", 2, int(not asked) + int(not held),
        f"threshold 1 USD: {'asked (refused: no elicitation)' if asked else 'not asked'}; "
        f"cap: a 2nd 0-credit start {'held until the first is priced' if held else 'let through'}")  # fmt: skip
    recovered, filters = await slug_start_recovered()
    by_id = bool(filters) and all(f.startswith("tech_") for f in filters)
    add("recovery of a slug start filtered the run list by the slug", "filtered by the tech_ id", 1,
        int(not (recovered and by_id)), f"{'recovered' if recovered else 'not recovered'}, run list filtered by "
        f"{', '.join(sorted(set(filters))) or 'nothing'}")  # fmt: skip
    said = await nested_start_failing_at_once()
    shows = "provider_error" in said and "charge" in said
    add("a nested start failing at once showed no error_code or error_message", "FLORA's reason and the charge",
        1, int(not shows), "shown: " + ("error code, message and charge" if shows else "not all of them"))  # fmt: skip
    answered, journal = await store_locked_after_accept(work)
    add("the store failing after FLORA accepted told the agent 'bug, stop' with no run id",
        "the run id answered whatever the store does; the journal written later", 1,
        int(answered is None or journal != answered),
        f"SQLite locked from the send on: run id {'answered' if answered else 'lost'}, journal "
        f"{'written once unlocked' if journal == answered else 'not written'}")  # fmt: skip
    stores: list[tuple[str, Callable[[], str]]] = [
        ("SQLite", lambda: f"sqlite:///{work}/killed-{anyio.current_time()}.db")
    ]
    stop, why_not = (lambda: None), ""
    if postgres:
        new_database, stop, why_not = postgres_databases()
        if new_database is not None:
            stores.append(("PostgreSQL", new_database))
    try:
        for name, url in stores:
            kills = await killed_mid_start(url)
            add(f"kill -9 between booking and FLORA's answer ({name}): in flight forever, 45 s per re-send",
                "kill -9 mid-start x5 → 0 second runs", kills.rounds,
                kills.second_runs + kills.rounds - kills.answered_with_the_run,
                f"{kills.rounds} kills: {kills.second_runs} second runs, {kills.answered_with_the_run} re-sends "
                f"answered with the run, slowest {kills.slowest_resend_seconds:.1f} s")  # fmt: skip
    finally:
        stop()
    if why_not:
        add("kill -9 mid-start (PostgreSQL)", "not measured here", 0, 0, why_not)
    return edges
