"""Source media through start_generation_run: the param a model's id implies goes through, and the
wrong form (which FLORA would ignore, running blind and billing) is refused with nothing sent."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from flora_mcp.sandbox import Sandbox
from tests.fake_clock import FakeClock

from .support import call_ok, call_refused_unsent, generation

pytestmark = pytest.mark.anyio

CAT = "https://media.flora.ai/uploads/cat.png"
DOG = "https://media.flora.ai/uploads/dog.png"


async def finished_output(client: Client, fake_time: FakeClock, arguments: dict[str, Any]) -> dict[str, Any]:
    start = (await call_ok(client, "start_generation_run", arguments)).structured_content or {}
    fake_time.now += 120
    state = (await call_ok(client, "get_run", {"run_id": start["run_id"]})).structured_content or {}
    assert state["status"] == "completed"
    [output] = state["outputs"]
    return dict(output)


async def refused_unsent(client: Client, sandbox: Sandbox, arguments: dict[str, Any]) -> str:
    """The refusal text, after reading the catalog first (as an agent does) so that the refusal
    itself makes no request at all: sandbox.requests is unchanged and no run exists."""
    await call_ok(client, "list_models", {"type": arguments["type"]})
    text = await call_refused_unsent(client, sandbox, "start_generation_run", arguments)
    assert "Nothing was sent" in text and not sandbox.runs and sandbox.state.credits_usd == pytest.approx(100)
    return text


async def media_bytes(sandbox: Sandbox, url: str) -> bytes:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        response = await http.get(url)
    assert response.status_code == 200
    return bytes(response.content)


async def test_an_image_to_video_start_with_its_source_goes_through_and_its_clip_depends_on_it(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    def animate(url: str) -> dict[str, Any]:
        return generation(type="video", model="i2v-sandbox-animate", params={"image_url": url, "duration": 5})

    cat = await finished_output(client, fake_time, animate(CAT))
    again = await finished_output(client, fake_time, animate(CAT))
    dog = await finished_output(client, fake_time, animate(DOG))

    assert sandbox.runs[0].params == {"image_url": CAT, "duration": 5}
    assert cat["type"] == "videoUrl"
    cat_clip = await media_bytes(sandbox, cat["url"])
    assert cat_clip == await media_bytes(sandbox, again["url"]), "the same source, the same clip"
    assert cat_clip != await media_bytes(sandbox, dog["url"]), "another source, another clip"


async def test_an_image_to_text_start_reads_its_sources(client: Client, fake_time: FakeClock) -> None:
    arguments = generation(type="text", model="i2t-sandbox-describe", params={"image_urls": [CAT, DOG]})
    output = await finished_output(client, fake_time, arguments)
    assert output["type"] == "text" and "(seen: cat.png, dog.png)" in output["url"]


async def test_a_plural_source_to_an_image_to_video_model_is_refused_unsent(client: Client, sandbox: Sandbox) -> None:
    arguments = generation(type="video", model="i2v-sandbox-animate", params={"image_urls": [CAT]})
    text = await refused_unsent(client, sandbox, arguments)
    assert "params.image_urls: i2v-… models take params.image_url, one URL; you sent image_urls" in text


async def test_a_singular_source_to_an_image_to_text_model_is_refused_unsent(client: Client, sandbox: Sandbox) -> None:
    arguments = generation(type="text", model="i2t-sandbox-describe", params={"image_url": CAT})
    text = await refused_unsent(client, sandbox, arguments)
    assert "i2t-… models take params.image_urls, a list of URLs; you sent image_url" in text


async def test_a_text_to_image_model_given_a_source_is_refused_naming_the_image_to_image_models(
    client: Client, sandbox: Sandbox
) -> None:
    arguments = generation(model="t2i-sandbox-image", params={"image_url": CAT})
    text = await refused_unsent(client, sandbox, arguments)
    assert "model t2i-sandbox-image takes no source media" in text
    assert "image models that take params.image_url: i2i-sandbox-edit" in text


async def test_the_sandbox_runs_a_wrong_form_blind_and_bills_it_as_flora_does(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    # What the refusals above save the agent from: sent straight to the sandbox, a plural source
    # to an i2v model is accepted, billed, and the clip does not depend on it.
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        body = {
            "workspace_id": "ws_sandbox",
            "project_id": "prj_sandbox",
            "prompt": "a cat",
            "type": "video",
            "model": "i2v-sandbox-animate",
        }
        answers = [
            await http.post(
                "http://sandbox/api/v1/runs/generation",
                json=body | {"params": {"image_urls": [url]}},
                headers={"Authorization": "Bearer " + sandbox.config.api_key},
            )
            for url in (CAT, DOG)
        ]
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.json()["charged_cost"] == pytest.approx(0.6) for a in answers)
    fake_time.now += 120
    first, second = (sandbox.runs[0], sandbox.runs[1])
    blind = [await media_bytes(sandbox, f"http://sandbox/media/{run.run_id}/output_1.mp4") for run in (first, second)]
    assert blind[0] != blind[1], "a blind clip follows the run, not the ignored source"
    assert "seen" not in first.output_text
