"""The spend cap (FLORA_MAX_SPEND_USD) and the session's spend report (get_spend)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from flora_mcp.cli import build_parser, settings_from_args
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.wire.transports import http_app

from .fault_support import FakeClock, campaign_settings, connected, starts_sent, text_of
from .hostile_support import serving

pytestmark = pytest.mark.anyio

WORKSPACE = "ws_sandbox"
POSTER = "tech_sandboxposter"  # 0.12 USD a run in the sandbox
CLIP = "tech_sandboxclip"  # 0.9 USD a run


def poster(**extra: Any) -> dict[str, Any]:
    return {
        "technique_id": POSTER,
        "workspace_id": WORKSPACE,
        "inputs": [{"id": "subject", "type": "text", "value": "a lighthouse"}],
        **extra,
    }


def clip() -> dict[str, Any]:
    return {
        "technique_id": CLIP,
        "workspace_id": WORKSPACE,
        "inputs": [{"id": "product_image", "type": "imageUrl", "value": "https://media.flora.ai/mug.png"}],
    }


def image(**extra: Any) -> dict[str, Any]:
    # The sandbox's image model quotes (and charges) 0.04 USD.
    return {"workspace_id": WORKSPACE, "project_id": "prj_sandbox", "prompt": "a mug", "type": "image", **extra}


async def spend(client: Client) -> dict[str, Any]:
    result = await client.call_tool("get_spend", {})
    assert not result.is_error, text_of(result)
    return result.structured_content or {}


async def test_a_start_past_the_cap_is_refused_before_anything_is_sent(sandbox: Sandbox, clock: FakeClock) -> None:
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=0.25)) as client:
        for _ in range(2):
            assert not (await client.call_tool("start_technique_run", poster(repeat=True))).is_error
        sent = starts_sent(sandbox)
        refused = await client.call_tool("start_technique_run", poster(repeat=True))
    assert refused.is_error
    assert starts_sent(sandbox) == sent, "a refused start must not reach FLORA"
    assert len(sandbox.runs) == 2
    text = text_of(refused)
    assert "Spend cap reached" in text
    assert "0.24 USD" in text and "0.25 USD" in text, "the error states what was spent and the cap"
    assert "FLORA_MAX_SPEND_USD" in text and "--max-spend-usd" in text, "the error says how to raise it"
    assert "nothing was sent" in text


async def test_a_start_whose_known_cost_would_pass_the_cap_is_refused_at_once(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=0.5)) as client:
        refused = await client.call_tool("start_technique_run", clip())
        allowed = await client.call_tool("start_generation_run", image())
    assert refused.is_error and "0.9 USD" in text_of(refused)
    assert not allowed.is_error
    assert [run.technique_id for run in sandbox.runs] == [None]


async def test_the_cap_counts_the_final_charge_a_later_read_reports(sandbox: Sandbox, clock: FakeClock) -> None:
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=1.0)) as client:
        started = await client.call_tool("start_generation_run", image())
        run_id = (started.structured_content or {})["run_id"]
        # FLORA's quote is not the bill: its own guidance reports 0.253 quoted, 0.873 charged.
        sandbox.runs[0].charged_cost = 0.873
        await client.call_tool("get_run", {"run_id": run_id})
        report = await spend(client)
        refused = await client.call_tool("start_generation_run", image(model="t2v-sandbox-video", type="video"))
    assert report["spent_usd"] == pytest.approx(0.873)
    assert report["runs"][0]["cost_usd"] == pytest.approx(0.873)
    assert refused.is_error and "Spend cap reached" in text_of(refused)


async def test_a_retry_with_the_same_key_is_never_refused_by_the_cap(sandbox: Sandbox, clock: FakeClock) -> None:
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=0.12)) as client:
        first = await client.call_tool("start_technique_run", poster(idempotency_key="poster-key-0001"))
        again = await client.call_tool("start_technique_run", poster(idempotency_key="poster-key-0001"))
        other = await client.call_tool("start_technique_run", poster(repeat=True))
    assert not first.is_error and not again.is_error
    assert (again.structured_content or {})["outcome"] == "repeat"
    assert other.is_error and "Spend cap reached" in text_of(other)
    assert len(sandbox.runs) == 1


async def test_concurrent_starts_cannot_slip_past_the_cap_together(sandbox: Sandbox, clock: FakeClock) -> None:
    outcomes: list[bool] = []
    # A short delay on each start lets the calls overlap, as they would over a network.
    sandbox.faults.push("POST /runs/technique", Fault.slow(0.5), times=10)
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=0.3)) as client:

        async def start() -> None:
            outcomes.append((await client.call_tool("start_technique_run", poster(repeat=True))).is_error)

        async with anyio.create_task_group() as tasks:
            for _ in range(10):
                tasks.start_soon(start)
    # 0.12 + 0.12 fits under 0.3; a third would make 0.36.
    assert len(sandbox.runs) == 2
    assert outcomes.count(False) == 2


async def test_a_start_whose_outcome_is_unknown_counts_against_the_cap_until_settled(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    # The answer is lost, and so is the listing the server would find the run in.
    sandbox.faults.push("POST /runs/technique", Fault.dropped_after_create())
    sandbox.faults.push("POST /runs/technique", Fault.status_(503), times=2)
    sandbox.faults.push("GET /technique-runs", Fault.status_(503), times=3)
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=0.2)) as client:
        lost = await client.call_tool("start_technique_run", poster(idempotency_key="poster-key-0002"))
        pending = await spend(client)
        refused = await client.call_tool("start_technique_run", poster(idempotency_key="poster-key-0003"))
        settled = await client.call_tool("start_technique_run", poster(idempotency_key="poster-key-0002"))
        after = await spend(client)
    assert lost.is_error and "Start outcome: unknown" in text_of(lost)
    assert "poster-key-0002" in text_of(lost)
    assert pending["unconfirmed_usd"] == pytest.approx(0.12)
    assert pending["runs"][0]["status"] == "unknown"
    assert refused.is_error and "Spend cap reached" in text_of(refused)
    assert (settled.structured_content or {})["outcome"] == "recovered"
    assert (settled.structured_content or {})["run_id"] == sandbox.runs[0].run_id
    assert after["spent_usd"] == pytest.approx(0.12) and after["unconfirmed_usd"] == 0
    assert after["runs"][0]["status"] == "recovered"
    assert len(sandbox.runs) == 1


async def test_a_quote_that_cannot_be_looked_up_does_not_block_a_start_under_the_cap(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.faults.push("GET /techniques/{technique_id}", Fault.status_(503), times=3)
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=5.0)) as client:
        started = await client.call_tool("start_technique_run", poster())
    assert not started.is_error, text_of(started)
    assert len(sandbox.runs) == 1


async def test_the_spend_report_lists_the_sessions_runs_and_totals(sandbox: Sandbox, clock: FakeClock) -> None:
    async with connected(sandbox, clock, campaign_settings(max_spend_usd=5.0, confirm_above_usd=2.0)) as client:
        empty = await spend(client)
        await client.call_tool("start_generation_run", image())
        started = await client.call_tool("start_technique_run", poster())
        report = await spend(client)
        text = text_of(await client.call_tool("get_spend", {}))
    assert empty["spent_usd"] == 0 and empty["runs"] == []
    assert report["spent_usd"] == pytest.approx(0.16)
    assert report["cap_usd"] == 5.0 and report["remaining_usd"] == pytest.approx(4.84)
    assert report["confirm_above_usd"] == 2.0
    assert report["starts"] == 2
    assert [run["run_id"] for run in report["runs"]] == [r.run_id for r in reversed(sandbox.runs)]
    assert report["runs"][0]["technique_id"] == POSTER
    assert "0.16 USD" in text and sandbox.runs[0].run_id in text
    start = started.structured_content or {}
    assert start["spent_usd"] == pytest.approx(0.16) and start["spend_cap_usd"] == 5.0
    assert "Your spend in the last 24 hours: 0.16 USD on 2 start(s) (cap 5 USD, 4.84 USD left)." in text_of(started)


async def test_without_a_cap_starts_still_report_the_sessions_spend(sandbox: Sandbox, clock: FakeClock) -> None:
    async with connected(sandbox, clock) as client:
        started = await client.call_tool("start_generation_run", image())
        report = await spend(client)
    assert "Your spend in the last 24 hours: 0.04 USD on 1 start(s) (no spend cap set)." in text_of(started)
    assert report.get("cap_usd") is None and report.get("remaining_usd") is None
    assert sandbox.requests["GET /models"] == 0, "without a cap or threshold no quote is looked up"


async def test_a_recovered_run_without_any_quote_is_listed_with_an_unknown_cost(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.faults.push("POST /runs/generation", Fault.dropped_after_create())
    async with connected(sandbox, clock) as client:
        recovered = await client.call_tool("start_generation_run", image())
        report = await spend(client)
    assert (recovered.structured_content or {})["outcome"] == "recovered"
    assert "1 start(s) of unknown cost count as 0" in text_of(recovered)
    assert report["runs"][0]["status"] == "recovered" and "cost_usd" not in report["runs"][0]


def test_the_cap_and_the_threshold_come_from_flags_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLORA_MAX_SPEND_USD", "3")
    monkeypatch.setenv("FLORA_CONFIRM_ABOVE_USD", "0.5")
    from_env = settings_from_args(build_parser().parse_args([]))
    assert (from_env.max_spend_usd, from_env.confirm_above_usd) == (3.0, 0.5)
    flags = build_parser().parse_args(["--max-spend-usd", "7.5", "--confirm-above-usd", "1"])
    from_flags = settings_from_args(flags)
    assert (from_flags.max_spend_usd, from_flags.confirm_above_usd) == (7.5, 1.0)
    monkeypatch.setenv("FLORA_MAX_SPEND_USD", "")
    assert settings_from_args(build_parser().parse_args([])).max_spend_usd is None


@pytest.mark.parametrize("bad", ["-1", "nan", "lots"])
def test_a_nonsense_cap_is_refused_at_startup(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("FLORA_MAX_SPEND_USD", bad)
    with pytest.raises(ValueError, match="max_spend_usd"):
        settings_from_args(build_parser().parse_args([]))


async def test_over_http_each_client_sees_only_its_own_starts_and_has_its_own_cap() -> None:
    alice, bob = "sk-alice-0001", "sk-bob-0002"
    live = Sandbox(SandboxConfig(time_scale=0, extra_api_keys=(alice, bob)))
    server = create_server(campaign_settings(max_spend_usd=0.2), sandbox=live)
    app = http_app(server, host="127.0.0.1", transport="streamable-http")

    def client_of(origin: str, key: str) -> Client:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
        return Client(streamable_http_client(f"{origin}/mcp", http_client=http))

    async with (
        serving(app, lifespan=True) as origin,
        client_of(origin, alice) as as_alice,
        client_of(origin, bob) as as_bob,
    ):
        started = await as_alice.call_tool("start_technique_run", poster())
        alices, bobs = await spend(as_alice), await spend(as_bob)
        bobs_own = await as_bob.call_tool("start_technique_run", poster())
        refused = await as_alice.call_tool("start_technique_run", poster(idempotency_key="alice-second-01"))
    run_id = (started.structured_content or {})["run_id"]
    assert [run["run_id"] for run in alices["runs"]] == [run_id]
    assert bobs["runs"] == [], "another client's run ids must not be listed"
    assert alices["spent_usd"] == pytest.approx(0.12)
    assert bobs["spent_usd"] == 0, "another client's totals must not be shown"
    assert not bobs_own.is_error, "the cap is per caller: Alice's spend does not use up Bob's"
    assert (bobs_own.structured_content or {})["run_id"] != run_id
    assert refused.is_error and "Spend cap reached" in text_of(refused)
