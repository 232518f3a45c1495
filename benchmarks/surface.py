"""Item 2: what the agent must read: the tools/list answer and the server instructions.

Sizes are of compact JSON as sent on the wire; tokens are estimated as bytes / 4 (no tokenizer is
shipped here, and the estimate is the same for both servers). The official server's two tools
are small because the API lives in the SDK it asks the agent to code against; its instructions
say "if unsure about the API, call search_docs first", so the docs an agent reads for the two
measured tasks are reported beside it, as is the size of the code versus arguments it writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.peers import Peer
from benchmarks.rpc import tool_error_text

DOC_QUERIES = ("get the status and outputs of a generation run", "start an image generation")


def compact_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def measure_peer(peer: Peer, log_dir: Path) -> dict[str, Any]:
    client = peer.stdio(log_dir)
    client.spawn()
    try:
        init = client.initialize()
        tools = client.request("tools/list")
        instructions = init.get("instructions") or ""
        tools_bytes = compact_size(tools)
        result: dict[str, Any] = {
            "tools": [tool["name"] for tool in tools.get("tools", [])],
            "tools_list_bytes": tools_bytes,
            "tools_list_tokens": tools_bytes / 4,
            "instructions_bytes": len(instructions.encode()),
            "instructions_tokens": len(instructions.encode()) / 4,
            "instructions": instructions,
        }
        result["parts_bytes"] = {
            part: sum(compact_size(tool.get(key)) for tool in tools.get("tools", []) if tool.get(key) is not None)
            for part, key in (
                ("descriptions", "description"),
                ("input schemas", "inputSchema"),
                ("output schemas", "outputSchema"),
                ("annotations", "annotations"),
            )
        }
        result["per_tool_bytes"] = {tool["name"]: compact_size(tool) for tool in tools.get("tools", [])}
        if peer.key == "official":
            docs = []
            for query in DOC_QUERIES:
                answer = client.call_tool("search_docs", {"query": query, "language": "typescript"})
                text = "".join(str(item.get("text", "")) for item in answer.get("content", []))
                docs.append({"query": query, "bytes": len(text.encode()), "error": tool_error_text(answer)})
            result["docs_searches"] = docs
        return result
    finally:
        client.close()


def measure(peers: list[Peer], log_dir: Path) -> dict[str, Any]:
    return {peer.key: measure_peer(peer, log_dir) for peer in peers}


def written_bytes(peer: Peer, run_id: str) -> dict[str, int]:
    """Bytes of arguments the agent must write for a read and for a start."""
    sizes = {"read": compact_size(peer.read_call(run_id)[1])}
    if peer.key != "bare":
        sizes["start"] = compact_size(peer.start_call()[1])
    return sizes
