"""--state-url / FLORA_STATE_URL on the command line, and `flora-mcp spend`, against real SQLite files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from flora_mcp.state import ReserveRequest, migrations, open_store

KEY = "sk-cli-spend-0001"
DAY = 86400.0


def flora_mcp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flora_mcp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "FLORA_STATE_URL" in lines[0]
    return lines[0]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_bad_state_url_is_a_one_line_error_naming_the_setting(how: str) -> None:
    url = "mysql://somewhere/db"
    done = flora_mcp("--state-url", url) if how == "flag" else flora_mcp(env={"FLORA_STATE_URL": url})
    line = one_line_error(done)
    assert "mysql://somewhere/db" in line and "sqlite:///" in line and "postgresql://" in line


def test_a_store_written_by_a_newer_flora_mcp_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    async def create() -> None:
        async with open_store(f"sqlite:///{path}"):
            pass

    anyio.run(create)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE flora_meta SET value = ? WHERE name = 'schema_version'", (str(migrations.LATEST + 1),))
    line = one_line_error(flora_mcp("--state-url", f"sqlite:///{path}"))
    assert "newer flora-mcp" in line and str(path) in line


def test_a_file_that_is_not_a_store_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for" * 100)
    line = one_line_error(flora_mcp("--state-url", f"sqlite:///{path}"))
    assert "state store" in line


def _book(url: str) -> None:
    async def book() -> None:
        async with open_store(url) as store:
            me, other = store.fingerprint(KEY), store.fingerprint("sk-someone-else")
            now = time.time()
            starts = [
                (me, "k-image-1", now - 2 * DAY, 0.04, "t2i-sandbox-image", None),
                (me, "k-image-2", now - 1, 0.04, "t2i-sandbox-image", None),
                (me, "k-clip-01", now - 1, 0.9, None, "tech_sandboxclip"),
                (other, "k-other-1", now - 1, 5.0, "t2v-sandbox-video", None),
            ]
            for caller, key, at, quote, model, technique in starts:
                request = ReserveRequest(
                    caller=caller, tool="start_generation_run", args_digest=key, idempotency_key=key,
                    quote_usd=quote, cap_usd=None, now=at, model_id=model, technique_id=technique,
                )  # fmt: skip
                await store.reserve(request)
                await store.settle(key, status="started", now=at, run_id="run_" + key)

    anyio.run(book)


def test_spend_prints_the_callers_report_by_day_and_by_model_or_technique(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    _book(url)
    done = flora_mcp("--state-url", url, "spend", env={"FLORA_API_KEY": KEY})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert str(tmp_path / "state.db") in out, "it says which store it read"
    assert "Total: 0.9800 USD over 3 start(s)" in out
    assert "model t2i-sandbox-image" in out and "0.0800 USD" in out
    assert "technique tech_sandboxclip" in out and "0.9000 USD" in out
    assert "t2v-sandbox-video" not in out and "5.0000" not in out, "another caller's starts are not shown"
    by_day = out.split("By day (UTC):")[1].split("By model")[0].strip().splitlines()
    assert len(by_day) == 2
    assert KEY not in out + done.stderr

    recent = flora_mcp("--state-url", url, "spend", "--days", "1", env={"FLORA_API_KEY": KEY})
    assert "Total: 0.9400 USD over 2 start(s)" in recent.stdout


def test_spend_without_an_api_key_says_what_it_needs(tmp_path: Path) -> None:
    done = flora_mcp("--state-url", f"sqlite:///{tmp_path}/state.db", "spend")
    assert done.returncode == 2 and "FLORA_API_KEY" in done.stderr and "Traceback" not in done.stderr
