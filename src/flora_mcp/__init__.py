"""flora-mcp: FLORA's generative runs as MCP tools for LLM agents.

The package has three layers, each usable on its own:

- `flora_mcp.api`: an async client for FLORA's public API (models, errors, retries).
- `flora_mcp.server`: the MCP server that adapts tool calls to client calls.
- `flora_mcp.sandbox`: a local FLORA-compatible API for trying things and for the tests.
"""

__version__ = "0.1.0"
