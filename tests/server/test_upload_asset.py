"""upload_asset: a local file, base64 data or a URL reaches FLORA as an asset a run can read."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox
from flora_mcp.sandbox.media import render as render_media
from flora_mcp.server import create_server
from flora_mcp.server.tools import assets as assets_tool
from tests.fake_clock import FakeClock

from .support import WORKSPACE, call_error, call_ok, total_requests

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    return folder


@pytest.fixture
async def server(sandbox: Sandbox, fake_time: FakeClock, allowed: Path) -> AsyncIterator[MCPServer]:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        yield create_server(
            Settings(max_retries=2, input_dirs=str(allowed)),
            http_client=http,
            sandbox=sandbox,
            sleep=fake_time.sleep,
            clock=fake_time.time,
            wall_clock=fake_time.time,
        )


async def _fetch(sandbox: Sandbox, url: str) -> bytes:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        answer = await http.get(url)
        assert answer.status_code == 200
        return answer.content


async def test_a_local_file_under_an_allowed_folder_becomes_a_ready_asset(
    client: Client, sandbox: Sandbox, allowed: Path
) -> None:
    (allowed / "photo.png").write_bytes(PNG)
    made = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "photo.png")})
    answer = made.structured_content or {}
    assert answer["asset_id"].startswith("asset_") and answer["outcome"] == "uploaded"
    assert answer["content_type"] == "image/png" and answer["uploaded_via"] == "direct"
    assert answer["next"]["arguments"] == {"params": {"image_url": answer["url"]}}
    assert await _fetch(sandbox, answer["url"]) == PNG


async def test_paths_outside_the_allowed_folders_are_refused_unsent(
    client: Client, sandbox: Sandbox, allowed: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    (allowed / "link.png").symlink_to(outside)
    before = total_requests(sandbox)
    for path in (str(outside), str(allowed / "link.png"), str(allowed / ".." / "secret.png")):
        text = await call_error(client, "upload_asset", {"workspace_id": WORKSPACE, "path": path})
        assert "outside the allowed folders" in text
    assert total_requests(sandbox) == before


async def test_a_disallowed_type_is_refused_naming_the_allowed_ones(
    client: Client, sandbox: Sandbox, allowed: Path
) -> None:
    (allowed / "notes.txt").write_bytes(b"hello")
    before = total_requests(sandbox)
    text = await call_error(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "notes.txt")})
    assert "image/png" in text and "application/pdf" in text
    data = base64.b64encode(b"plain text").decode()
    text = await call_error(client, "upload_asset", {"workspace_id": WORKSPACE, "data": data, "file_name": "a.exe"})
    assert "video/mp4" in text
    assert total_requests(sandbox) == before


async def test_a_large_file_goes_the_signed_flow_in_chunks(client: Client, sandbox: Sandbox, allowed: Path) -> None:
    big = PNG + os.urandom(6 * 1024 * 1024)
    (allowed / "big.png").write_bytes(big)
    made = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "big.png")})
    answer = made.structured_content or {}
    assert answer["uploaded_via"] == "signed_url"
    assert sandbox.requests["POST /assets/{asset_id}/complete"] == 1
    assert sandbox.requests["UPLOAD /_uploads/{token}"] == 1
    assert await _fetch(sandbox, answer["url"]) == big


async def test_base64_data_and_a_url_source(client: Client, sandbox: Sandbox) -> None:
    data = base64.b64encode(PNG).decode()
    made = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "data": data, "file_name": "p.png"})
    assert await _fetch(sandbox, (made.structured_content or {})["url"]) == PNG
    big = base64.b64encode(b"\0" * (5 * 1024 * 1024)).decode()
    text = await call_error(client, "upload_asset", {"workspace_id": WORKSPACE, "data": big, "file_name": "p.png"})
    assert "path" in text and "4 MB" in text
    url = "https://example.com/pictures/cat.jpg"
    fetched = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "url": url})
    assert (fetched.structured_content or {})["uploaded_via"] == "url"


async def test_the_same_file_twice_uploads_once(client: Client, sandbox: Sandbox, allowed: Path) -> None:
    (allowed / "a.png").write_bytes(PNG)
    (allowed / "b.png").write_bytes(PNG)
    first = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "a.png")})
    second = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "b.png")})
    assert (second.structured_content or {})["asset_id"] == (first.structured_content or {})["asset_id"]
    assert (second.structured_content or {})["outcome"] == "uploaded_earlier"
    assert sandbox.requests["POST /assets"] == 1


async def test_over_http_a_local_path_is_refused(
    client: Client, sandbox: Sandbox, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (allowed / "photo.png").write_bytes(PNG)
    monkeypatch.setattr(assets_tool, "served_over_http", lambda ctx: True)
    before = total_requests(sandbox)
    text = await call_error(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "photo.png")})
    assert "over HTTP" in text and "base64" in text
    assert total_requests(sandbox) == before


async def test_an_uploaded_png_feeds_an_image_to_video_run(client: Client, sandbox: Sandbox, allowed: Path) -> None:
    (allowed / "still.png").write_bytes(render_media("png", "seed", 64))
    made = await call_ok(client, "upload_asset", {"workspace_id": WORKSPACE, "path": str(allowed / "still.png")})
    url = (made.structured_content or {})["url"]
    started = await call_ok(
        client,
        "start_generation_run",
        {
            "workspace_id": WORKSPACE,
            "project_id": Sandbox.project_id,
            "type": "video",
            "model": "i2v-sandbox-animate",
            "prompt": "slow pan",
            "params": {"image_url": url},
        },
    )
    run_id = (started.structured_content or {})["run_id"]
    waited = await call_ok(client, "wait_for_run", {"run_id": run_id})
    assert (waited.structured_content or {})["status"] == "completed"
    assert sandbox.runs[-1].params == {"image_url": url}
