"""The start path against a scripted upstream that is not the sandbox, through a real mcp.Client.

What the sandbox cannot play: a catalog that cannot be read, a default model learnt from FLORA's
answer, a 409 with another code, a retired generation route, credits priced against a USD cap.
"""

from __future__ import annotations

import httpx2
import pytest
from mcp_types import CallToolResult

from .catalog_campaign import text_of
from .scripted_flora import IMAGE_MODEL, PROJECT, TECHNIQUE, WORKSPACE, ScriptedFlora, scripted_client

pytestmark = pytest.mark.anyio

IMAGE = {"workspace_id": WORKSPACE, "project_id": PROJECT, "prompt": "a mug", "type": "image"}


def ok(result: CallToolResult) -> str:
    assert not result.is_error, text_of(result)
    return text_of(result)


async def test_an_unreadable_catalog_is_said_and_the_start_goes_as_given() -> None:
    flora = ScriptedFlora(models_status=500)
    async with scripted_client(flora) as client:
        text = ok(await client.call_tool("start_generation_run", {**IMAGE, "params": {"aspect_ratio": "4:3"}}))
    assert "could not be checked against FLORA's catalog" in text and "unknown_error, HTTP 500" in text
    assert flora.bodies()[0]["params"] == {"aspect_ratio": "4:3"}


async def test_under_strict_params_an_unreadable_catalog_refuses_with_nothing_started() -> None:
    flora = ScriptedFlora(models_status=503)
    async with scripted_client(flora, strict_params=True) as client:
        result = await client.call_tool("start_generation_run", {**IMAGE, "params": {"aspect_ratio": "1:1"}})
    assert result.is_error
    assert "FLORA_STRICT_PARAMS=1" in text_of(result) and "Start outcome: not started" in text_of(result)
    assert flora.starts() == 0


async def test_an_unreadable_technique_refuses_several_values_it_cannot_check() -> None:
    flora = ScriptedFlora()
    flora.technique = {"error": "not json envelope"}  # an answer that is not a Technique
    inputs = [{"id": "subject", "type": "text", "value": "a"}, {"id": "subject", "type": "text", "value": "b"}]
    async with scripted_client(flora) as client:
        result = await client.call_tool(
            "start_technique_run", {"technique_id": TECHNIQUE, "workspace_id": WORKSPACE, "inputs": inputs}
        )
    assert result.is_error and "could not be checked" in text_of(result)
    assert flora.starts() == 0


async def test_the_default_model_is_learnt_from_the_start_answer_then_checked() -> None:
    other = {**IMAGE_MODEL, "model_id": "t2i-other", "params": [{"name": "aspect_ratio", "type": "string"}]}
    flora = ScriptedFlora(models=[IMAGE_MODEL, other])
    flora.start = {"run_id": "run_1", "type": "generation", "model": {"model_id": "t2i-scripted"}}
    async with scripted_client(flora) as client:
        # Two image models and none marked: the default is unknown, so only names are checked.
        ok(await client.call_tool("start_generation_run", {**IMAGE, "params": {"aspect_ratio": "4:3"}}))
        refused = await client.call_tool("start_generation_run", {**IMAGE, "params": {"aspect_ratio": "4:3"}})
        unknown = await client.call_tool("start_generation_run", {**IMAGE, "params": {"steps": 50}})
    assert refused.is_error and "params.aspect_ratio" in text_of(refused) and "1:1, 16:9" in text_of(refused)
    assert "params.quality" in text_of(refused)  # the default's required param, learnt with it
    assert unknown.is_error and "params.steps" in text_of(unknown)
    assert flora.starts() == 1


async def test_a_409_with_another_code_is_not_started_and_never_called_accepted() -> None:
    locked = httpx2.Response(409, json={"error": {"code": "project_locked", "message": "The project is locked."}})
    flora = ScriptedFlora(start_reply=locked)
    async with scripted_client(flora) as client:
        result = await client.call_tool("start_generation_run", {**IMAGE, "params": {"quality": "hd"}})
    text = text_of(result)
    assert result.is_error and "project_locked" in text and "Start outcome: not started" in text
    assert "already accepted" not in text and "refused this as a conflict" in text


async def test_a_retired_generation_route_moves_the_start_to_generate() -> None:
    flora = ScriptedFlora(generation_route_gone=True)
    async with scripted_client(flora) as client:
        ok(await client.call_tool("start_generation_run", {**IMAGE, "params": {"quality": "hd"}}))
        ok(await client.call_tool("start_generation_run", {**IMAGE, "params": {"quality": "hd"}, "repeat": True}))
    posts = [r.url.path for r in flora.sent("POST")]
    assert posts == ["/api/v1/runs/generation", "/api/v1/generate", "/api/v1/generate"]


async def test_credits_are_priced_in_usd_against_the_cap_and_labelled_estimates() -> None:
    # 40 credits at 0.001 USD is 0.04 USD: inside a 0.05 USD cap. Read as USD it would be 40.
    flora = ScriptedFlora()
    flora.start = {"run_id": "run_1", "type": "generation"}  # no charged_cost: the quote is what is shown
    async with scripted_client(flora, max_spend_usd=0.05) as client:
        text = ok(await client.call_tool("start_generation_run", {**IMAGE, "model": "t2i-scripted",
                                                                    "params": {"quality": "hd"}}))  # fmt: skip
        listing = ok(await client.call_tool("list_models", {"type": "image"}))
        refused = await client.call_tool("start_generation_run", {**IMAGE, "model": "t2i-scripted", "repeat": True,
                                                                   "params": {"quality": "hd"}})  # fmt: skip
    assert "about 0.04 USD" in text and "40 credits at 0.001 USD per credit" in text and "an estimate" in text
    assert "~40 credits, an estimate (about 0.04 USD at 0.001 USD per credit)" in listing
    assert refused.is_error and "Spend cap reached" in text_of(refused)  # 0.04 + 0.04 > 0.05
    assert flora.starts() == 1


async def test_a_different_usd_per_credit_rate_changes_the_estimate() -> None:
    flora = ScriptedFlora()
    flora.start = {"run_id": "run_1", "type": "generation"}
    async with scripted_client(flora, max_spend_usd=1.0, usd_per_credit=0.002) as client:
        text = ok(await client.call_tool("start_generation_run", {**IMAGE, "model": "t2i-scripted",
                                                                    "params": {"quality": "hd"}}))  # fmt: skip
    assert "about 0.08 USD" in text
