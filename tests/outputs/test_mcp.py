"""What a real MCP client gets: previews it can decode, saved files, output resources, the viewer."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import BlobResourceContents, ImageContent, ResourceLink, TextContent, TextResourceContents
from PIL import Image

from flora_mcp.config import Settings
from flora_mcp.outputs.resources import output_uri
from flora_mcp.outputs.viewer import VIEWER_URI
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server

from .live import http_client, live_server

pytestmark = pytest.mark.anyio

ALICE, BOB = "sk-alice", "sk-bob"
IMAGE = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def run_to_end(client: Client, start: dict[str, Any]) -> Any:
    started = await client.call_tool("start_generation_run", start)
    assert not started.is_error, text_of(started)
    done = await client.call_tool("wait_for_run", {"run_id": started.structured_content["run_id"]})
    assert not done.is_error, text_of(done)
    return done


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxConfig(time_scale=0, image_size=1024, extra_api_keys=(ALICE, BOB)))


@pytest.fixture
async def client(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(Settings(output_dir=tmp_path / "out"), http_client=http, sandbox=sandbox)
        async with Client(server) as connected:
            yield connected


async def test_a_completed_image_run_answers_with_an_image_a_client_decodes(client: Client, tmp_path: Path) -> None:
    done = await run_to_end(client, IMAGE)
    images = [block for block in done.content if isinstance(block, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/jpeg"
    raw = base64.b64decode(images[0].data)
    picture = Image.open(io.BytesIO(raw))
    assert picture.size == (768, 768) and len(raw) <= 150_000
    # The whole answer, as it goes on the wire, stays well under 1 MiB.
    assert len(done.model_dump_json(by_alias=True)) < 1024 * 1024 // 2
    assert "A preview of output_1 is attached (768x768 JPEG" in text_of(done)
    # The link is still there, and the file was saved once, with its path in the result.
    links = [block for block in done.content if isinstance(block, ResourceLink)]
    assert str(links[0].uri).startswith("http://sandbox.test/media/")
    saved = done.structured_content["saved_files"][0]
    assert Path(saved["path"]).parent == (tmp_path / "out").resolve()
    assert Path(saved["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # noqa: ASYNC240
    assert any(str(link.uri) == saved["uri"] for link in links)


async def test_reading_the_output_resource_gives_the_bytes_behind_the_url(client: Client, sandbox: Sandbox) -> None:
    done = await run_to_end(client, IMAGE)
    run_id, url = done.structured_content["run_id"], done.structured_content["outputs"][0]["url"]
    listed = await client.list_resources()
    uri = output_uri(run_id, "output_1")
    assert uri in [str(r.uri) for r in listed.resources]
    read = await client.read_resource(uri)
    content = read.contents[0]
    assert isinstance(content, BlobResourceContents) and content.mime_type == "image/png"
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        assert base64.b64decode(content.blob) == (await http.get(url)).content


async def test_a_text_output_reads_as_text(client: Client) -> None:
    done = await run_to_end(client, {**IMAGE, "type": "text", "prompt": "a haiku"})
    read = await client.read_resource(output_uri(done.structured_content["run_id"], "output_1"))
    content = read.contents[0]
    assert isinstance(content, TextResourceContents) and content.mime_type == "text/plain"
    assert "a haiku" in content.text


async def test_an_unknown_output_uri_is_not_found(client: Client) -> None:
    with pytest.raises(MCPError, match="was not found"):
        await client.read_resource(output_uri("run_nobody", "output_1"))


async def test_previews_off_gives_links_only(sandbox: Sandbox) -> None:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(Settings(previews=False), http_client=http, sandbox=sandbox)
        async with Client(server) as client:
            done = await run_to_end(client, IMAGE)
    assert not [block for block in done.content if isinstance(block, ImageContent)]
    assert "preview" not in text_of(done) and "saved_files" not in done.structured_content


async def test_a_video_without_the_preview_says_why_and_keeps_its_link(client: Client) -> None:
    done = await run_to_end(client, {**IMAGE, "type": "video", "prompt": "a wave"})
    assert "No preview of output_1: the video file has no video track" in text_of(done)
    assert [b for b in done.content if isinstance(b, ResourceLink) and str(b.uri).endswith(".mp4")]


async def test_the_run_tools_point_at_the_viewer_and_it_is_an_app_resource(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in ("wait_for_run", "get_run", "get_technique_run"):
        assert tools[name].meta == {"ui": {"resourceUri": VIEWER_URI}}
    assert tools["start_generation_run"].meta is None
    read = await client.read_resource(VIEWER_URI)
    page = read.contents[0]
    assert isinstance(page, TextResourceContents) and page.mime_type == "text/html;profile=mcp-app"
    assert "<script src" not in page.text and "http://sandbox.test" in page.text
    assert (page.meta or {})["ui"]["csp"]["resourceDomains"] == ["http://sandbox.test"]
    templates = await client.list_resource_templates()
    assert [t.uri_template for t in templates.resource_templates] == ["flora://runs/{run_id}/outputs/{output_id}"]


async def test_another_callers_run_is_not_found_over_http(sandbox: Sandbox) -> None:
    async with live_server(sandbox) as url, http_client(url, ALICE) as alice, http_client(url, BOB) as bob:
        done = await run_to_end(alice, IMAGE)
        uri = output_uri(done.structured_content["run_id"], "output_1")
        mine = await alice.read_resource(uri)
        assert isinstance(mine.contents[0], BlobResourceContents)
        with pytest.raises(MCPError, match="was not found"):
            await bob.read_resource(uri)
        assert uri not in [str(r.uri) for r in (await bob.list_resources()).resources]
        assert uri in [str(r.uri) for r in (await alice.list_resources()).resources]
        # The viewer's CSP names the sandbox's loopback origin, where its media really is.
        page = (await alice.read_resource(VIEWER_URI)).contents[0]
        media = done.structured_content["outputs"][0]["url"]
        assert json.dumps(page.meta).count(media.split("/media/")[0]) == 1


async def test_reading_a_finished_run_again_shows_the_same_preview_without_downloading_it_again(
    sandbox: Sandbox,
) -> None:
    media_gets: list[str] = []

    async def count(request: httpx2.Request) -> None:
        if request.url.path.startswith("/media/"):
            media_gets.append(str(request.url))

    async with httpx2.AsyncClient(transport=sandbox.transport(), event_hooks={"request": [count]}) as http:
        server = create_server(Settings(), http_client=http, sandbox=sandbox)
        async with Client(server) as connected:
            done = await run_to_end(connected, IMAGE)
            again = await connected.call_tool("get_run", {"run_id": done.structured_content["run_id"]})
    first = [block.data for block in done.content if isinstance(block, ImageContent)]
    second = [block.data for block in again.content if isinstance(block, ImageContent)]
    assert len(first) == 1 and second == first
    assert "A preview of output_1 is attached" in text_of(again)
    assert len(media_gets) == 1, media_gets
