"""The run viewer in headless Chromium, inside a host that follows the MCP Apps spec.

The host (host.html) renders the viewer resource read from a live flora-mcp on a live sandbox
in a sandboxed iframe, under the CSP the resource declares, hands it the tool input and
result, and forwards the page's tools/call requests to the server. Screenshots go to
test-artifacts/viewer/ (gitignored). Needs /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from flora_mcp.outputs.viewer import VIEWER_URI
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.sandbox.server import serving_app

from .live import http_client, live_server

playwright = pytest.importorskip("playwright.async_api")
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "viewer"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
KEY = "sk-viewer"
START = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox"}


def as_wire(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[no-any-return]


def with_host_csp(html: str, meta: dict[str, Any]) -> str:
    """The page as a host serves it: the resource's declared CSP put in front of the page's own."""
    domains = " ".join(meta["ui"]["csp"].get("resourceDomains", [])) or "'none'"
    policy = (
        f"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        f"img-src {domains} data:; media-src {domains}; connect-src 'none'"
    )
    return html.replace("<head>", f'<head><meta http-equiv="Content-Security-Policy" content="{policy}">', 1)


@dataclass
class Host:
    client: Client
    page: Any
    origin: str

    async def show(self, tool: str, arguments: dict[str, Any], result: Any) -> Any:
        page_resource = (await self.client.read_resource(VIEWER_URI)).contents[0]
        html = with_host_csp(page_resource.text, page_resource.meta)  # type: ignore[union-attr]
        await self.page.goto(self.origin + "/host.html")
        await self.page.evaluate("([h, i, r]) => window.startApp(h, i, r)", [html, arguments, as_wire(result)])
        return self.page.frame_locator("#app")

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    sandbox = Sandbox(SandboxConfig(time_scale=0.1, extra_api_keys=(KEY,)))
    async with live_server(sandbox) as url, http_client(url, KEY) as client:

        async def call(request: Request) -> JSONResponse:
            params = json.loads(await request.body())
            result = await client.call_tool(params["name"], params.get("arguments") or {})
            return JSONResponse(as_wire(result))

        async def host_page(request: Request) -> HTMLResponse:
            return HTMLResponse((Path(__file__).with_name("host.html")).read_text(encoding="utf-8"))

        app = Starlette(routes=[Route("/host.html", host_page), Route("/call", call, methods=["POST"])])
        async with serving_app(app) as origin, playwright.async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 760, "height": 720})
                yield Host(client, page, origin)
            finally:
                await browser.close()


async def start(host: Host, **fields: Any) -> str:
    started = await host.client.call_tool("start_generation_run", {**START, **fields})
    assert not started.is_error, started.content
    return str(started.structured_content["run_id"])  # type: ignore[index]


async def finished(host: Host, run_id: str) -> Any:
    done = await host.client.call_tool("wait_for_run", {"run_id": run_id})
    assert not done.is_error, done.content
    return done


async def test_an_image_run_is_followed_to_its_end_and_its_image_shown(host: Host) -> None:
    run_id = await start(host, type="image", prompt="a ceramic mug")
    running = await host.client.call_tool("get_run", {"run_id": run_id})
    assert running.structured_content["finished"] is False  # type: ignore[index]
    app = await host.show("get_run", {"run_id": run_id}, running)
    await app.locator("#status").filter(has_text="completed").wait_for(timeout=20_000)
    image = app.locator("img")
    await image.wait_for(state="visible")
    # Really loaded, from the sandbox's origin, under the CSP the resource declared.
    assert await image.evaluate("(img) => img.complete && img.naturalWidth") == 64
    assert "wait_for_run" not in await app.locator("#note").inner_text()
    assert await host.page.evaluate("window.hostLog.includes('tools/call')")
    assert "Cost: " in await app.locator("#cost").inner_text()
    assert await app.locator("#progress").is_hidden()
    await host.shot("image-run")


async def test_a_video_run_shows_a_video_player(host: Host) -> None:
    run_id = await start(host, type="video", prompt="waves at dusk")
    app = await host.show("wait_for_run", {"run_id": run_id}, await finished(host, run_id))
    video = app.locator("video")
    await video.wait_for(state="visible")
    assert await video.get_attribute("controls") is not None
    assert (await video.evaluate("(v) => v.src")).endswith("/output_1.mp4")
    await host.shot("video-run")


async def test_a_text_run_shows_its_text(host: Host) -> None:
    run_id = await start(host, type="text", prompt="a haiku about tea")
    app = await host.show("wait_for_run", {"run_id": run_id}, await finished(host, run_id))
    text = app.locator("#outputs pre")
    await text.wait_for(state="visible")
    assert "a haiku about tea" in await text.inner_text()
    assert await app.locator("#status").inner_text() == "completed"
    await host.shot("text-run")


async def test_a_failed_run_shows_its_error(host: Host) -> None:
    run_id = await start(host, type="image", prompt="a mug [fail]")
    app = await host.show("wait_for_run", {"run_id": run_id}, await finished(host, run_id))
    error = app.locator("#error")
    await error.wait_for(state="visible")
    assert "provider_error" in await error.inner_text()
    assert await app.locator("#status").inner_text() == "failed"
    assert await app.locator("#outputs > figure").count() == 0
    await host.shot("failed-run")
