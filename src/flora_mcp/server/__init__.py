"""The MCP layer: tools over the FLORA client, the server factory and its transports.

`create_server(settings)` builds the server; `wire.transports` serves it over stdio or HTTP.
"""

from flora_mcp.server.app import INSTRUCTIONS, create_server

__all__ = ["INSTRUCTIONS", "create_server"]
