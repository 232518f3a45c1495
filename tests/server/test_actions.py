"""Actions through the tools: list_actions, and start_action_run through the booking every paid start uses."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox
from flora_mcp.server.app import create_server
from tests.fake_clock import FakeClock

from .support import PROJECT, WORKSPACE, call_error, call_ok, generation, text_of

pytestmark = pytest.mark.anyio

START = "POST /runs/action"


def resize(url: str, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "action_id": "resize-image-browser",
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "inputs": [{"type": "image", "name": "image", "url": url}],
        "params": {"width": 512, "height": 512},
    }
    arguments.update(overrides)
    return arguments


async def _generated_image(client: Client) -> str:
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    done = (await call_ok(client, "wait_for_run", {"run_id": start["run_id"]})).structured_content or {}
    assert done["status"] == "completed"
    return str(done["outputs"][0]["url"])


async def test_list_actions_shows_ids_inputs_params_and_cost(client: Client) -> None:
    result = await call_ok(client, "list_actions", {})
    ids = [a["action_id"] for a in (result.structured_content or {})["actions"]]
    assert "resize-image-browser" in ids
    text = text_of(result)
    assert "resize-image-browser" in text and "param width: 16..4096" in text and "input image (image" in text


async def test_an_action_on_a_generated_image_runs_to_an_output(client: Client, sandbox: Sandbox) -> None:
    url = await _generated_image(client)
    start = (await call_ok(client, "start_action_run", resize(url))).structured_content or {}
    assert start["outcome"] == "started" and start["run_type"] == "action"
    assert start["next"]["tool"] == "wait_for_run"
    done = (await call_ok(client, "wait_for_run", {"run_id": start["run_id"]})).structured_content or {}
    assert done["status"] == "completed"
    assert done["outputs"] and done["outputs"][0]["url"] != url
    assert sandbox.runs[-1].kind == "action" and sandbox.runs[-1].params == {"width": 512, "height": 512}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"params": {"width": 5}}, "params.width: must be within 16..4096"),
        ({"params": {"depth": 5}}, "its params: width, height"),
        ({"params": {"width": "wide"}}, "params.width: must be a number"),
        ({"inputs": [{"type": "text", "text": "hello"}]}, "inputs.image: required"),
        ({"action_id": "no-such-action"}, "no-such-action"),
    ],
)
async def test_a_mistake_is_refused_before_anything_is_started(
    client: Client, sandbox: Sandbox, change: dict[str, Any], named: str
) -> None:
    text = await call_error(client, "start_action_run", resize("http://sandbox.test/media/x/output_1.png", **change))
    assert named in text and "Nothing was sent" in text
    assert sandbox.requests[START] == 0 and sandbox.runs == []


async def test_the_same_call_sent_again_is_one_run(client: Client, sandbox: Sandbox) -> None:
    url = await _generated_image(client)
    first = (await call_ok(client, "start_action_run", resize(url))).structured_content or {}
    again = (await call_ok(client, "start_action_run", resize(url))).structured_content or {}
    assert again["outcome"] == "repeat" and again["run_id"] == first["run_id"]
    assert sandbox.requests[START] == 1
    another = (await call_ok(client, "start_action_run", resize(url, repeat=True))).structured_content or {}
    assert another["outcome"] == "started" and sandbox.requests[START] == 2


async def test_an_input_off_floras_hosts_is_refused_before_it_fails_the_run(client: Client, sandbox: Sandbox) -> None:
    # FLORA would fail (and bill) the run with "Failed to load inputs": refused here, unsent.
    text = await call_error(client, "start_action_run", resize("https://example.com/cat.png"))
    assert "upload_asset(" in text and sandbox.requests[START] == 0


async def test_under_a_cap_the_actions_charged_cost_counts(sandbox: Sandbox, fake_time: FakeClock) -> None:
    frame = {
        "action_id": "extract-frame-browser",
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "inputs": [{"type": "video", "url": "http://sandbox.test/media/x/output_1.mp4"}],
    }
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(
            Settings(max_retries=2, max_spend_usd=0.015),
            http_client=http,
            sandbox=sandbox,
            sleep=fake_time.sleep,
            clock=fake_time.time,
            wall_clock=fake_time.time,
        )
        async with Client(server) as client:
            first = (await call_ok(client, "start_action_run", frame)).structured_content or {}
            assert first["outcome"] == "started"
            text = await call_error(client, "start_action_run", {**frame, "repeat": True})  # 2 x 0.01 > 0.015
            assert "cap" in text.lower() and sandbox.requests[START] == 1
            # A free action (charged_cost 0) still goes out under the exhausted cap.
            free = await call_ok(client, "start_action_run", resize("http://sandbox.test/media/x/output_1.png"))
            assert (free.structured_content or {})["outcome"] == "started"
