"""Starts are checked against the sandbox's catalog (models' params, techniques' inputs) before sending.

Through a real mcp.Client against the sandbox, which, like FLORA, checks no param values: an
unknown value would run and bill. The catalog_campaign covers every kind of mistake; this
checks the right starts still go, and how each refusal reads.
"""

from __future__ import annotations

import pytest
from mcp import Client

from flora_mcp.sandbox import Sandbox

from .support import POSTER, WORKSPACE, call_error, call_ok, generation, text_of

pytestmark = pytest.mark.anyio


def started(sandbox: Sandbox) -> int:
    return sum(n for route, n in sandbox.requests.items() if route.startswith("POST "))


async def test_valid_params_of_every_published_type_are_sent_as_given(client: Client, sandbox: Sandbox) -> None:
    params = {
        "aspect_ratio": "16:9",
        "seed": 7,
        "guidance": 7.5,
        "styles": ["photo", "illustration"],
        "safety_checker": False,
        "lora": {"grain": 0.3},
        "palette": ["#ff0000"],  # type color[]: one this server does not know, passed unchecked
    }
    await call_ok(client, "start_generation_run", generation(model="t2i-sandbox-image", params=params))
    assert sandbox.runs[-1].params == params


async def test_a_mistake_names_the_param_what_is_allowed_and_the_default(client: Client, sandbox: Sandbox) -> None:
    text = await call_error(client, "start_generation_run", generation(params={"aspect_ratio": "4:3", "steps": 50}))
    assert "params.aspect_ratio: is not one of the allowed options 1:1, 16:9, 9:16; default 1:1" in text
    assert "params.steps: model t2i-sandbox-image has no such param" in text and "aspect_ratio" in text
    assert "Nothing was sent" in text and "Start outcome: not started" in text
    # Without list_models first, the check read the catalog itself: one free GET, no start.
    assert sandbox.requests["GET /models"] == 1 and started(sandbox) == 0 and not sandbox.runs


async def test_a_start_without_model_or_params_costs_no_catalog_read(client: Client, sandbox: Sandbox) -> None:
    await call_ok(client, "start_generation_run", generation())
    assert sandbox.requests["GET /models"] == 0


async def test_the_catalog_is_read_once_per_caller_and_type_for_many_starts(client: Client, sandbox: Sandbox) -> None:
    for ratio in ("1:1", "16:9", "9:16"):
        await call_ok(client, "start_generation_run", generation(params={"aspect_ratio": ratio}))
    assert sandbox.requests["GET /models"] == 1 and len(sandbox.runs) == 3


async def test_several_references_go_as_a_list_and_a_json_input_as_json(client: Client, sandbox: Sandbox) -> None:
    refs = ["https://media.flora.ai/a.png", "https://media.flora.ai/b.png"]
    inputs = [
        {"id": "subject", "type": "text", "value": "a fox"},
        {"id": "references", "type": "imageUrl", "value": refs},
        {"id": "layout", "type": "json", "value": {"columns": 2}},  # input type "json": any JSON value
    ]
    await call_ok(client, "start_technique_run", {"technique_id": POSTER, "workspace_id": WORKSPACE, "inputs": inputs})
    assert sandbox.runs[-1].inputs == {"subject": "a fox", "references": refs, "layout": {"columns": 2}}


async def test_on_the_nested_route_several_references_become_repeated_items(client: Client, sandbox: Sandbox) -> None:
    inputs = [
        {"id": "subject", "type": "text", "value": "a fox"},
        {"id": "references", "type": "imageUrl", "value": "https://media.flora.ai/a.png"},
        {"id": "references", "type": "imageUrl", "value": "https://media.flora.ai/b.png"},
    ]
    await call_ok(client, "start_technique_run", {"technique_id": "poster-maker", "inputs": inputs})
    assert sandbox.runs[-1].inputs["references"] == ["https://media.flora.ai/a.png", "https://media.flora.ai/b.png"]


async def test_get_technique_fills_the_check_so_a_refusal_sends_nothing(client: Client, sandbox: Sandbox) -> None:
    await call_ok(client, "get_technique", {"technique_id": POSTER})
    before = sum(sandbox.requests.values())
    text = await call_error(client, "start_technique_run", {"technique_id": POSTER, "inputs": []})
    assert "inputs.subject: required by technique" in text
    assert sum(sandbox.requests.values()) == before


async def test_list_models_shows_credits_as_credits_with_a_labelled_usd_estimate(client: Client) -> None:
    text = text_of(await call_ok(client, "list_models", {"type": "video"}))
    assert "~500 credits, an estimate (about 0.5 USD at 0.001 USD per credit)" in text
    assert "param duration: int, default 5" in text or "param duration: 2..10, default 5" in text
