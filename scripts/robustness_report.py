"""Run the robustness campaigns and write docs/ROBUSTNESS.md from what they measured.

    python -m scripts.robustness_report [--seed 0] [--starts 400] [--out docs/ROBUSTNESS.md]

Run it from the repository's root, as a module: the campaigns it runs are the test suite's
(`tests.robustness.*`), importable from there with no path set by hand.

Every figure in the page comes from this run: the money fault campaign
(tests/robustness/fault_campaign.py), the hostile-input campaign when it is present
(tests/robustness/hostile_campaign.py), the error an agent gets for each upstream fault, and the
memory a thousand failing calls leave behind. The prose around the figures says what they mean
and is the same every run. Never edit the page by hand: change this script and run it again.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from tests.robustness.booking_campaign import Row, run_booking_campaign
from tests.robustness.booking_wire import run_wire_campaign
from tests.robustness.catalog_campaign import MistakeRow, UnknownRow, run_mistakes, run_unknowns
from tests.robustness.edges import Edge
from tests.robustness.fault_campaign import (
    MAX_AGENT_CALLS,
    CampaignFigures,
    failing_calls_memory_growth,
    run_fault_campaign,
)
from tests.robustness.fault_support import (
    CLIENT_TIMEOUT,
    HTML_502,
    MAX_RETRIES,
    FakeClock,
    campaign_settings,
    connected,
    new_sandbox,
    text_of,
)
from tests.robustness.front_door_figures import front_door_figures, front_door_section
from tests.robustness.state_campaign import confirm_across, fleet_starts, restart_starts

from flora_mcp import __version__
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.server import create_server

ROOT = Path(__file__).resolve().parent.parent
HostileCampaign = Callable[..., Awaitable[dict[str, int]]]
IMAGE = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


def hostile_campaign() -> HostileCampaign | None:
    """The colleague campaign's entry point, when that module exists and offers it."""
    try:
        from tests.robustness import hostile_campaign as module
    except ImportError:
        return None
    run: HostileCampaign | None = getattr(module, "run_hostile_campaign", None)
    return run


# --- upstream faults: what the agent is told ---------------------------------------------------
UPSTREAM = [
    ("A proxy's 502 HTML page (3 attempts)", "list_workspaces", {}, [Fault.raw(502, HTML_502)] * 3),
    ("JSON cut off mid-answer", "list_workspaces", {}, [Fault.raw(200, b'{"workspaces": [{"wor', "application/json")]),
    ("A body that is not JSON", "list_workspaces", {}, [Fault.raw(200, b"upstream says hi", "text/plain")]),
    ("A 9 MiB answer (limit 8 MiB)", "list_workspaces", {}, [Fault.raw(200, b" " * (9 << 20), "application/json")]),
    ("No answer within the timeout (3 attempts)", "list_workspaces", {}, [Fault.slow(CLIENT_TIMEOUT * 4)] * 3),
    ("Dropped connections (3 attempts)", "list_workspaces", {}, [Fault.dropped()] * 3),
    ("429 with Retry-After: 20 (3 attempts)", "list_workspaces", {}, [Fault.rate_limited(20)] * 3),
    (
        "A start whose answer is lost, then 503s",
        "start_generation_run",
        IMAGE,
        [Fault.dropped_after_create(), Fault.status_(503), Fault.status_(503)],
    ),
]


async def upstream_errors() -> list[tuple[str, str, str]]:
    """(fault, first line of the error, its outcome and next-step lines) for each upstream fault."""
    rows = []
    for name, tool, arguments, faults in UPSTREAM:
        clock = FakeClock()
        sandbox = new_sandbox(clock)
        route = "POST /runs/generation" if tool == "start_generation_run" else "GET /workspaces"
        for fault in faults:
            sandbox.faults.push(route, fault)
        async with connected(sandbox, clock) as client:
            text = text_of(await client.call_tool(tool, arguments))
            served = not (await client.call_tool("list_workspaces", {})).is_error
        lines = text.splitlines()
        advice = [line for line in lines if line.startswith(("Start outcome", "Next step"))]
        rows.append((name, lines[0], " ".join(advice) + ("" if served else " (SERVER STOPPED SERVING)")))
    rows.append(await _refused_connection())
    rows.append(await _endless_run())
    return rows


