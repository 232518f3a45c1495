"""Install FLORA's official MCP server (npm `flora-mcp` 0.11.0) into a cache folder, and say how to run it.

What it takes to run here, found by reading the package:
- npm cannot fetch its `jq-web` dependency from the tarball URL it names, so the install goes
  through a package.json that overrides `jq-web` with the registry's 0.6.2.
- It refuses to start without OAuth client settings (`MCP_SERVER_OAUTH_CLIENT_ID` and
  `..._SECRET`, any value: they only matter for its hosted OAuth flow).
- `--code-execution-mode local` runs the agent's TypeScript in a Deno subprocess per `execute`
  call (the default sends the code to a hosted sandbox), and `--docs-search-mode local` searches
  docs bundled in the package (the default calls a hosted API). Deno must be on PATH, and only
  deno 2.7.1 works with its worker; we put the npm package's native binary on PATH directly
  (the npm `bin` wrapper is a Node script that would add a Node start to every call).
- Its FLORA SDK reads FLORA_API_KEY and FLORA_BASE_URL, like ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PACKAGE_VERSION = "0.11.0"
DENO_VERSION = "2.7.1"
PACKAGE_JSON = {
    "name": "flora-mcp-benchmark-peer",
    "private": True,
    "description": "FLORA's official MCP server, installed by benchmarks/official.py for side-by-side runs.",
    "dependencies": {"flora-mcp": PACKAGE_VERSION, "deno": DENO_VERSION},
    "overrides": {"jq-web": "0.6.2"},
}


@dataclass(frozen=True)
class OfficialServer:
    root: Path

    @property
    def entry(self) -> Path:
        return self.root / "node_modules" / "flora-mcp" / "index.js"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def argv(self) -> list[str]:
        node = shutil.which("node") or "node"
        return [node, str(self.entry), "--code-execution-mode", "local", "--docs-search-mode", "local"]

    def env(self, base_url: str, api_key: str) -> dict[str, str]:
        path = f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        return {
            "PATH": path,
            "HOME": os.environ.get("HOME", "/tmp"),
            "MCP_SERVER_OAUTH_CLIENT_ID": "flora-mcp-benchmark",
            "MCP_SERVER_OAUTH_CLIENT_SECRET": "flora-mcp-benchmark",
            "FLORA_API_KEY": api_key,
            "FLORA_BASE_URL": base_url,
        }


def _installed_version(package_json: Path) -> str | None:
    try:
        return str(json.loads(package_json.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _native_deno(root: Path) -> Path | None:
    for candidate in (root / "node_modules" / "deno" / "deno", *root.glob("node_modules/@deno/*/deno")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def is_installed(root: Path) -> bool:
    modules = root / "node_modules"
    return (
        _installed_version(modules / "flora-mcp" / "package.json") == PACKAGE_VERSION
        and _installed_version(modules / "deno" / "package.json") == DENO_VERSION
        and (root / "bin" / "deno").exists()
    )


def node_major() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout
        return int(version.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def ensure_installed(root: Path, *, install: bool = True) -> tuple[OfficialServer | None, str]:
    """The installed official server, installing it first when allowed; or None and the reason."""
    root = root.resolve()
    major = node_major()
    if major is None:
        return None, "node is not installed"
    if major < 18:
        return None, f"node {major} is too old (the official server needs 18+)"
    if not is_installed(root):
        if not install:
            return None, f"not installed in {root} (run the benchmark without --no-install once)"
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not installed"
        root.mkdir(parents=True, exist_ok=True)
        (root / "package.json").write_text(json.dumps(PACKAGE_JSON, indent=2) + "\n")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            return None, f"npm install failed: {done.stderr.strip()[-500:]}"
        deno = _native_deno(root)
        if deno is None:
            return None, "npm installed deno but no native deno binary was found"
        (root / "bin").mkdir(exist_ok=True)
        link = root / "bin" / "deno"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(deno.resolve())
    return OfficialServer(root), f"flora-mcp {PACKAGE_VERSION} (npm) with deno {DENO_VERSION}, node {major}"
