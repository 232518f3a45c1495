"""A real PostgreSQL server for tests: initdb and pg_ctl in a temporary folder, on a free port.

PostgreSQL refuses to run as root, and sessions and CI run as root: then initdb and pg_ctl run as
the `postgres` system user (`runuser -u postgres --`) in a folder chowned to it. Otherwise they
run as the current user. Trust authentication, TCP on 127.0.0.1 and the unix socket in the same
folder. Where PostgreSQL cannot be found or started the tests skip with one line, unless
FLORA_TEST_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "flora"


def unavailable(reason: str) -> None:
    """Skip (a user's machine) or fail (CI: FLORA_TEST_REQUIRE_POSTGRES=1) for want of PostgreSQL."""
    if os.environ.get("FLORA_TEST_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here (FLORA_TEST_REQUIRE_POSTGRES=1): {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: $PG_BINDIR, the newest /usr/lib/postgresql/N/bin, or PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += versions
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `new_database()` hands each test a fresh, empty database."""

    port: int
    folder: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _run(argv: list[str], as_postgres: bool) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


@contextlib.contextmanager
def start_postgres(*, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a throwaway server; stopped and removed on exit. durable=False turns fsync off (tests)."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("no initdb/pg_ctl found (install PostgreSQL, e.g. apt-get install -y postgresql)")
    assert bindir is not None
    as_postgres = os.geteuid() == 0
    if as_postgres:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no `postgres` system user to run the server as")
        if shutil.which("runuser") is None:
            unavailable("running as root and `runuser` is missing")
    folder = Path(tempfile.mkdtemp(prefix="flora-pg-"))
    if as_postgres:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    port = free_port()
    try:
        init = _run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync"], as_postgres
        )
        if init.returncode != 0:
            unavailable(f"initdb failed: {init.stderr.strip().splitlines()[-1:] or init.returncode}")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = folder / "log"
        pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
        started = _run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"], as_postgres)
        if started.returncode != 0:
            last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            unavailable(f"pg_ctl start failed: {last or started.stderr.strip()}")
        try:
            yield PostgresServer(port=port, folder=folder)
        finally:
            _run([*pg_ctl, "-m", "immediate", "-w", "stop"], as_postgres)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
