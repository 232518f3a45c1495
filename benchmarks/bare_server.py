"""The bare-SDK floor: an MCPServer with one trivial tool, to show what the SDK itself costs.

Run as `python -m benchmarks.bare_server [--transport stdio|streamable-http] [--port N]`. Nothing
here talks to FLORA; any time flora-mcp spends above this server is ours (or FLORA's).
"""

from __future__ import annotations

import argparse

from mcp.server import MCPServer


def build_server() -> MCPServer:
    server = MCPServer("bare-floor")

    @server.tool(name="echo", description="Return the text it is given.")
    def echo(text: str) -> str:
        return text

    return server


def main() -> None:
    parser = argparse.ArgumentParser(prog="bare_server")
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = build_server()
    if args.transport == "stdio":
        server.run()
    else:
        # Stateless, answering in SSE streams: served the way flora-mcp serves, so the floor is comparable.
        server.run("streamable-http", host=args.host, port=args.port, stateless_http=True)


if __name__ == "__main__":
    main()
