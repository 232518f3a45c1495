"""Benchmarks: flora-mcp side by side with FLORA's official MCP server and the raw API.

`python -m benchmarks` runs them all and writes benchmarks/RESULTS.md; see benchmarks/README.md.
Not part of the installed package: it is run from a checkout.
"""
