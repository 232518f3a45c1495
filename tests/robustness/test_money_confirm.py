"""Asking the user before a costly start (FLORA_CONFIRM_ABOVE_USD), and --read-only servers."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.wire.transports import http_app

from .fault_support import FakeClock, campaign_settings, connected, starts_sent, text_of
from .hostile_support import serving

pytestmark = pytest.mark.anyio

ERAS = pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
CLIP = {
    "technique_id": "tech_sandboxclip",  # 0.9 USD a run
    "workspace_id": "ws_sandbox",
    "inputs": [{"id": "product_image", "type": "imageUrl", "value": "https://media.flora.ai/mug.png"}],
}
VIDEO = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "waves", "type": "video"}  # 0.5 USD
IMAGE = {**VIDEO, "type": "image", "prompt": "a mug"}  # 0.04 USD


class User:
    """The person behind the client: answers every confirmation the same way, and remembers the questions."""

    def __init__(self, answer: str, confirm: bool = True) -> None:
        self.answer = answer
        self.confirm = confirm
        self.questions: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        if self.answer == "accept":
            return ElicitResult(action="accept", content={"confirm": self.confirm})
        return ElicitResult(action="decline" if self.answer == "decline" else "cancel")


def confirming(threshold: float = 0.3, **more: Any) -> Any:
    return campaign_settings(confirm_above_usd=threshold, **more)


@ERAS
async def test_a_start_above_the_threshold_runs_once_the_user_confirms(
    sandbox: Sandbox, clock: FakeClock, mode: str
) -> None:
    user = User("accept")
    async with connected(sandbox, clock, confirming(), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("start_technique_run", CLIP)
    assert not result.is_error, text_of(result)
    assert len(user.questions) == 1
    question = user.questions[0]
    assert "0.9 USD" in question and "0.3 USD" in question and "tech_sandboxclip" in question
    assert len(sandbox.runs) == 1


@ERAS
@pytest.mark.parametrize(("answer", "confirm", "word"), [("decline", True, "declined"), ("cancel", True, "cancelled")])
async def test_a_declined_or_cancelled_start_sends_nothing(
    sandbox: Sandbox, clock: FakeClock, mode: str, answer: str, confirm: bool, word: str
) -> None:
    user = User(answer, confirm)
    async with connected(sandbox, clock, confirming(), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("start_generation_run", VIDEO)
        spend = (await client.call_tool("get_spend", {})).structured_content or {}
    assert result.is_error
    text = text_of(result)
    assert f"The user {word} this start" in text and "Nothing was sent" in text
    assert "0.5 USD" in text
    assert starts_sent(sandbox) == 0 and sandbox.runs == []
    assert spend["spent_usd"] == 0 and spend["runs"] == []


async def test_answering_no_in_the_form_is_a_decline(sandbox: Sandbox, clock: FakeClock) -> None:
    user = User("accept", confirm=False)
    async with connected(sandbox, clock, confirming(), elicitation_callback=user) as client:
        result = await client.call_tool("start_technique_run", CLIP)
    assert result.is_error and "declined" in text_of(result)
    assert starts_sent(sandbox) == 0


@ERAS
async def test_a_client_that_cannot_ask_gets_a_refusal_not_a_silent_start(
    sandbox: Sandbox, clock: FakeClock, mode: str
) -> None:
    async with connected(sandbox, clock, confirming(), mode=mode) as client:
        result = await client.call_tool("start_technique_run", CLIP)
        cheap = await client.call_tool("start_generation_run", IMAGE)
    assert result.is_error
    text = text_of(result)
    assert "cannot ask the user" in text and "FLORA_CONFIRM_ABOVE_USD" in text and "Nothing was sent" in text
    assert not cheap.is_error, "a start under the threshold needs no question"
    assert [run.technique_id for run in sandbox.runs] == [None]


async def test_starts_at_or_under_the_threshold_are_not_asked_about(sandbox: Sandbox, clock: FakeClock) -> None:
    user = User("decline")
    async with connected(sandbox, clock, confirming(0.5), elicitation_callback=user) as client:
        video = await client.call_tool("start_generation_run", VIDEO)
        image = await client.call_tool("start_generation_run", IMAGE)
    assert not video.is_error and not image.is_error
    assert user.questions == []


async def test_a_retry_with_the_key_of_a_confirmed_start_is_not_asked_again(sandbox: Sandbox, clock: FakeClock) -> None:
    user = User("accept")
    keyed = {**CLIP, "idempotency_key": "clip-key-00001"}
    async with connected(sandbox, clock, confirming(), elicitation_callback=user) as client:
        first = await client.call_tool("start_technique_run", keyed)
        again = await client.call_tool("start_technique_run", keyed)
        another = await client.call_tool("start_technique_run", {**CLIP, "repeat": True})
    assert not first.is_error and not again.is_error and not another.is_error
    assert (again.structured_content or {})["outcome"] == "repeat"
    assert len(user.questions) == 2, "the retry was not asked about; the new start was"
    assert len(sandbox.runs) == 2


async def test_costs_are_looked_up_once_per_process(sandbox: Sandbox, clock: FakeClock) -> None:
    user = User("accept")
    async with connected(sandbox, clock, confirming(), elicitation_callback=user) as client:
        for _ in range(3):
            await client.call_tool("start_technique_run", {**CLIP, "repeat": True})
            await client.call_tool("start_generation_run", {**VIDEO, "repeat": True})
    assert sandbox.requests["GET /techniques/{technique_id}"] == 1
    assert sandbox.requests["GET /models"] == 1
    assert len(user.questions) == 6


async def test_a_repeated_start_is_not_asked_about_again(sandbox: Sandbox, clock: FakeClock) -> None:
    user = User("accept")
    async with connected(sandbox, clock, confirming(), elicitation_callback=user) as client:
        first = await client.call_tool("start_technique_run", CLIP)
        again = await client.call_tool("start_technique_run", CLIP)
    assert (again.structured_content or {})["run_id"] == (first.structured_content or {})["run_id"]
    assert len(user.questions) == 1, "re-sending the same call is not a new start to approve"
    assert len(sandbox.runs) == 1


async def test_the_cap_is_checked_before_the_user_is_asked(sandbox: Sandbox, clock: FakeClock) -> None:
    user = User("accept")
    settings = confirming(max_spend_usd=0.6)
    async with connected(sandbox, clock, settings, elicitation_callback=user) as client:
        result = await client.call_tool("start_technique_run", CLIP)
    assert result.is_error and "Spend cap reached" in text_of(result)
    assert user.questions == [], "a start the cap refuses is not worth a question"


@pytest.mark.parametrize(("mode", "asked"), [("auto", True), ("legacy", False)], ids=["2026-07-28", "2025-11-25"])
async def test_over_stateless_http_the_question_travels_in_the_result_or_the_start_is_refused(
    mode: str, asked: bool
) -> None:
    # Stateless Streamable HTTP has no channel for a mid-call request (2025-11-25's way to ask);
    # 2026-07-28 carries the question in the tool result and the client calls again with the answer.
    live = Sandbox(SandboxConfig(time_scale=0))
    app = http_app(
        create_server(confirming(), sandbox=live), host="127.0.0.1", transport="streamable-http", lend_server_key=True
    )
    user = User("accept")
    async with (
        serving(app, lifespan=True) as origin,
        Client(f"{origin}/mcp", mode=mode, elicitation_callback=user) as client,
    ):
        result = await client.call_tool("start_technique_run", CLIP)
    if asked:
        assert not result.is_error and len(user.questions) == 1 and len(live.runs) == 1
    else:
        assert result.is_error and "cannot ask the user" in text_of(result)
        assert user.questions == [] and live.runs == []


# --- read-only ---------------------------------------------------------------------------------
async def test_a_read_only_server_offers_no_start_tools(sandbox: Sandbox, clock: FakeClock) -> None:
    async with connected(sandbox, clock, campaign_settings(read_only=True)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("start_generation_run", IMAGE)
        listed = await client.call_tool("list_workspaces", {})
        instructions = client.instructions or ""
    assert not names & {"start_generation_run", "start_technique_run"}
    assert {"list_workspaces", "wait_for_run", "get_spend"} <= names
    assert refused.is_error and starts_sent(sandbox) == 0
    assert not listed.is_error
    assert "read-only" in instructions


@pytest.mark.parametrize(
    ("flag", "env"), [(["--read-only"], {}), ([], {"FLORA_READ_ONLY": "true"})], ids=["flag", "env"]
)
async def test_read_only_is_set_by_flag_or_environment_over_stdio(flag: list[str], env: dict[str, str]) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "flora_mcp", "--sandbox", *flag], env={"FLORA_LOG_LEVEL": "ERROR", **env}
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "list_workspaces" in names
    assert not names & {"start_generation_run", "start_technique_run"}
