"""The client configurations in examples/: each one parses, and each one starts this server.

A user pastes one of these blocks into a client they did not write, so the checks are about
what the client will do with it: which command it runs, with which arguments, and that the
FLORA key reaches the server.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from flora_mcp.cli import build_parser
from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.wire.transports import http_app
from tests.robustness.hostile_support import serving

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The installed-command form works from a clone today; the uvx form only once the package is on PyPI.
INSTALLED_CONFIGS = ["claude_desktop.json", "cursor_mcp.json", "vscode_mcp.json"]
UVX_CONFIGS = ["claude_desktop_uvx.json"]
STDIO_CONFIGS = [*INSTALLED_CONFIGS, *UVX_CONFIGS]


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def only_server(config: dict[str, Any], key: str = "mcpServers") -> dict[str, Any]:
    servers = config[key]
    assert list(servers) == ["flora"]
    return servers["flora"]


def stdio_entry(name: str) -> dict[str, Any]:
    # VS Code's mcp.json keeps its servers under "servers"; the others under "mcpServers".
    return only_server(load(name), "servers" if name.startswith("vscode") else "mcpServers")


@pytest.mark.parametrize("name", STDIO_CONFIGS)
def test_each_stdio_config_passes_the_api_key_in_the_environment(name: str) -> None:
    entry = stdio_entry(name)
    assert set(entry["env"]) == {"FLORA_API_KEY"}
    assert entry["env"]["FLORA_API_KEY"]


@pytest.mark.parametrize("name", STDIO_CONFIGS)
def test_each_stdio_config_runs_flora_mcp_with_arguments_the_cli_accepts(name: str) -> None:
    entry = stdio_entry(name)
    command = [entry["command"], *entry.get("args", [])]
    if command[0] == "uvx":
        # uvx <package> runs the package's console script of the same name.
        assert command[1] == "flora-mcp"
        command = command[1:]
    assert command[0] == "flora-mcp"
    arguments = build_parser().parse_args(command[1:])
    assert arguments.transport == "stdio"
    assert arguments.command is None


def test_claude_desktop_and_cursor_take_the_same_server_block() -> None:
    assert stdio_entry("claude_desktop.json") == stdio_entry("cursor_mcp.json")


@pytest.mark.parametrize("name", INSTALLED_CONFIGS)
def test_each_installed_config_runs_the_console_script_a_clone_install_puts_on_the_path(name: str) -> None:
    # Not uvx: the package is not on PyPI yet, and `pip install .` gives this command.
    entry = stdio_entry(name)
    assert (entry["command"], entry["args"]) == ("flora-mcp", [])


@pytest.mark.parametrize("name", UVX_CONFIGS)
def test_each_uvx_config_is_the_installed_one_run_through_uvx_and_is_marked_for_after_publication(name: str) -> None:
    uvx = stdio_entry(name)
    installed = stdio_entry(name.replace("_uvx", ""))
    assert (uvx["command"], uvx["args"]) == ("uvx", ["flora-mcp"])
    assert {**uvx, "command": "flora-mcp", "args": []} == installed
    (row,) = [line for line in (EXAMPLES / "README.md").read_text(encoding="utf-8").splitlines() if f"`{name}`" in line]
    assert "after publication" in row.lower()


def test_the_examples_readme_describes_every_file_in_examples() -> None:
    described = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    files = {path.name for path in EXAMPLES.iterdir() if path.is_file() and path.name != "README.md"}
    assert {name for name in files if f"`{name}`" not in described} == set()


def test_the_vscode_config_uses_servers_and_asks_for_the_key_as_a_password() -> None:
    config = load("vscode_mcp.json")
    assert "mcpServers" not in config
    entry = only_server(config, "servers")
    assert entry["type"] == "stdio"
    (prompt,) = config["inputs"]
    assert prompt["type"] == "promptString"
    assert prompt["password"] is True
    assert entry["env"]["FLORA_API_KEY"] == "${input:" + prompt["id"] + "}"


def test_the_remote_config_points_at_the_streamable_http_endpoint_with_a_bearer_key() -> None:
    entry = only_server(load("remote_streamable_http.json"))
    assert entry["type"] == "http"
    assert entry["url"] == "http://127.0.0.1:8000/mcp"
    assert entry["headers"]["Authorization"].startswith("Bearer ")
    # The URL is where `flora-mcp --transport streamable-http` listens by default.
    defaults = build_parser().parse_args(["--transport", "streamable-http"])
    assert entry["url"] == f"http://{defaults.host}:{defaults.port}/mcp"


def claude_code_lines() -> list[str]:
    return (EXAMPLES / "claude_code.sh").read_text(encoding="utf-8").splitlines()


def claude_code_command() -> list[str]:
    (line,) = [line for line in claude_code_lines() if line.strip() and not line.lstrip().startswith("#")]
    return shlex.split(line)


def test_the_claude_code_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(EXAMPLES / "claude_code.sh")], check=True)


def test_the_claude_code_line_adds_a_stdio_server_running_the_installed_flora_mcp() -> None:
    words = claude_code_command()
    assert words[:4] == ["claude", "mcp", "add", "flora"]
    separator = words.index("--")
    assert words[separator + 1 :] == ["flora-mcp"]
    options = words[4:separator]
    assert options[options.index("--transport") + 1] == "stdio"
    assert options[options.index("--env") + 1] == "FLORA_API_KEY=$FLORA_API_KEY"


def test_the_claude_code_uvx_line_is_commented_out_under_an_after_publication_note() -> None:
    lines = claude_code_lines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("#") and line.endswith("-- uvx flora-mcp")]
    assert "after publication" in lines[at - 1].lower()
    # The same command as the active line, with uvx in front of the server command.
    words = shlex.split(lines[at].removeprefix("#"))
    installed = claude_code_command()
    assert words == [*installed[:-1], "uvx", installed[-1]]


def test_the_claude_code_line_names_the_server_before_the_variadic_env_option() -> None:
    # `claude mcp add --env K=V name -- cmd` takes the name for a second env value and fails.
    words = claude_code_command()
    assert words.index("flora") < words.index("--env")


# --- the configs against a running server ----------------------------------------------------------
EXPECTED_TOOLS = {
    "list_workspaces",
    "list_projects",
    "list_models",
    "list_techniques",
    "get_technique",
    "list_actions",
    "create_project",
    "upload_asset",
    "start_generation_run",
    "start_generation_runs",
    "start_technique_run",
    "start_action_run",
    "get_run",
    "get_technique_run",
    "list_technique_runs",
    "list_generations",
    "wait_for_run",
    "wait_for_runs",
    "get_spend",
    "find_runs",
}


@pytest.mark.anyio
async def test_the_pip_config_starts_the_installed_server_over_stdio() -> None:
    entry = stdio_entry("claude_desktop.json")
    # The console script pip installed beside this interpreter, as a client's PATH would find it.
    command = shutil.which(entry["command"], path=str(Path(sys.executable).parent))
    assert command, "flora-mcp is not installed beside this Python"
    # --sandbox stands in for FLORA; the config's own env still reaches the process.
    parameters = StdioServerParameters(command=command, args=[*entry["args"], "--sandbox"], env=entry["env"])
    async with Client(parameters) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == EXPECTED_TOOLS
        result = await client.call_tool("list_workspaces", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["workspaces"][0]["workspace_id"] == "ws_sandbox"


def remote_client(url: str, headers: dict[str, str]) -> Client:
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)))


@pytest.mark.anyio
async def test_the_remote_config_reaches_flora_with_the_key_in_its_authorization_header() -> None:
    entry = only_server(load("remote_streamable_http.json"))
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    app = http_app(create_server(Settings(), sandbox=sandbox), host="127.0.0.1", transport="streamable-http")
    async with serving(app, lifespan=True) as origin:
        url = entry["url"].replace("http://127.0.0.1:8000", origin)
        real_key = {k: v.replace("YOUR_FLORA_API_KEY", sandbox.config.api_key) for k, v in entry["headers"].items()}
        async with remote_client(url, real_key) as client:
            accepted = await client.call_tool("list_workspaces", {})
        # The placeholder left in place is what FLORA sees: the header's key, not the server's, is used.
        async with remote_client(url, entry["headers"]) as client:
            refused = await client.call_tool("list_workspaces", {})
    assert not accepted.is_error
    assert accepted.structured_content is not None
    assert accepted.structured_content["workspaces"][0]["workspace_id"] == "ws_sandbox"
    assert refused.is_error
    refusal = " ".join(block.text for block in refused.content if isinstance(block, TextContent))
    assert "unauthorized" in refusal or "invalid_api_key" in refusal
    assert "YOUR_FLORA_API_KEY" not in refusal


# --- the README shows these same configurations ----------------------------------------------------
README = ROOT / "README.md"


def readme_blocks(language: str) -> list[str]:
    """The fenced code blocks of README.md in `language`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def test_every_json_block_of_the_readme_is_one_of_the_example_files() -> None:
    examples = {name: load(name) for name in [*STDIO_CONFIGS, "remote_streamable_http.json"]}
    shown = [json.loads(block) for block in readme_blocks("json")]
    assert shown, "the README shows no client configuration"
    assert [block for block in shown if block not in examples.values()] == []
    # The first configuration a reader meets runs the installed command.
    assert shown[0] == examples["claude_desktop.json"]


def test_the_readmes_claude_code_line_is_the_example_scripts() -> None:
    lines = [line for block in readme_blocks("bash") for line in block.splitlines()]
    added = [shlex.split(line) for line in lines if line.startswith("claude mcp add")]
    assert added == [claude_code_command()]


def test_the_readme_mentions_uvx_only_from_its_after_publication_note_on() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    (note,) = [i for i, line in enumerate(lines) if line.startswith("**After publication on PyPI**")]
    assert [i for i, line in enumerate(lines) if "uvx" in line and i < note] == []
