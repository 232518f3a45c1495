"""The stderr log: repeated lines held back under a flood, and no Bearer token ever written."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from flora_mcp.logs import RepeatLimit, configure_logging
from tests.fake_clock import FakeClock


class Stderr:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def getvalue(self) -> str:
        return self.capsys.readouterr().err


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Stderr]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("httpcore2").level
    yield Stderr(capsys)
    root.handlers[:], root.level = saved[0], saved[1]
    logging.getLogger("httpcore2").setLevel(saved[2])


def test_a_flood_of_one_line_is_held_back_and_the_next_line_says_how_many(stderr: Stderr) -> None:
    configure_logging("INFO")
    flood = logging.getLogger("asyncio")
    for _ in range(10_000):
        flood.error("socket.accept() out of system resource")
    logging.getLogger("flora_mcp.server").warning("something else")
    lines = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert len(lines) == 6  # five of the flood, then the other line
    assert lines[-1]["msg"] == "something else"


def test_after_the_window_the_line_passes_again_with_the_count_held_back() -> None:
    clock = FakeClock(0.0)
    limit = RepeatLimit(burst=2, window=10, clock=clock.time)
    record = logging.makeLogRecord({"name": "asyncio", "levelno": logging.ERROR, "msg": "accept failed"})
    passed = [limit.filter(record) for _ in range(7)]
    assert passed == [True, True, False, False, False, False, False]
    clock.now = 11
    assert limit.filter(record) and record.repeats_held_back == 5  # type: ignore[attr-defined]


def test_per_call_flora_lines_are_never_held_back() -> None:
    limit = RepeatLimit(burst=1)
    record = logging.makeLogRecord({"name": "flora_mcp.api", "levelno": logging.WARNING, "msg": "%s -> %s"})
    assert all(limit.filter(record) for _ in range(50))


def test_no_bearer_token_reaches_the_log_even_at_debug(stderr: Stderr) -> None:
    configure_logging("DEBUG")
    logging.getLogger("httpcore2.http11").debug("send_request_headers.failed Illegal header value b'Bearer sk-x1\\n'")
    logging.getLogger("flora_mcp.server").warning("proxy said: Authorization: bearer sk-x2, go away")
    try:
        raise ValueError("Illegal header value b'Bearer sk-x3\\n'")
    except ValueError:
        logging.getLogger("flora_mcp.server").exception("failed")
    text = stderr.getvalue()
    assert "sk-x1" not in text and "sk-x2" not in text and "sk-x3" not in text
    assert "bearer [redacted]" in text
    assert "send_request_headers" not in text, "the HTTP client's own DEBUG traces stay off"
