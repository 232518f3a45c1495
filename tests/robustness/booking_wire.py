"""The booking campaign's wire cases: flora-mcp as a subprocess (Streamable HTTP, stdio) or its HTTP
app on a loopback socket, against a sandbox served on 127.0.0.1, in real time.

    rows = await run_wire_campaign()

Here the wire is what is tried: a client that gives up on a slow call and re-sends it, two API
keys on one server, a wait whose FLORA read hangs. Rows as in booking_campaign.py.
"""

from __future__ import annotations

import time

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.wire.transports import http_app

from .booking_campaign import Row, data, image, poster
from .fault_support import campaign_settings, text_of
from .hostile_support import RawStdio, child_env, decode_answer, mcp_process, rpc, serving, tool_call

ALICE, BOB = "sk-alice-0001", "sk-bob-0002"


# --- over HTTP -------------------------------------------------------------------------------------
def http_client(url: str, key: str) -> Client:
    return Client(
        streamable_http_client(url, http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}))
    )


async def callers_apart() -> list[Row]:
    """Over HTTP with two API keys: a key reused by another caller is a conflict that tells nothing,
    and get_spend and every record are the caller's own."""
    sandbox = Sandbox(SandboxConfig(time_scale=0, extra_api_keys=(ALICE, BOB)))
    server = create_server(campaign_settings(max_spend_usd=0.5), sandbox=sandbox)
    app = http_app(server, host="127.0.0.1", transport="streamable-http")
    async with (
        serving(app, lifespan=True) as origin,
        http_client(f"{origin}/mcp", ALICE) as alice,
        http_client(f"{origin}/mcp", BOB) as bob,
    ):
        first = await alice.call_tool(
            "start_technique_run", poster("alice's secret poster", idempotency_key="alice-key-0001")
        )
        alice_run = data(first).get("run_id") or "run_none"
        before = len(sandbox.runs)
        stolen = [
            await bob.call_tool(
                "start_technique_run", poster("alice's secret poster", idempotency_key="alice-key-0001")
            ),
            await bob.call_tool("start_technique_run", poster("bob's own", idempotency_key="alice-key-0001")),
            await bob.call_tool("start_generation_run", image("bob", idempotency_key="alice-key-0001")),
        ]
        new_runs = len(sandbox.runs) - before
        bobs_spend = await bob.call_tool("get_spend", {})
        bobs_read = await bob.call_tool("get_run", {"run_id": alice_run})
        own = await bob.call_tool("start_generation_run", image("bob's mug"))
        alices_spend = data(await alice.call_tool("get_spend", {}))
        bobs_after = data(await bob.call_tool("get_spend", {}))
    leaks = [t for t in (text_of(a) for a in stolen) if alice_run in t or "secret" in t]
    conflict_ok = (
        all(a.is_error and "Idempotency key conflict" in text_of(a) for a in stolen) and new_runs == 0 and not leaks
    )
    spend_texts = text_of(bobs_spend) + repr(bobs_spend.structured_content)
    scoped = (
        alice_run not in spend_texts
        and data(bobs_spend).get("spent_usd") == 0
        and [r["run_id"] for r in alices_spend.get("runs", [])] == [alice_run]
        and [r["run_id"] for r in bobs_after.get("runs", [])] == [data(own).get("run_id")]
        and "secret" not in text_of(bobs_read)
    )
    return [
        Row(
            "a key reused by another caller (HTTP, two API keys) → 0 new runs, a conflict telling nothing of the first",
            len(stolen),
            0 if conflict_ok else len(stolen),
            f"new runs: {new_runs}; answers naming the first's run or prompt: {len(leaks)}",
        ),
        Row(
            "each caller sees only its own runs over HTTP (get_spend, records)",
            3,
            0 if scoped else 1,
            f"Bob's spend before his start: {data(bobs_spend).get('spent_usd')} USD, runs listed "
            f"{len(data(bobs_spend).get('runs', []))}; after: {len(bobs_after.get('runs', []))} (his own)",
        ),
    ]


def _made(sandbox: Sandbox, tag: str) -> list[str]:
    return [run.run_id for run in sandbox.runs if tag in (run.prompt or "") + repr(run.inputs)]


def _served_env(base_url: str, **extra: str) -> dict[str, str]:
    # The re-sent calls bring no key: the operator lends the server's (--lend-server-key).
    return child_env(
        FLORA_BASE_URL=base_url,
        FLORA_API_KEY="sk-sandbox",
        FLORA_STATE_URL="memory",
        FLORA_LEND_SERVER_KEY="true",
        **extra,
    )


