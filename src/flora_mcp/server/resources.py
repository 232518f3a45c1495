"""Run outputs as MCP resources for the caller of a request (the glue over outputs/resources.py).

`resources/read` and `resources/list` of `flora://runs/{run_id}/outputs/{output_id}` resolve the
request's caller and its FLORA client, then read through the output service, scoped to that caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import Resource as MCPResource

from flora_mcp.api.client import FloraClient
from flora_mcp.outputs.resources import OUTPUT_TEMPLATE, TEMPLATE_DESCRIPTION, list_outputs, output_uri, read_output
from flora_mcp.outputs.service import OutputService
from flora_mcp.server.context import state_of
from flora_mcp.server.sdk_internals import ReadResourceContents


def _service(ctx: Context[Any]) -> tuple[OutputService, FloraClient, str]:
    """The output service, the request's FLORA client and the caller, from a request's Context."""
    state = state_of(ctx)
    if state.outputs is None:  # pragma: no cover - only a wiring mistake gets here
        raise ResourceError("flora-mcp's outputs are not set up")
    who = state.caller(ctx)
    return state.outputs, who.client, who.fingerprint


async def read_output_for(ctx: Context[Any], uri: str) -> Iterable[ReadResourceContents]:
    """read_output for the caller of this request (FloraMCPServer.read_resource calls it)."""
    service, client, caller = _service(ctx)
    return await read_output(service, client, caller, uri)


async def list_outputs_for(ctx: Context[Any]) -> list[MCPResource]:
    """list_outputs for the caller of this request (the resources/list handler calls it)."""
    service, _, caller = _service(ctx)
    return await list_outputs(service, caller)


def register_template(server: MCPServer[Any]) -> None:
    """List the output template in resources/templates/list (reads go through read_output_for)."""

    async def read(run_id: str, output_id: str, ctx: Context[Any]) -> str | bytes:
        # Reached only if the server's read_resource override is bypassed; the answer is the same
        # bytes, under the template's generic MIME type.
        contents = await read_output_for(ctx, output_uri(run_id, output_id))
        return next(iter(contents)).content

    server.resource(OUTPUT_TEMPLATE, name="run-output", title="FLORA run output", description=TEMPLATE_DESCRIPTION)(
        read
    )
