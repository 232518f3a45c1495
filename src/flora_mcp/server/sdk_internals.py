"""Every internal of the MCP SDK (`mcp`) and of uvicorn that flora-mcp relies on, named in one place.

"Internal": a private attribute, a class from a module the library does not export, or a public
class used in a way the library does not document (built by hand, subclassed and overridden).
An upgrade of either library may change these without notice, so the code reaches them only
through this module, and tests/server/test_sdk_internals.py checks each one (it exists, has the
fields, parameters and methods used here, and still behaves as relied on): after an upgrade it
fails first, naming this module, instead of tools silently losing their schemas or consent step,
prompts reappearing, or the HTTP door's guards never running.

The MCP SDK:

- `Tool`, `FuncMetadata`, `ArgModelBase`, `StrictJsonSchema`, `find_resolved_parameters`,
  `build_resolver_plans`: tools/registry.py builds the SDK's `Tool` from a model instead of a
  function signature (why: see its docstring), filling Tool's fields and the resolver plans the
  SDK's `Tool.from_function` would;
- `request_handlers(server)`: MCPServer's lowlevel server and its method -> handler dict
  (`_lowlevel_server._request_handlers`); app.py removes the prompts handlers from it;
- `lowlevel_server(server)`: MCPServer's lowlevel server, for serving given streams (stdio);
- `ReadResourceContents` (from `mcp.server.lowlevel.helper_types`, not exported): what
  `MCPServer.read_resource` returns, overridden by app.py.

uvicorn:

- `H11Protocol` (`uvicorn.protocols.http.h11_impl`): wire/http_connections.py subclasses it,
  overriding `__init__`, `connection_made`, `data_received`, `on_response_complete`,
  `connection_lost`, `pause_writing` and `resume_writing`, and reading its `loop`, `app` (which it
  replaces; each request cycle runs `self.app`), `transport`, `cycle.response_complete`, `conn`
  (an h11 connection: `their_state`) and `connections` (every open connection of the server).
  Passed to `uvicorn.Config(http=...)` as a class. Imported on first use only: it brings h11,
  which the stdio transport never needs;
- `uvicorn.Server`'s `started` and `should_exit` (wire/transports.py and sandbox/server.py wait
  on them) and its `capture_signals` (sandbox/server.py overrides it to leave signals to its host).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.resolve import build_resolver_plans, find_resolved_parameters
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata, StrictJsonSchema

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.lowlevel import Server
    from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "ArgModelBase",
    "FuncMetadata",
    "H11Protocol",
    "ReadResourceContents",
    "StrictJsonSchema",
    "Tool",
    "build_resolver_plans",
    "find_resolved_parameters",
    "lowlevel_server",
    "request_handlers",
]


def lowlevel_server(server: MCPServer[Any]) -> Server[Any]:
    """The lowlevel server an MCPServer runs on (it has no public accessor)."""
    return server._lowlevel_server


def request_handlers(server: MCPServer[Any]) -> dict[str, Any]:
    """The live method -> handler dict of `server`: a method removed here is no longer served or advertised."""
    handlers: dict[str, Any] = lowlevel_server(server)._request_handlers
    return handlers


def __getattr__(name: str) -> Any:
    # PEP 562: uvicorn's h11 protocol is imported when first asked for (see the module docstring).
    if name == "H11Protocol":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