async def _refused_connection() -> tuple[str, str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there any more: every connection is refused.
    clock = FakeClock()
    settings = campaign_settings(base_url=f"http://127.0.0.1:{port}/api/v1", api_key="sk-report-0000")
    async with httpx2.AsyncClient(trust_env=False) as http:
        server = create_server(settings, http_client=http, sleep=clock.sleep, clock=clock.time)
        async with Client(server) as client:
            lines = text_of(await client.call_tool("start_generation_run", IMAGE)).splitlines()
    advice = " ".join(line for line in lines if line.startswith(("Start outcome", "Next step")))
    return ("A refused connection (closed port), on a start", lines[0], advice)


async def _endless_run() -> tuple[str, str, str]:
    # The sandbox's clock never moves, so the run never gets past pending; the server's does.
    frozen, clock = FakeClock(), FakeClock()
    sandbox = Sandbox(SandboxConfig(time_scale=1), clock=frozen.time)
    async with connected(sandbox, clock) as client:
        started = await client.call_tool("start_generation_run", {**IMAGE, "type": "video"})
        run_id = (started.structured_content or {})["run_id"]
        wait = await client.call_tool("wait_for_run", {"run_id": run_id, "timeout_seconds": 30})
    lines = text_of(wait).splitlines()
    return ("A run that never finishes (wait_for_run, 30 s budget)", lines[0], lines[-1])


# --- the page ------------------------------------------------------------------------------------
def table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


FAULT_NAMES = {
    "dropped_after_create": "answer lost after the run was created (connection dropped)",
    "server_error_5xx": "5xx with FLORA's error envelope (500, 503, 504)",
    "bad_gateway_html": "502 HTML page from a proxy",
    "rate_limited_429": "429 rate_limited with Retry-After (1, 2 or 7 s)",
    "timeout": f"no answer within the client timeout ({CLIENT_TIMEOUT:g} s)",
    "dropped": "connection dropped before anything happened",
}


def money_section(f: CampaignFigures) -> list[str]:
    by_kind = f.starts_by_kind
    reported = f.reported
    out = [
        "## Money: nothing charged twice, nothing lost",
        "",
        f"{f.logical_starts} logical starts went through the MCP tools (in-memory `mcp.Client` against "
        "`create_server` on the sandbox): "
        f"{by_kind['generation']} with `start_generation_run`, {by_kind['technique_top_level']} with "
        f"`start_technique_run` on `POST /runs/technique` and {by_kind['technique_nested']} on "
        "`POST /techniques/{id}/runs`. Before each, 0 to 4 faults were queued on its route at random "
        f"(`random.Random({f.seed})`); {f.invalid_starts} of the starts were invalid on purpose. "
        "flora-mcp's client made "
        f"up to {1 + MAX_RETRIES} attempts per tool call (timeout {CLIENT_TIMEOUT:g} s, virtual time: no "
        f"real waiting). The agent called each start up to {MAX_AGENT_CALLS} times, half of the starts "
        "with its own idempotency key, and after an error did what the error's `Next step` said: call "
        "again with the `idempotency_key=` it names, or stop.",
        "",
        *table(
            [(FAULT_NAMES[k], f.faults_injected[k]) for k in FAULT_NAMES]
            + [("**faults injected**", f"**{sum(f.faults_injected.values())}**")],
            ("fault", "injected"),
        ),
        "",
        *table(
            [
                ("logical starts", f.logical_starts),
                ("MCP tool calls", f.tool_calls),
                ("HTTP start attempts received by the sandbox", f.http_start_attempts),
                (
                    'errors that said "Start outcome: unknown" (then settled by a retry with the key)',
                    f.outcome_unknown_reports,
                ),
                ("reported started", reported["started"]),
                ("reported recovered (answer lost, the server found the run and its id)", reported["recovered"]),
                ("reported accepted_earlier (answer lost, run not identified yet)", reported["accepted_earlier"]),
                ("reported failed (FLORA refused an invalid start)", reported["failed"]),
                ("left unresolved by the agent", reported["unresolved"]),
                ("runs created in the sandbox", f.runs_created),
                ("**runs lost** (reported started or accepted, no run)", f"**{f.runs_lost}**"),
                ("**double charges** (runs beyond one per logical start)", f"**{f.double_charges}**"),
                ("**runs for starts reported failed**", f"**{f.charged_but_reported_failed}**"),
                ("run ids reported that were not the run created", f.run_id_mismatches),
            ],
            ("figure", "value"),
        ),
        "",
        "**The same starts with the same faults, sent by a naive client** (the official SDKs' retry "
        "rule: the same POST retried on connection errors, timeouts, 408, 409, 429 and 5xx, without "
        "an idempotency key; its agent re-sends after an error):",
        "",
        *table(
            [
                ("runs created", f.naive_runs_created, f.runs_created),
                ("double charges (extra runs)", f.naive_double_charges, f.double_charges),
                ("logical starts charged more than once", f.naive_starts_double_charged, 0),
                ("USD charged for extra runs", f"{f.naive_extra_usd:.2f}", "0.00"),
            ],
            ("figure", "naive client", "flora-mcp"),
        ),
        "",
    ]
    return out


GUARD_SECTION = """\
## The money guard: cap, confirmation, read-only

- **Spend cap** (`FLORA_MAX_SPEND_USD`, `--max-spend-usd`; default none), per caller (a keyed
  fingerprint of the API key a request uses) over the budget window (`FLORA_SPEND_WINDOW`, default
  24h), in the state store (`FLORA_STATE_URL`) that every process on it shares. One record per
  idempotency key: FLORA's `charged_cost` from the start answer, replaced by a later read of the run
  (FLORA's charges settle late), else the quote known before sending. Charges count only as finite
  numbers >= 0 (true/false is no amount), and a read never lowers the quote while a run is
  unfinished, nor, with a charge of 0, within the settle window (1 h from the start) after it ended:
  FLORA bills late, and a 0 then is no news. Free starts (quoted 0, charged 0) stay free. A
  start is refused, before anything is sent, when spent + unknown-outcome quotes + starts in flight
  reach the cap, or when its known quote would pass it. The error states spent, cap, and that only
  the user can raise it. A retry with a key already booked is never refused (FLORA cannot charge it
  twice). The check and the booking are one atomic step in the store, so concurrent starts cannot
  slip past the cap together. A start whose cost cannot be known (the lookup failed, no quote
  listed) is not refused for that, but only one such start may be open at a time: until FLORA
  reports its charge, another start of unknown cost is refused (naming the run to read), so the cap
  can be passed by at most one start.
- **Quotes.** A technique's `run_cost` (`GET /techniques/{id}`, USD) and a model's
  `estimated_credits` (`GET /models?type=`), looked up only when a cap or a confirmation
  threshold is set, through the same per-caller catalog cache the param checks use (five
  minutes). Credits are not USD: they become a USD estimate through `FLORA_USD_PER_CREDIT`
  (default 0.001, FLORA's guidance measured 1 credit as about 0.001 USD), labelled "an
  estimate" wherever shown; the cap and the threshold compare USD with USD. A generation without
  `model` runs FLORA's default for its type, which the API does not name: once a start answer has
  named it (or the listing marks one, or the type has one model) its estimate is used, else the
  most expensive model of the type (an upper bound; the refusal says that an explicit model gives
  an exact quote). Params can change the real cost; the quote is the model's estimate.
  `estimated_credits: 0` is an unknown quote, labelled so: FLORA's own guidance found paid
  gateway models listing 0 credits.
- **Your spend.** `get_spend` (read-only, idempotent, no FLORA call) reports spent,
  unknown-outcome and remaining USD in the window, the cap, the threshold, and the caller's own
  starts (run ids, outcome, cost); over HTTP a caller sees only starts made with its own key, never
  another's totals. Every start result also ends with a `Your spend ...` line and carries
  `spent_usd` and `spend_cap_usd`.
- **Confirmation** (`FLORA_CONFIRM_ABOVE_USD`, `--confirm-above-usd`; default none). A start whose
  known quote is above the threshold asks the user with a form (MCP elicitation: an
  `InputRequiredResult` in the 2026-07-28 protocol, `elicitation/create` before it). Declined or
  cancelled: a tool error says so, nothing is sent or charged. A client that cannot ask (no
  elicitation capability, or a stateless HTTP connection with no way to send the question) gets
  a refusal that says why, not a silent start: the threshold is the user's "ask me first", and
  going ahead unasked would spend money nobody approved. A start of unknown cost is asked about
  too (it may be above the threshold), with its quote labelled unknown.
- **Read-only** (`--read-only`, `FLORA_READ_ONLY=true`): the start tools are not in `tools/list`
  at all, the instructions say starts are disabled, and a call to a start tool answers that the
  operator disabled starts and what still works (not "Unknown tool").
"""


EDGE_AREAS = ("money", "stdio", "outputs", "http", "text")


async def edge_figures(work: Path) -> list[Edge]:
    """Every area's findings of the attack campaign (issue 19), tried again on this code."""
    import importlib

    edges: list[Edge] = []
    for area in EDGE_AREAS:
        module = importlib.import_module(f"tests.robustness.edges_{area}")
        folder = work / area
        folder.mkdir(parents=True, exist_ok=True)
        edges += await module.edge_figures(folder)
    return edges


def edges_section(edges: list[Edge]) -> list[str]:
    held = sum(e.holds or e.tried == 0 for e in edges)
    lines = [
        "## The edges: an attack campaign's findings, tried again",
        "",
        "An attack campaign on the previous round's code, as an attacker and as an unlucky user would, "
        "found the cases below (FLORA was the sandbox behind a wrapper that rewrites its answers). Each is "
        "fixed at its mechanism and tried again here, by `tests/robustness/edges_*.py`, which the tests in "
        "`tests/robustness/test_edges_*.py` assert on: in memory (virtual time) or against real server "
        "processes, real SQLite files and PostgreSQL, real sockets. The rule behind all of them: no "
        "failure, crash or advice of ours may start a run twice, lose a run id, let the cap count less "
        "than was spent, or let one client's behaviour take the server's memory or time.",
        "",
        f"Findings: {len(edges)}, holding now: {held}.",
        "",
    ]
    return (
        lines
        + table(
            [(e.area, e.finding, e.target, e.tried, e.failed, e.measured) for e in edges],
            ("area", "finding", "target", "tried", "failed", "measured after the fix"),
        )
        + [""]
    )


def replace_section(page: str, section: list[str]) -> str:
    """`page` with the section that starts like `section` replaced (or put first when it has none)."""
    header = section[0]
    lines = page.split("\n")
    if header in lines:
        start = lines.index(header)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        start = end = next(i for i, line in enumerate(lines) if line.startswith("## "))
    return "\n".join([*lines[:start], *section, *lines[end:]]).rstrip() + "\n"


def booking_section(rows: list[Row]) -> list[str]:
    tried, failed = sum(r.tried for r in rows), sum(r.failed for r in rows)
    return [
        "## One owner for every paid start: re-sent calls, reused keys, unknown quotes, lost answers",
        "",
        "Each promise below was tried through the real server by `tests/robustness/booking_campaign.py` "
        "and `booking_wire.py`: in memory (`mcp.Client` against `create_server`, on the sandbox or on a "
        "scripted FLORA whose starts cost 0.25 USD each, virtual time), or over the wire (flora-mcp as a "
        "subprocess serving Streamable HTTP or stdio, or its HTTP app on a loopback socket with two API "
        "keys; real time). A case "
        "fails when FLORA made (or billed) more than the promise allows, or the answer lacks what the "
        "agent needs. A start without an idempotency key gets one derived from the caller, the tool and "
        "the canonical arguments, so the same call re-sent within `FLORA_REPEAT_WINDOW_SECONDS` "
        "(default 600) answers the run already started (outcome `repeat`); `repeat: true` or a new key "
        "starts another on purpose.",
        "",
        f"Promises: {len(rows)}, cases tried: {tried}, failed: {failed}.",
        "",
        *table([(r.promise, r.tried, r.failed, r.measured) for r in rows], ("promise", "tried", "failed", "measured")),
        "",
    ]


def upstream_section(rows: list[tuple[str, str, str]], growth: int) -> list[str]:
    return [
        "## Faults upstream: what the agent is told",
        "",
        "Each fault below was played against a fresh server (the first line of the tool's answer, and "
        "its advice, are quoted as the server wrote them). After each, the next `list_workspaces` call "
        "succeeded: the server kept serving.",
        "",
        *table(rows, ("fault", "the agent reads", "outcome and next step")),
        "",
        f"**Memory:** 1,000 failing calls (every fault above in turn, half reads, half one start retried "
        f"with its key), measured with tracemalloc after a warm-up, left **{growth / 1024:.1f} KiB** "
        "allocated (the interpreter's own caches left out): nothing is kept per call. Bodies are read "
        "with a cap (8 MiB) and refused when they declare more; an endless answer is cut off at the cap.",
        "",
    ]


def catalog_section(mistakes: list[MistakeRow], unknowns: list[UnknownRow]) -> list[str]:
    def reached(value: int | None) -> str:
        return "not expressible" if value is None else str(value)

    tried = sum(r.sandbox_reached is not None for r in mistakes) + len(mistakes)
    reached_total = sum(r.sandbox_reached or 0 for r in mistakes) + sum(r.scripted_reached for r in mistakes)
    refused = sum(r.refused for r in mistakes)
    failed = sum(r.failed or r.problem is not None for r in unknowns)
    mistake_rows = [
        (r.name, reached(r.sandbox_reached), r.scripted_reached, "yes" if r.refused else "NO") for r in mistakes
    ]
    unknown_rows = [(r.name, "failed" if r.failed else "read", r.problem or "as expected") for r in unknowns]
    return [
        "## Catalog checks: never bill for a mistake, never choke on a new value",
        "",
        "FLORA runs a param value it does not check at the model's default, and bills it. Before a start",
        "is sent, its params are checked against the model's published params (`GET /models`: names,",
        "types, `options`, `min`/`max`, `required`) and a technique's inputs against `GET /techniques/{id}`",
        "(ids, required, types, `allow_multiple`), from a per-caller cache that list_models and",
        "get_technique also fill. A param type this server does not know passes unchecked. When the",
        "catalog cannot be read the start goes as given and says so, or is refused under",
        "`FLORA_STRICT_PARAMS=1`. From `tests/robustness/catalog_campaign.py` (`run_mistakes`), through a",
        "real MCP client after the agent read the catalog (list_models, get_technique), against the sandbox",
        "and a scripted upstream that is not the sandbox; the last columns count every request that reached",
        "FLORA during the refused call:",
        "",
        f"Billable mistakes: {tried} cases tried, {refused} of {len(mistakes)} refused on every upstream, "
        f"requests that reached FLORA: {reached_total}.",
        "",
        *table(mistake_rows, ("mistake", "sandbox: requests", "scripted: requests", "refused")),
        "",
        "FLORA adds enum values over time. Answers keep statuses, output types, run types, model types and",
        "action ids they do not know as strings, take nulls in documented fields, and skip one malformed",
        "list item with a note instead of failing the page. Only a status known to be terminal ends a wait.",
        "An output URL that is not a valid absolute http(s) URI is never a link and is quoted on one line.",
        "From `run_unknowns`, each case played by the scripted upstream:",
        "",
        f"Unknown values: {len(unknowns)} cases tried, reads failed: {failed}.",
        "",
        *table(unknown_rows, ("value", "read", "what the agent saw")),
        "",
    ]


def hostile_section(figures: dict[str, int] | None) -> list[str]:
    if figures is None:
        return ["## Hostile input", "", "(The hostile-input campaign was not available in this checkout.)", ""]
    return [
        "## Hostile input",
        "",
        "From `tests/robustness/hostile_campaign.py` (`run_hostile_campaign`):",
        "",
        *table(sorted(figures.items()), ("figure", "value")),
        "",
    ]


STATE_HEADER = "## State across restarts and replicas"


async def state_figures(work: Path) -> list[tuple[str, str, str, str]]:
    """(scenario, store, tried, outcome) rows: a fleet, a confirmation across processes, restarts.

    The `memory` rows are the control: each process keeps its own ledger, as before the state store.
    """
    from tests.postgres_server import start_postgres

    rows: list[tuple[str, str, str, str]] = []
    stores: list[tuple[str, Callable[[], str]]] = [
        ("SQLite file", lambda: f"sqlite:///{work}/fleet-{len(rows)}.db"),
        ("memory (control)", lambda: "memory"),
    ]
    try:
        postgres = start_postgres()
        server = postgres.__enter__()
        stores.insert(1, ("PostgreSQL", server.new_database))
    except BaseException as exc:  # pytest's skip outside pytest: PostgreSQL is not here
        postgres = None
        rows.append(("2 processes, 40 parallel starts", "PostgreSQL", "not measured", str(exc)[:120]))
    try:
        for name, url in stores:
            fleet = await fleet_starts(url())
            rows.append((
                "2 processes, 40 parallel starts, cap 1.00, 0.25 each", name, "40",
                f"{fleet.accepted} accepted, {fleet.refused} refused, {fleet.upstream} runs upstream",
            ))  # fmt: skip
        # No memory control here: with a store per process the other process cannot open the
        # request state ("Invalid or expired requestState"), and the run that measured it hung in
        # the client's teardown afterwards.
        for name, url in stores[:-1]:
            try:
                confirm = await confirm_across(url())
            except Exception as exc:  # the control: the other process cannot open the request state
                rows.append(("confirmation, 2nd round on the other process", name, "2 rounds", f"failed: {exc}"))
                continue
            routed = " then ".join(f"process {i + 1}" for i in confirm.routed_to)
            outcome = "started" if confirm.succeeded else "failed: " + confirm.said[:80]
            rows.append(("confirmation, 2nd round on the other process", name, routed, outcome))
        restart_stores = (("SQLite file", f"sqlite:///{work}/restarts.db"), ("memory (control)", "memory"))
        for name, restart_url in restart_stores:
            outcomes, runs = await restart_starts(restart_url)
            rows.append((
                "stdio restarted 3 times, 2 starts per process, cap 1.00", name, str(len(outcomes)),
                f"{sum(outcomes)} accepted, {runs} runs upstream",
            ))  # fmt: skip
    finally:
        if postgres is not None:
            postgres.__exit__(None, None, None)
    return rows


def state_section(rows: list[tuple[str, str, str, str]]) -> list[str]:
    return [
        STATE_HEADER,
        "",
        "Every start is booked in the state store before it is sent, atomically per caller (SQLite",
        "`BEGIN IMMEDIATE`, PostgreSQL a per-caller advisory lock), so the cap holds across restarts and",
        "across replicas, and the confirmation flow's request-state key is kept in the store, so any process",
        "on it can answer the second round. Real `python -m flora_mcp` processes against a sandbox on a",
        "loopback port, from `tests/robustness/state_campaign.py` (asserted in `test_state_fleet.py`); the",
        "`memory` rows are the control, one ledger per process as before the store:",
        "",
        *table(rows, ("scenario", "store", "tried", "outcome")),
        "",
    ]


async def build(seed: int, starts: int) -> str:
    began = time.perf_counter()
    money = await run_fault_campaign(seed=seed, starts=starts)
    booking = await run_booking_campaign() + await run_wire_campaign()
    rows = await upstream_errors()
    growth = await failing_calls_memory_growth(1000)
    mistakes, unknowns = await run_mistakes(), await run_unknowns()
    run_hostile = hostile_campaign()
    hostile = await run_hostile(seed=seed) if run_hostile is not None else None
    door = await front_door_figures(seed=seed)
    edges = await edge_figures(Path(tempfile.mkdtemp(prefix="flora-edges-report-")))
    seconds = time.perf_counter() - began
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = f"python -m scripts.robustness_report --seed {seed} --starts {starts}"
    head = [
        "# Robustness: money, faults, hostile input and the front door",
        "",
        "<!-- Generated by `python -m scripts.robustness_report`: do not edit; run it again. -->",
        "",
        f"Generated {today} by `{command}` (flora-mcp {__version__}, Python {platform.python_version()}, "
        f"seed {seed}, {seconds:.1f} s). The same campaigns run in `tests/robustness/` on every test run.",
        "",
    ]
    sections = [
        head,
        edges_section(edges),
        money_section(money),
        booking_section(booking),
        [GUARD_SECTION],
        catalog_section(mistakes, unknowns),
        upstream_section(rows, growth),
        hostile_section(hostile),
        front_door_section(door),
        state_section(await state_figures(Path(tempfile.mkdtemp(prefix="flora-state-report-")))),
    ]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the campaigns (default 0)")
    parser.add_argument("--starts", type=int, default=400, help="logical starts in the money campaign (default 400)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ROBUSTNESS.md", help="page to write")
    parser.add_argument(
        "--only-state", action="store_true", help=f"measure only '{STATE_HEADER[3:]}' and replace that section"
    )
    parser.add_argument(
        "--only-edges", action="store_true", help="measure only the attack campaign's findings and replace that section"
    )
    args = parser.parse_args(argv)
    # Servers built without a sandbox default to the SQLite store in the user's state directory:
    # the campaigns must neither read nor add to the person's real journal and budget.
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="flora-report-state-")
    if args.only_state:
        logging.getLogger("flora_mcp").setLevel(logging.CRITICAL)
        rows = anyio.run(state_figures, Path(tempfile.mkdtemp(prefix="flora-state-report-")))
        page = args.out.read_text().split("\n" + STATE_HEADER + "\n")[0].rstrip() + "\n\n"
        args.out.write_text(page + "\n".join(state_section(rows)).rstrip() + "\n")
        sys.stderr.write(f"wrote the state section of {args.out}\n")
        return
    if args.only_edges:
        logging.getLogger("flora_mcp").setLevel(logging.CRITICAL)
        logging.getLogger("uvicorn.error").disabled = True
        edges = anyio.run(edge_figures, Path(tempfile.mkdtemp(prefix="flora-edges-report-")))
        args.out.write_text(replace_section(args.out.read_text(), edges_section(edges)))
        sys.stderr.write(f"wrote the edges section of {args.out}\n")
        return
    # The campaigns fail thousands of calls on purpose; their log lines are noise here.
    logging.getLogger("flora_mcp").setLevel(logging.CRITICAL)
    # The bounded-wait case leaves a 20 s read that the sandbox cuts short at shutdown, on purpose.
    # (Each uvicorn server sets this logger's level when it starts, so it is disabled instead.)
    logging.getLogger("uvicorn.error").disabled = True
    page = anyio.run(build, args.seed, args.starts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page)
    sys.stderr.write(f"wrote {args.out}\n")


if __name__ == "__main__":
    main()
