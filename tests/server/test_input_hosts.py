"""Action and technique inputs FLORA cannot load (off its media hosts) are refused before sending.

FLORA loads input media only from its own hosts and fails (and bills) the run otherwise, so
start_action_run and start_technique_run refuse such a URL, naming upload_asset as the fix; a
URL the sandbox serves (a run's output) goes through.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from flora_mcp.sandbox import Sandbox

from .support import POSTER, PROJECT, WORKSPACE, call_error, call_ok, generation

pytestmark = pytest.mark.anyio

OUTSIDE = "https://elsewhere.example/x.png"
CLIP = "tech_sandboxclip"  # one imageUrl input, product_image
ACTION_START, TECHNIQUE_START = "POST /runs/action", "POST /runs/technique"


def resize(url: str) -> dict[str, Any]:
    return {
        "action_id": "resize-image-browser",
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "inputs": [{"type": "image", "name": "image", "url": url}],
        "params": {"width": 512, "height": 512},
    }


def clip(url: str) -> dict[str, Any]:
    return {
        "technique_id": CLIP,
        "workspace_id": WORKSPACE,
        "inputs": [{"id": "product_image", "type": "imageUrl", "value": url}],
    }


async def _generated_image(client: Client) -> str:
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    done = (await call_ok(client, "wait_for_run", {"run_id": start["run_id"]})).structured_content or {}
    assert done["status"] == "completed"
    return str(done["outputs"][0]["url"])


async def test_an_action_input_off_floras_hosts_is_refused_naming_upload_asset(
    client: Client, sandbox: Sandbox
) -> None:
    text = await call_error(client, "start_action_run", resize(OUTSIDE))
    assert f"upload_asset(workspace_id={WORKSPACE}, url=<that url>)" in text and OUTSIDE in text
    assert "inputs.image" in text and "Nothing was charged" in text
    assert sandbox.requests[ACTION_START] == 0 and not sandbox.runs


async def test_a_technique_input_off_floras_hosts_is_refused_naming_upload_asset(
    client: Client, sandbox: Sandbox
) -> None:
    text = await call_error(client, "start_technique_run", clip(OUTSIDE))
    assert f"upload_asset(workspace_id={WORKSPACE}, url=<that url>)" in text and "inputs.product_image" in text
    assert sandbox.requests[TECHNIQUE_START] == 0 and not sandbox.runs


async def test_one_outside_url_in_a_list_refuses_the_whole_start(client: Client, sandbox: Sandbox) -> None:
    image = await _generated_image(client)
    refs = [image, "HTTPS://Elsewhere.example:443/y.png"]
    inputs = [
        {"id": "subject", "type": "text", "value": "a fox"},
        {"id": "references", "type": "imageUrl", "value": refs},
    ]
    text = await call_error(
        client, "start_technique_run", {"technique_id": POSTER, "workspace_id": WORKSPACE, "inputs": inputs}
    )
    assert "inputs.references: HTTPS://Elsewhere.example:443/y.png" in text and image not in text
    assert sandbox.requests[TECHNIQUE_START] == 0


async def test_an_output_of_the_sandbox_goes_through_to_an_action_and_a_technique(
    client: Client, sandbox: Sandbox
) -> None:
    image = await _generated_image(client)
    action = (await call_ok(client, "start_action_run", resize(image))).structured_content or {}
    assert action["outcome"] == "started" and sandbox.requests[ACTION_START] == 1
    technique = (await call_ok(client, "start_technique_run", clip(image))).structured_content or {}
    assert technique["outcome"] == "started" and sandbox.requests[TECHNIQUE_START] == 1


async def test_a_generations_source_url_is_not_restricted(client: Client, sandbox: Sandbox) -> None:
    # FLORA's generation models fetch public URLs themselves: params.image_url stays free.
    result = await call_ok(
        client, "start_generation_run", generation(model="i2i-sandbox-edit", params={"image_url": OUTSIDE})
    )
    assert (result.structured_content or {})["outcome"] == "started"
