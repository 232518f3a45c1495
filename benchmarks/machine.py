"""What ran the benchmark: machine, OS, interpreters, package versions, commit and date."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _run(argv: list[str], cwd: Path | None = None) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe(repo_root: Path) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    commit = _run(["git", "rev-parse", "--short", "HEAD"], cwd=repo_root)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo_root)
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": _run(["node", "--version"]),
        "load_average_at_start": load,
        "packages": {name: _version(name) for name in ("flora-mcp", "mcp", "httpx2", "httpx", "pydantic", "uvicorn")},
        "commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}" if commit else None,
    }
