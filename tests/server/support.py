"""Helpers for the server tests: call shortcuts and output checks (the fake clock is tests/fake_clock.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from mcp import Client
from mcp_types import CallToolResult, ResourceLink, TextContent

from flora_mcp.sandbox import Sandbox
from flora_mcp.server.tools import tool_specs
from flora_mcp.server.tools.registry import full_output_schema

WORKSPACE = "ws_sandbox"
PROJECT = "prj_sandbox"
POSTER = "tech_sandboxposter"


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def links_of(result: CallToolResult) -> list[ResourceLink]:
    return [block for block in result.content if isinstance(block, ResourceLink)]


@cache
def full_output_validator(tool: str) -> Draft202012Validator:
    """The tool's output model's whole schema, nested shapes included (the published one is its outline)."""
    spec = next(spec for spec in tool_specs() if spec.name == tool)
    return Draft202012Validator(full_output_schema(spec.output))


def assert_conforms(name: str, result: CallToolResult) -> None:
    """structuredContent fits every detail of the tool's output model, not only the outline clients check."""
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in
              full_output_validator(name).iter_errors(result.structured_content)]  # fmt: skip
    assert not errors, f"{name} answered outside its output model: {errors}"


async def call_ok(client: Client, name: str, arguments: dict[str, Any], **kw: Any) -> CallToolResult:
    result = await client.call_tool(name, arguments, **kw)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert_conforms(name, result)
    return result


async def call_error(client: Client, name: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} unexpectedly succeeded: {text_of(result)}"
    return text_of(result)


async def call_refused_unsent(client: Client, sandbox: Sandbox, name: str, arguments: dict[str, Any]) -> str:
    """call_error, also checking that the refusal sent nothing to FLORA."""
    before = total_requests(sandbox)
    text = await call_error(client, name, arguments)
    assert total_requests(sandbox) == before
    return text


def generation(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"workspace_id": WORKSPACE, "project_id": PROJECT, "prompt": "a mug", "type": "image"}
    arguments.update(overrides)
    return arguments


def total_requests(sandbox: Sandbox) -> int:
    return sum(sandbox.requests.values())
