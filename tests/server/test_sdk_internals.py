"""Every SDK (mcp) and uvicorn internal flora-mcp relies on still has the shape it is used with.

They are all named in src/flora_mcp/server/sdk_internals.py. If an upgrade of mcp or uvicorn
renames or reshapes one, these fail first and say where to look, instead of tools silently
losing their schemas or their consent step, prompts reappearing, or the HTTP door's connection
guards never running.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import h11
import pytest
import uvicorn
from mcp import Client
from mcp.server import MCPServer
from uvicorn.server import ServerState

from flora_mcp.server import sdk_internals
from flora_mcp.server.sdk_internals import (
    ArgModelBase,
    FuncMetadata,
    ReadResourceContents,
    StrictJsonSchema,
    Tool,
    build_resolver_plans,
    find_resolved_parameters,
    lowlevel_server,
    request_handlers,
)
from flora_mcp.server.tools import build_tools, tool_specs
from flora_mcp.server.tools.registry import build_tool
from flora_mcp.server.wire.http_connections import guarded_protocol

WHERE = (
    "an mcp or uvicorn upgrade changed an internal that flora-mcp relies on: see "
    "src/flora_mcp/server/sdk_internals.py (it lists each one and who uses it)"
)


def parameters(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


# The MCP SDK: the Tool that registry.py builds by hand.


def test_the_sdk_tool_model_still_has_the_fields_the_registry_fills() -> None:
    used = {
        "fn",
        "name",
        "title",
        "description",
        "parameters",
        "fn_metadata",
        "is_async",
        "context_kwarg",
        "resolved_params",
        "resolver_plans",
        "annotations",
        "meta",
    }
    assert used <= set(Tool.model_fields), WHERE
    assert {"arg_model", "output_model", "output_schema"} <= set(FuncMetadata.model_fields), WHERE
    assert hasattr(ArgModelBase, "model_dump_one_level"), WHERE
    assert callable(getattr(StrictJsonSchema, "generate", None)), WHERE
    assert parameters(build_resolver_plans) == ["resolved_params", "tool_arg_names"], WHERE
    assert parameters(find_resolved_parameters) == ["fn"], WHERE


def test_every_spec_builds_and_keeps_unknown_arguments_refused() -> None:
    for spec in tool_specs():
        tool = build_tool(spec)
        assert tool.parameters["additionalProperties"] is False, f"{spec.name}: {WHERE}"
        assert tool.fn_metadata.output_schema is not None, f"{spec.name}: {WHERE}"


def test_the_start_tools_keep_their_consent_step() -> None:
    starts = {tool.name: tool for tool in build_tools() if tool.name.startswith("start_")}
    assert starts, WHERE
    for name, tool in starts.items():
        assert set(tool.resolved_params) == {"quote", "checked", "confirmation"}, f"{name}: {WHERE}"
        assert tool.resolver_plans, f"{name}: {WHERE}"


# The MCP SDK: the lowlevel server's handler table (app.py drops the prompts methods from it).


def test_the_lowlevel_server_and_its_handler_table_are_where_app_py_looks() -> None:
    server: MCPServer[Any] = MCPServer("probe")
    assert hasattr(server, "_lowlevel_server"), WHERE
    lowlevel = lowlevel_server(server)
    assert callable(getattr(lowlevel, "run", None)), WHERE
    assert callable(getattr(lowlevel, "create_initialization_options", None)), WHERE
    handlers = request_handlers(server)
    assert isinstance(handlers, dict), WHERE
    # The methods app.py removes are registered under these keys (a renamed key would leave them served).
    assert {"prompts/list", "prompts/get", "tools/list", "tools/call"} <= set(handlers), WHERE


@pytest.mark.anyio
async def test_prompts_are_neither_served_nor_advertised(client: Client) -> None:
    # What FloraMCPServer._drop_unserved_methods achieves through that table.
    assert client.server_capabilities is not None
    assert client.server_capabilities.prompts is None, WHERE
    assert client.server_capabilities.tools is not None, WHERE


def test_read_resource_still_answers_read_resource_contents() -> None:
    assert {"content", "mime_type"} <= set(inspect.signature(ReadResourceContents).parameters), WHERE
    hint = str(inspect.signature(MCPServer.read_resource).return_annotation)
    assert "ReadResourceContents" in hint, WHERE


# uvicorn: the h11 protocol that wire/http_connections.py subclasses.

OVERRIDDEN = {
    "__init__": ["self", "config", "server_state", "app_state", "_loop"],
    "connection_made": ["self", "transport"],
    "data_received": ["self", "data"],
    "on_response_complete": ["self"],
    "connection_lost": ["self", "exc"],
    "pause_writing": ["self"],
    "resume_writing": ["self"],
}


def test_the_h11_protocol_keeps_the_methods_the_connection_guard_overrides() -> None:
    h11_protocol = sdk_internals.H11Protocol
    for name, expected in OVERRIDDEN.items():
        method = getattr(h11_protocol, name, None)
        assert callable(method), f"H11Protocol.{name}: {WHERE}"
        assert parameters(method) == expected, f"H11Protocol.{name}: {WHERE}"


def test_uvicorn_config_takes_a_protocol_class() -> None:
    protocol, _ = guarded_protocol(max_connections=8, header_timeout=5)
    config = uvicorn.Config(_app, http=protocol, log_config=None)
    config.load()
    assert config.http_protocol_class is protocol, WHERE


def test_uvicorn_server_keeps_what_the_transports_and_the_sandbox_use() -> None:
    server = uvicorn.Server(uvicorn.Config(_app, log_config=None))
    assert server.started is False and server.should_exit is False, WHERE
    assert "sockets" in parameters(server.serve), WHERE
    assert isinstance(server.capture_signals(), AbstractContextManager), WHERE


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.mark.anyio
async def test_the_h11_protocol_keeps_the_state_the_connection_guard_reads() -> None:
    """One request through the guarded protocol, checking each attribute it relies on on the way."""
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["path"])
        await _app(scope, receive, send)

    protocol_class, _ = guarded_protocol(max_connections=8, header_timeout=5)
    config = uvicorn.Config(app, http=protocol_class, log_config=None, lifespan="off", proxy_headers=False)
    state = ServerState()
    connection = protocol_class(config=config, server_state=state, app_state={})
    assert isinstance(connection.loop, asyncio.AbstractEventLoop), WHERE
    assert isinstance(connection.conn, h11.Connection), WHERE
    assert connection.connections is state.connections, WHERE
    assert connection.cycle is None, WHERE

    transport = FakeTransport()
    connection.connection_made(transport)
    assert connection.transport is transport and connection in state.connections, WHERE
    connection.data_received(b"GET /probe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    for _ in range(50):
        await asyncio.sleep(0)
        if connection.cycle is not None and connection.cycle.response_complete:
            break
    # The request ran the app the guard installed (self.app), and its cycle finished.
    assert called == ["/probe"], WHERE
    assert connection.cycle.response_complete is True, WHERE
    assert bytes(transport.written).startswith(b"HTTP/1.1 200"), WHERE

    connection.pause_writing()
    connection.resume_writing()
    connection.connection_lost(None)
    assert connection not in state.connections, WHERE
    for task in list(state.tasks):
        await task
