"""manifest.json, the MCP bundle: true to the package and to the server it launches.

`mcpb validate` (run by .ci/node-checks) checks the manifest's shape; these tests check what
that validator cannot know: the version, the key's handling, the command, the tool list.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from flora_mcp import __version__
from flora_mcp.config import DEFAULT_BASE_URL, Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def test_the_bundle_carries_the_package_version(manifest: dict[str, Any]) -> None:
    assert manifest["version"] == __version__


def test_the_api_key_is_a_required_sensitive_setting_passed_as_flora_api_key(manifest: dict[str, Any]) -> None:
    key = manifest["user_config"]["api_key"]
    assert (key["type"], key["required"], key["sensitive"]) == ("string", True, True)
    assert manifest["server"]["mcp_config"]["env"]["FLORA_API_KEY"] == "${user_config.api_key}"


def test_every_user_setting_reaches_the_server_and_every_reference_is_defined(manifest: dict[str, Any]) -> None:
    env = manifest["server"]["mcp_config"]["env"]
    referenced = {m for value in env.values() for m in re.findall(r"\$\{user_config\.([A-Za-z0-9_]+)\}", value)}
    assert referenced == set(manifest["user_config"])
    # Each variable is one flora-mcp reads (FLORA_<setting>).
    assert {name.removeprefix("FLORA_").lower() for name in env} <= set(Settings.model_fields)
    assert manifest["user_config"]["base_url"]["default"] == DEFAULT_BASE_URL


def test_the_bundle_runs_the_packages_console_script_with_uv(manifest: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    server = manifest["server"]
    assert server["type"] == "uv"
    assert (ROOT / server["entry_point"]).is_file()
    config = server["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"][:3] == ["run", "--directory", "${__dirname}"]
    assert config["args"][-1] in project["scripts"]
    assert manifest["compatibility"]["runtimes"]["python"] == project["requires-python"]


@pytest.mark.anyio
async def test_the_bundle_lists_exactly_the_tools_the_server_serves(manifest: dict[str, Any]) -> None:
    sandbox = Sandbox(SandboxConfig())
    async with (
        httpx2.AsyncClient(transport=sandbox.transport()) as http,
        Client(create_server(Settings(), http_client=http, sandbox=sandbox)) as client,
    ):
        served = {tool.name for tool in (await client.list_tools()).tools}
    assert [tool["name"] for tool in manifest["tools"]] != []
    assert {tool["name"] for tool in manifest["tools"]} == served
    assert all(tool.get("description") for tool in manifest["tools"])
