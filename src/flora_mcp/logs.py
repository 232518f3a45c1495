"""Structured log lines on stderr: one JSON object per line.

stdout is the MCP wire in stdio mode, so logs go to stderr only. Fields passed with
`logger.info("flora call", extra={"request_id": ..., "status": ...})` become keys of the line,
so a user can grep or `jq` for the FLORA request id of any call.

Repeats are held back (`RepeatLimit`): under a flood (a crowd of slow clients, the process out of
file descriptors and asyncio reporting every failed accept) the same line would otherwise be
written thousands of times a second and fill the disk. Each kind of line is written at most a
few times per minute; the next one written says how many were held back.

No header value is written either: httpcore's DEBUG traces quote the exceptions of a request
it could not send ("Illegal header value b'Bearer sk_...'"), so its loggers are kept at INFO, and
any `Bearer <token>` that reaches a line anyway is replaced (`BearerScrub`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JSONLineFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class RepeatLimit(logging.Filter):
    """Lets each kind of line (logger, level, message template) through at most `burst` times per `window` s.

    The first line after a held-back stretch carries `repeats_held_back`. DEBUG lines (asked for
    on purpose) and the per-call FLORA lines of `flora_mcp.api` (each names its own request id)
    always pass.
    """

    def __init__(self, burst: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst, self.window, self.clock = burst, window, clock
        # kind -> [window start, lines passed in it, lines held back since the last one passed]
        self._seen: dict[tuple[str, int, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG or record.name.startswith("flora_mcp.api"):
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is None or now - seen[0] >= self.window:
            held = int(seen[2]) if seen else 0
            if len(self._seen) > 1000:
                self._seen.clear()  # bounded: a flood of distinct lines must not grow this forever
            self._seen[kind] = [now, 1, 0]
            if held:
                record.repeats_held_back = held
            return True
        if seen[1] < self.burst:
            seen[1] += 1
            return True
        seen[2] += 1
        return False


_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"\\,;]+")


class BearerScrub(logging.Filter):
    """Replaces the token of every `Bearer <token>` in a line's message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "earer" in message or "EARER" in message:
            record.msg, record.args = _BEARER.sub(r"\1[redacted]", message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _BEARER.sub(r"\1[redacted]", record.exc_text)
        return True


def configure_logging(level: str) -> None:
    """Send every log line, ours and the SDK's, to stderr as JSON at `level`, repeats held back."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONLineFormatter())
    handler.addFilter(RepeatLimit())
    handler.addFilter(BearerScrub())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _keep_out_rich()
    # httpcore2's DEBUG traces quote failed requests' exceptions, header values included.
    logging.getLogger("httpcore2").setLevel(max(logging.INFO, root.level))


def _keep_out_rich() -> None:
    """Keep the MCP SDK from importing rich (about 26 ms of every cold start) for a handler it never installs.

    MCPServer() calls the SDK's logging setup, which imports rich to build a RichHandler and then
    hands it to logging.basicConfig, a no-op once the root logger has a handler, as it does
    here. Marked absent before anything imported it, rich.console fails to import and the SDK
    takes its documented fallback (a plain StreamHandler, equally discarded). Only this process
    (the CLI, which owns its logging) is affected, and nothing in it uses rich.
    """
    if "rich.console" not in sys.modules:
        sys.modules["rich.console"] = None  # type: ignore[assignment]
