#!/usr/bin/env bash
# Add flora-mcp to Claude Code over stdio, running the flora-mcp command you installed from a
# clone (`pip install .`, `uv tool install .` or `pipx install .`). If Claude Code cannot find
# it, replace `flora-mcp` with the full path that `which flora-mcp` prints.
# The key comes from your shell's FLORA_API_KEY, so it never lands in your shell history.
# The server name goes before --env: `claude mcp add`'s --env takes several values and would
# swallow a name written after it.
claude mcp add flora --transport stdio --env FLORA_API_KEY="$FLORA_API_KEY" -- flora-mcp

# After publication on PyPI (not yet): uvx fetches and runs the package, nothing to install first.
# claude mcp add flora --transport stdio --env FLORA_API_KEY="$FLORA_API_KEY" -- uvx flora-mcp

# Or a shared flora-mcp served over Streamable HTTP, each user sending their own key:
# claude mcp add flora --transport http http://127.0.0.1:8000/mcp --header "Authorization: Bearer $FLORA_API_KEY"
