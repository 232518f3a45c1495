#!/usr/bin/env bash
# Add flora-mcp to Claude Code (stdio; uvx fetches the package from PyPI on first use).
# The key comes from your shell's FLORA_API_KEY, so it never lands in your shell history.
# The server name goes before --env: `claude mcp add`'s --env takes several values and would
# swallow a name written after it.
claude mcp add flora --transport stdio --env FLORA_API_KEY="$FLORA_API_KEY" -- uvx flora-mcp

# Or a shared flora-mcp served over Streamable HTTP, each user sending their own key:
# claude mcp add flora --transport http http://127.0.0.1:8000/mcp --header "Authorization: Bearer $FLORA_API_KEY"
