"""Actions in the sandbox: the catalogue, param and input validation, and the runs they start."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from flora_mcp.api.models import ActionList, RunState, StartResponse
from flora_mcp.sandbox import Sandbox, SandboxConfig

from .helpers import generation_body

pytestmark = pytest.mark.anyio


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig(time_scale=0)


def action_body(url: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action_id": "resize-image-browser",
        "workspace_id": "ws_sandbox",
        "project_id": "prj_sandbox",
        "inputs": [{"type": "image", "name": "image", "url": url}],
        "params": {"width": 512, "height": 256},
    }
    body.update(overrides)
    return body


async def _image_url(client: httpx2.AsyncClient) -> str:
    start = StartResponse.model_validate((await client.post("/runs/generation", json=generation_body())).json())
    state = RunState.model_validate((await client.get(f"/runs/{start.run_id}")).json())
    assert state.outputs and state.outputs[0].url
    return state.outputs[0].url


async def test_actions_are_listed_and_read_one_by_one(client: httpx2.AsyncClient) -> None:
    listing = ActionList.model_validate((await client.get("/actions")).json())
    ids = [a.action_id for a in listing.actions]
    assert "resize-image-browser" in ids and "extract-frame-browser" in ids
    one = (await client.get("/actions/resize-image-browser")).json()
    assert [p["key"] for p in one["params"]] == ["width", "height"]
    assert (await client.get("/actions/no-such-action")).status_code == 404


async def test_an_action_on_a_sandbox_output_completes_with_an_output_that_depends_on_its_input(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    url = await _image_url(client)
    outputs = []
    for width in (512, 640):
        answer = await client.post("/runs/action", json=action_body(url, params={"width": width, "height": 256}))
        start = StartResponse.model_validate(answer.json())
        assert start.type == "action" and start.action is not None
        state = RunState.model_validate((await client.get(f"/runs/{start.run_id}")).json())
        assert state.status == "completed" and state.outputs
        media = await client.get(state.outputs[0].url or "")
        assert media.status_code == 200
        outputs.append(media.content)
    assert outputs[0] != outputs[1]


async def test_an_input_on_another_host_fails_the_run_as_flora_does(client: httpx2.AsyncClient) -> None:
    answer = await client.post("/runs/action", json=action_body("https://example.com/cat.png"))
    start = StartResponse.model_validate(answer.json())
    state = RunState.model_validate((await client.get(f"/runs/{start.run_id}")).json())
    assert state.status == "failed"
    assert state.error_message == "Failed to load inputs"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": {"width": 5}}, "params.width"),
        ({"params": {"depth": 5}}, "params.depth"),
        ({"params": {"width": "wide"}}, "params.width"),
        ({"inputs": [{"type": "video", "url": "http://sandbox.test/media/x.mp4"}]}, "inputs.0"),
        ({"inputs": []}, "inputs"),
        ({"action_id": "no-such-action"}, "action_id"),
    ],
)
async def test_a_bad_start_is_refused_naming_the_field_and_starts_nothing(
    client: httpx2.AsyncClient, sandbox: Sandbox, change: dict[str, Any], field: str
) -> None:
    answer = await client.post("/runs/action", json=action_body("http://sandbox.test/media/x.png", **change))
    assert answer.status_code == 400
    assert field in [f["field"] for f in answer.json()["error"]["fields"]]
    assert sandbox.runs == []


async def test_stitching_takes_between_two_and_ten_videos(client: httpx2.AsyncClient) -> None:
    one = [{"type": "video", "name": "videos", "url": "http://sandbox.test/media/a.mp4"}]
    body = action_body("", action_id="stitch-videos-browser", inputs=one, params=None)
    assert (await client.post("/runs/action", json=body)).status_code == 400
    body["inputs"] = one * 2
    assert (await client.post("/runs/action", json=body)).status_code == 200
