"""The servers being compared, and how to start each over stdio or streamable HTTP on 127.0.0.1.

- `ours`: flora-mcp (`python -m flora_mcp`), pointed at a sandbox by FLORA_BASE_URL / FLORA_API_KEY.
- `bare`: an MCPServer with one trivial tool (benchmarks/bare_server.py): the SDK's own cost.
- `official`: FLORA's npm `flora-mcp` 0.11.0 (see benchmarks/official.py), same two variables.

Each peer also says how an agent does the two pieces of work measured everywhere: read one run's
state, and start a generation (then follow it). For the official server that is TypeScript run
by its `execute` tool, written the way its tool description asks (an `async function run(client)`
using the FLORA SDK: `client.generations.retrieve(id)`, `client.generations.create({...})`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.official import OfficialServer
from benchmarks.rpc import StdioPeer, child_env, stop_process_group
from benchmarks.sandbox_proc import API_KEY, wait_for_http

# The one image generation every peer starts (the official server's TypeScript is filled from it too).
IMAGE_START = {
    "workspace_id": "ws_sandbox",
    "project_id": "prj_sandbox",
    "prompt": "a red fox in fresh snow, morning light",
    "type": "image",
}
# How the Python servers (ours and the bare floor) are told to serve streamable HTTP; the port follows.
PYTHON_HTTP_FLAGS = ["--transport", "streamable-http", "--host", "127.0.0.1", "--port"]

OFFICIAL_READ = """async function run(client) {
  return await client.generations.retrieve('%(run_id)s');
}"""

OFFICIAL_START = """async function run(client) {
  return await client.generations.create({
    workspace_id: '%(workspace_id)s',
    project_id: '%(project_id)s',
    prompt: '%(prompt)s',
    type: 'image',
  });
}"""

OFFICIAL_START_AND_FOLLOW = """async function run(client) {
  const started = await client.generations.create({
    workspace_id: '%(workspace_id)s',
    project_id: '%(project_id)s',
    prompt: '%(prompt)s',
    type: 'image',
  });
  let state = await client.generations.retrieve(started.run_id);
  while (state.status === 'pending' || state.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    state = await client.generations.retrieve(started.run_id);
  }
  return state;
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Peer:
    key: str  # ours, bare, official
    label: str
    argv: list[str]
    http_flags: list[str]  # appended with the port to serve streamable HTTP
    http_path: str
    env_extra: dict[str, str]
    cwd: str
    http_headers: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return child_env(self.env_extra) if self.key != "official" else dict(self.env_extra)

    def stdio(self, log_dir: Path) -> StdioPeer:
        return StdioPeer(self.argv, self.env(), cwd=self.cwd, stderr_path=str(log_dir / f"{self.key}-stdio.log"))

    def read_call(self, run_id: str) -> tuple[str, dict[str, Any]]:
        """The tool call that reads one run's state (the bare floor echoes instead)."""
        if self.key == "ours":
            return "get_run", {"run_id": run_id}
        if self.key == "official":
            return "execute", {"code": OFFICIAL_READ % {"run_id": run_id}}
        return "echo", {"text": run_id}

    def start_call(self) -> tuple[str, dict[str, Any]]:
        """The tool call that starts one image generation (and nothing more)."""
        if self.key == "ours":
            # repeat: every call is a new start on purpose (the same prompt again would be
            # answered as a repeat of the first, which measures the journal, not a start).
            return "start_generation_run", {**IMAGE_START, "repeat": True}
        if self.key == "official":
            return "execute", {"code": OFFICIAL_START % IMAGE_START}
        raise ValueError("the bare floor starts nothing")


def official_start_and_follow_code() -> str:
    return OFFICIAL_START_AND_FOLLOW % IMAGE_START


def ours(repo_root: Path, base_url: str, state_url: str = "memory") -> Peer:
    """flora-mcp on the sandbox, with its state store at `state_url` (the default SQLite store
    when given a sqlite: URL; "memory" keeps one run's journal from meeting the next's)."""
    return Peer(
        key="ours",
        label="flora-mcp (this repo)",
        argv=[sys.executable, "-m", "flora_mcp"],
        http_flags=PYTHON_HTTP_FLAGS,
        http_path="/mcp",
        env_extra={
            "FLORA_API_KEY": API_KEY,
            "FLORA_LEND_SERVER_KEY": "true",  # over HTTP the benchmark's clients bring no key
            "FLORA_BASE_URL": base_url,
            "FLORA_LOG_LEVEL": "WARNING",
            "FLORA_STATE_URL": state_url,
        },
        cwd=str(repo_root),
    )


def bare(repo_root: Path) -> Peer:
    return Peer(
        key="bare",
        label="bare MCPServer floor (1 trivial tool)",
        argv=[sys.executable, "-m", "benchmarks.bare_server"],
        http_flags=PYTHON_HTTP_FLAGS,
        http_path="/mcp",
        env_extra={},
        cwd=str(repo_root),
    )


def official(server: OfficialServer, base_url: str) -> Peer:
    return Peer(
        key="official",
        label="official flora-mcp 0.11.0 (npm)",
        argv=server.argv(),
        http_flags=["--transport", "http", "--port"],
        http_path="/",
        env_extra=server.env(base_url, API_KEY),
        cwd=str(server.root),
        # Its HTTP transport refuses requests without a Bearer key (it uses it as the FLORA key).
        http_headers={"authorization": f"Bearer {API_KEY}"},
    )


class HttpServer:
    """A peer serving streamable HTTP on a free 127.0.0.1 port, until closed."""

    def __init__(self, peer: Peer, log_dir: Path) -> None:
        self.peer = peer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{peer.http_path}"
        log = open(log_dir / f"{peer.key}-http.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*peer.argv, *peer.http_flags, str(self.port)],
            env=peer.env(),
            cwd=peer.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        try:
            wait_for_http(f"http://127.0.0.1:{self.port}/", timeout=30)
        except Exception:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def headers(self) -> Mapping[str, str]:
        return self.peer.http_headers

    def close(self) -> None:
        stop_process_group(self.proc)