async def _resent_over_http(sandbox: Sandbox, url: str, tag: str, technique: bool, seen: list[str]) -> bool:
    """One start whose client gives up after 1 s and sends the very same tools/call again."""
    tool, arguments = ("start_technique_run", poster(tag)) if technique else ("start_generation_run", image(tag))
    async with httpx2.AsyncClient(timeout=1.0, trust_env=False) as impatient:
        try:
            await rpc(impatient, url, "tools/call", tool_call(tool, arguments))
            timed_out = False
        except httpx2.TimeoutException:
            timed_out = True
    async with httpx2.AsyncClient(timeout=60.0, trust_env=False) as patient:
        again = decode_answer(await rpc(patient, url, "tools/call", tool_call(tool, arguments)))
    answer = again.get("result", {}).get("structuredContent") or {}
    made = _made(sandbox, tag)
    seen.append(f"{len(made)} run, re-sent call answered {answer.get('outcome')}")
    return timed_out and made == [answer.get("run_id")]


async def resent_after_client_timeout() -> Row:
    """A client that gives up on a slow start and sends the same call again (no key) -> 1 run.

    Over HTTP (the client's read timeout, 1 s, while FLORA answers in 3 s; and the issue's case:
    FLORA slower than flora-mcp's own timeout, so flora-mcp retries while the client re-sends), and
    over stdio (the client cancels the call with notifications/cancelled and sends it again).
    """
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    failed, tried, seen = 0, 0, []
    async with sandbox.serving() as base_url, mcp_process(_served_env(base_url)) as server:
        for trial, technique in enumerate((False, True)):
            sandbox.faults.push("POST /runs/technique" if technique else "POST /runs/generation", Fault.slow(3))
            tried += 1
            failed += not await _resent_over_http(sandbox, server.url, f"resent {trial}", technique, seen)
    # Every attempt outlasts flora-mcp's 2 s timeout (3 attempts, about 7 s): flora-mcp gives up while
    # the client re-sends. A FLORA of its own: a server on another state store cannot tell the runs
    # made seconds ago by the cases above from this start's (FLORA's listings carry no prompt).
    retried = Sandbox(SandboxConfig(time_scale=0))
    async with (
        retried.serving() as base_url,
        mcp_process(_served_env(base_url, FLORA_TIMEOUT="2", FLORA_MAX_RETRIES="2")) as server,
    ):
        for _ in range(3):
            retried.faults.push("POST /runs/generation", Fault.slow(3))
        tried += 1
        failed += not await _resent_over_http(retried, server.url, "resent retried", False, seen)
    async with sandbox.serving() as base_url, RawStdio.start(_served_env(base_url)) as stdio:
        await stdio.initialize()
        sandbox.faults.push("POST /runs/generation", Fault.slow(3))
        arguments = image("resent stdio")
        await stdio.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": tool_call("start_generation_run", arguments),
            }
        )
        await anyio.sleep(1.0)
        await stdio.send(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "reason": "timeout"}}
        )
        again = await stdio.call_tool(2, "start_generation_run", arguments)
        answer = again.get("result", {}).get("structuredContent") or {}
        made = _made(sandbox, "resent stdio")
        seen.append(f"stdio: {len(made)} run, re-sent call answered {answer.get('outcome')}")
        tried += 1
        failed += made != [answer.get("run_id")]
    return Row(
        "a call re-sent after a client timeout, no key → 1 run (subprocesses: HTTP with a 1 s client read "
        "timeout and FLORA answering in 3 s, also past flora-mcp's own 2 s timeout; stdio, cancelled and re-sent)",
        tried,
        failed,
        "; ".join(seen),
    )


async def bounded_wait() -> Row:
    """wait_for_run(timeout_seconds=3) against a 20 s read -> back within 4 s of wall-clock time."""
    sandbox = Sandbox(SandboxConfig(time_scale=1))
    async with (
        sandbox.serving() as base_url,
        mcp_process(_served_env(base_url)) as server,
        http_client(server.url, "sk-sandbox") as client,
    ):
        started = await client.call_tool("start_generation_run", image("a slow read", type="video"))
        run_id = data(started).get("run_id") or "run_none"
        sandbox.faults.push("GET /runs/{run_id}", Fault.slow(20))
        began = time.monotonic()
        waited = await client.call_tool("wait_for_run", {"run_id": run_id, "timeout_seconds": 3})
        seconds = time.monotonic() - began
    ok = seconds <= 4.0 and run_id in text_of(waited)
    return Row(
        "a 3 s wait against a 20 s FLORA read → back within 4 s (HTTP subprocess, wall clock)",
        1,
        int(not ok),
        f"back after {seconds:.1f} s",
    )


async def run_wire_campaign() -> list[Row]:
    rows = [await resent_after_client_timeout()]
    rows += await callers_apart()
    rows.append(await bounded_wait())
    return rows
