"""How MCP clients reach the server: stdio framing, Streamable HTTP and SSE apps, the key gate,
Host/Origin checks and request-size limits."""
