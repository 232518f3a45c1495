"""The FLORA sandbox on a real socket in a child process, and a small client for its control routes.

Every peer (the raw httpx floor, flora-mcp, FLORA's official server) reaches the same kind of
sandbox over real TCP on 127.0.0.1, so none of them gets an in-process shortcut. The sandbox's
request counters (`GET /_sandbox/state`) are how upstream requests are counted, and its fault
queue (`POST /_sandbox/faults`) is how a lost answer is injected.

Run as `python -m benchmarks.sandbox_proc --time-scale X`: it prints its base URL on one line.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

API_KEY = "sk-sandbox"


class SandboxProcess:
    """A sandbox served by a child process; `base_url` ends in /api/v1."""

    def __init__(self, *, time_scale: float, repo_root: Path, log_path: Path | None = None) -> None:
        argv = [sys.executable, "-m", "benchmarks.sandbox_proc", "--time-scale", repr(time_scale)]
        stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(argv, cwd=repo_root, stdout=subprocess.PIPE, stderr=stderr, text=True)
        if not isinstance(stderr, int):
            stderr.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.close()
            raise RuntimeError(f"sandbox did not start (exit {self.proc.poll()}); see {log_path}")
        self.base_url = line
        self.origin = line.split("/api/")[0]
        self.http = httpx.Client(headers={"authorization": f"Bearer {API_KEY}"}, timeout=30)

    def state(self) -> dict[str, Any]:
        response = self.http.get(f"{self.origin}/_sandbox/state")
        response.raise_for_status()
        return dict(response.json())

    def api_requests(self) -> dict[str, int]:
        """Requests per API route so far (control routes left out)."""
        requests: Mapping[str, int] = self.state().get("requests", {})
        return {route: int(count) for route, count in requests.items() if "/_sandbox" not in route}

    def push_fault(self, route: str, kind: str, **fields: Any) -> None:
        response = self.http.post(f"{self.origin}/_sandbox/faults", json={"route": route, "kind": kind, **fields})
        response.raise_for_status()

    def reset(self) -> None:
        self.http.post(f"{self.origin}/_sandbox/reset").raise_for_status()

    def close(self) -> None:
        if getattr(self, "http", None) is not None:
            self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def wait_for_http(url: str, *, timeout: float) -> None:
    """Wait until something answers HTTP at `url` (any status)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(prog="sandbox_proc")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    import anyio
    import uvicorn

    from flora_mcp.sandbox import Sandbox, SandboxConfig

    # Not flora_mcp.sandbox.serve(): it binds a socket created with proto 0, and asyncio sets
    # TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, so every answer there waits ~40 ms
    # for a delayed ACK (Nagle). A floor that slow would hide every server's real cost.
    sandbox = Sandbox(SandboxConfig(time_scale=args.time_scale))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    server = uvicorn.Server(
        uvicorn.Config(sandbox.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    )

    async def serve() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
                await anyio.sleep(0.01)
            sys.stdout.write(sandbox.base_url(f"http://127.0.0.1:{sock.getsockname()[1]}") + "\n")
            sys.stdout.flush()

    anyio.run(serve)


if __name__ == "__main__":
    main()
