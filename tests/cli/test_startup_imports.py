"""What a server start imports: nothing it does not use before the first tools/list."""

from __future__ import annotations

import json
import subprocess
import sys

# A real server start's imports, then the modules that would show the heavy extras came along.
PROBE = """
import json, sys
from flora_mcp import cli
from flora_mcp.logs import configure_logging
configure_logging("WARNING")  # as the CLI does before serving
import flora_mcp.server, flora_mcp.server.wire.transports
from flora_mcp.config import Settings
flora_mcp.server.create_server(Settings(state_url="memory"))
heavy = ("httpx", "httpx2._main", "h11", "pygments.lexers", "rich", "rich.console", "PIL.Image", "uvloop")
print(json.dumps(sorted(m for m in heavy if sys.modules.get(m))))
"""


def test_a_server_start_leaves_out_what_stdio_never_uses() -> None:
    # One HTTP stack: FLORA is reached with the SDK's own httpx2, so httpx is never imported;
    # h11 comes only with the HTTP door; rich only for a log handler the SDK would discard.
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []


def test_with_rich_kept_out_the_sdk_logs_through_our_handler() -> None:
    probe = (
        "import logging\nfrom flora_mcp.logs import configure_logging\nconfigure_logging('INFO')\n"
        "import flora_mcp.server\nfrom flora_mcp.config import Settings\n"
        "flora_mcp.server.create_server(Settings(state_url='memory'))\n"
        "logging.getLogger('mcp.server').info('sdk line')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert '"msg": "sdk line"' in done.stderr and done.stdout == ""
