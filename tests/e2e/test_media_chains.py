"""Media chains an agent really asks for, run through a real MCP client against `flora-mcp --sandbox` over stdio."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, ResourceLink
from PIL import Image

from tests.robustness.hostile_support import child_env

pytestmark = pytest.mark.anyio

WORKSPACE = {"workspace_id": "ws_sandbox"}
PROJECT = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox"}


@dataclass
class Agent:
    """An MCP client that counts its tool calls and insists each one succeeds."""

    client: Client
    calls: list[str] = field(default_factory=list)
    last: CallToolResult | None = None

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(tool)
        self.last = await self.client.call_tool(tool, arguments)
        assert not self.last.is_error, f"{tool} refused: {self.last.content}"
        return self.last.structured_content or {}

    def resource_links(self) -> list[ResourceLink]:
        assert self.last is not None
        return [block for block in self.last.content if isinstance(block, ResourceLink)]


def a_small_photo(folder: Path, name: str) -> Path:
    photo = folder / name
    Image.new("RGB", (32, 24), (200, 80, 40)).save(photo)
    return photo


@asynccontextmanager
async def an_agent_on_the_sandbox(input_dir: Path | None = None) -> AsyncIterator[Agent]:
    flags = ["--input-dir", str(input_dir)] if input_dir else []
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "flora_mcp", "--sandbox", *flags],
        env=child_env(FLORA_SANDBOX_TIME_SCALE="0"),
    )
    async with Client(params) as client:
        yield Agent(client)


def the_only_url_of(run: dict[str, Any]) -> str:
    [output] = run["outputs"]
    return output["url"]


def the_text_of(run: dict[str, Any]) -> str:
    """A text run's answer: as at FLORA, it arrives in its one output's `url`."""
    [output] = run["outputs"]
    assert output["type"] == "text"
    return output["url"]


async def test_a_local_photo_is_uploaded_and_animated_into_a_five_second_clip(tmp_path: Path) -> None:
    photo = a_small_photo(tmp_path, "photo.png")
    async with an_agent_on_the_sandbox(input_dir=tmp_path) as agent:
        models = await agent.call("list_models", {})
        [animate] = [model for model in models["models"] if model["model_id"] == "i2v-sandbox-animate"]
        assert "duration" in [param["name"] for param in animate["params"]]

        asset = await agent.call("upload_asset", {**WORKSPACE, "path": str(photo)})
        assert asset["outcome"] == "uploaded"
        assert asset["content_type"] == "image/png"
        assert asset["size_bytes"] == photo.stat().st_size
        assert asset["url"].endswith("/photo.png")

        started = await agent.call(
            "start_generation_run",
            {
                **PROJECT,
                "prompt": "animate this photo",
                "type": "video",
                "model": "i2v-sandbox-animate",
                "params": {"image_url": asset["url"], "duration": 5},
            },
        )
        assert started["outcome"] == "started"
        assert started["model_id"] == "i2v-sandbox-animate"

        clip = await agent.call("wait_for_run", {"run_id": started["run_id"]})
        assert clip["status"] == "completed"
        assert clip["finished"] is True
        [output] = clip["outputs"]
        assert output["type"] == "videoUrl"
        [preview] = agent.resource_links()
        assert str(preview.uri) == output["url"]
    assert agent.calls == ["list_models", "upload_asset", "start_generation_run", "wait_for_run"]


async def test_four_keyframes_are_judged_by_a_free_describer_and_the_best_animated_in_eight_calls(
    tmp_path: Path,
) -> None:
    reference = a_small_photo(tmp_path, "reference.png")
    async with an_agent_on_the_sandbox(input_dir=tmp_path) as agent:
        asset = await agent.call("upload_asset", {**WORKSPACE, "path": str(reference)})

        edits = await agent.call(
            "start_generation_runs",
            {
                **PROJECT,
                "type": "image",
                "model": "i2i-sandbox-edit",
                "params": {"image_url": asset["url"]},
                "items": [{"prompt": f"keyframe {n} of a walk", "name": f"keyframe {n}"} for n in range(1, 5)],
            },
        )
        assert edits["started"] == 4
        keyframes = await agent.call("wait_for_runs", {"runs": [{"run_id": i["run_id"]} for i in edits["items"]]})
        assert keyframes["completed"] == 4
        keyframe_urls = [the_only_url_of(run) for run in keyframes["runs"]]
        assert len(set(keyframe_urls)) == 4

        judging = await agent.call(
            "start_generation_runs",
            {
                **PROJECT,
                "type": "text",
                "model": "i2t-sandbox-describe",
                "items": [
                    {"prompt": f"judge keyframe {n}", "params": {"image_urls": [url]}}
                    for n, url in enumerate(keyframe_urls, start=1)
                ],
            },
        )
        assert judging["started"] == 4
        assert all(item["model_id"] == "i2t-sandbox-describe" for item in judging["items"])
        verdicts = await agent.call("wait_for_runs", {"runs": [{"run_id": i["run_id"]} for i in judging["items"]]})
        assert verdicts["completed"] == 4
        texts = [the_text_of(run) for run in verdicts["runs"]]
        for n, (text, url) in enumerate(zip(texts, keyframe_urls, strict=True), start=1):
            source = url.rsplit("/", 1)[-1]
            assert f"judge keyframe {n}" in text
            assert f"(seen: {source})" in text

        # The sandbox's verdicts differ only in the prompt they echo; the judge's favourite is the last one.
        best = keyframe_urls[texts.index(max(texts))]
        started = await agent.call(
            "start_generation_run",
            {
                **PROJECT,
                "prompt": "animate the best keyframe",
                "type": "video",
                "model": "i2v-sandbox-animate",
                "params": {"image_url": best},
            },
        )
        clip = await agent.call("wait_for_run", {"run_id": started["run_id"]})
        assert clip["status"] == "completed"
        assert the_only_url_of(clip).endswith(".mp4")
    assert len(agent.calls) <= 8
    assert len(agent.calls) == 7


async def test_an_image_output_is_resized_by_an_action_run() -> None:
    async with an_agent_on_the_sandbox() as agent:
        actions = await agent.call("list_actions", {})
        [resize] = [action for action in actions["actions"] if action["action_id"] == "resize-image-browser"]
        assert {param["key"] for param in resize["params"]} == {"width", "height"}
        [image_input] = resize["inputs"]

        started = await agent.call("start_generation_run", {**PROJECT, "prompt": "a mug", "type": "image"})
        image = await agent.call("wait_for_run", {"run_id": started["run_id"]})
        assert image["status"] == "completed"

        resizing = await agent.call(
            "start_action_run",
            {
                **PROJECT,
                "action_id": resize["action_id"],
                "inputs": [{"type": image_input["type"], "url": the_only_url_of(image)}],
                "params": {"width": 512, "height": 256},
            },
        )
        assert resizing["outcome"] == "started"
        resized = await agent.call("wait_for_run", {"run_id": resizing["run_id"]})
        assert resized["status"] == "completed"
        assert the_only_url_of(resized) != the_only_url_of(image)
    assert agent.calls == ["list_actions", "start_generation_run", "wait_for_run", "start_action_run", "wait_for_run"]
