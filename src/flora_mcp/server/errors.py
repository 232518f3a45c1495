"""Failures as text an agent can act on: FLORA errors and refused tool arguments.

Every message names what went wrong (FLORA's code and message, the offending fields, the
request id) and ends with one "Next step" of three kinds:

- fix the input and call again (validation, not_found, forbidden, bad arguments);
- wait N seconds and retry the same call (rate_limited, 5xx and lost connections, after the
  client's own retries; a start is retried with the same idempotency_key so it is never
  charged twice);
- stop and tell the user (unauthorized, insufficient_credits, a missing key).

The API key never appears here: FLORA errors carry none, and argument errors quote no values.

FLORA's text is data (flora_mcp.untrusted): its code, field names and request id are shown on
one line with line breaks and control characters escaped, its messages also in double quotes,
so no line break FLORA sends can put a line (a forged "Next step") above ours.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from flora_mcp.api.errors import (
    AuthenticationError,
    ConflictError,
    FloraAPIError,
    FloraConnectionError,
    FloraError,
    FloraTimeoutError,
    IdempotencyDuplicateError,
    InputValidationError,
    InsufficientCreditsError,
    InvalidJSONError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
)
from flora_mcp.runs.refusals import Refusal, StartFailed, TechniqueNotFound, Unsendable
from flora_mcp.untrusted import one_line, quoted

DEFAULT_RETRY_SECONDS = 30
DEFAULT_RATE_LIMIT_SECONDS = 10
UNEXPECTED_RETRY_SECONDS = 5


def _retry_advice(tool: str, seconds: float, idempotency_key: str | None) -> str:
    text = f"wait {seconds:g} s, then call {tool} again with the same arguments"
    if idempotency_key:
        text += f" and idempotency_key={idempotency_key} (so FLORA cannot start or charge it twice)"
    return text + "."


def next_step_for(exc: FloraError, tool: str, idempotency_key: str | None = None) -> str:
    """The one thing an agent should do after `exc` in `tool`."""
    if isinstance(exc, MissingAPIKeyError | AuthenticationError):
        return (
            "stop and tell the user that the FLORA API key is missing or not accepted "
            "(set FLORA_API_KEY, or send Authorization: Bearer <key> over HTTP)."
        )
    if isinstance(exc, InsufficientCreditsError):
        return "stop and tell the user that the FLORA workspace has too few credits for this run."
    if isinstance(exc, InputValidationError | InvalidJSONError):
        return f"fix the arguments named above and call {tool} again."
    if isinstance(exc, NotFoundError):
        return (
            "check the ids: find valid ones with list_workspaces, list_projects, list_techniques, list_generations or "
            "list_technique_runs (a project this key cannot see is also not_found), then call again."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            "this API key may not do this; use ids of the key's own workspace (list_workspaces), "
            "or tell the user the key lacks access."
        )
    if isinstance(exc, ConflictError):
        return (
            f"FLORA refused this as a conflict ({one_line(exc.code, 100)}), so nothing was started by it. "
            f"Do not treat it as accepted: read the message above, fix what it names, and call {tool} again; "
            "if it is unclear, stop and tell the user what FLORA answered."
        )
    if isinstance(exc, IdempotencyDuplicateError):
        return (
            "a start with this idempotency_key was already accepted: do not start it again; "
            "find the run with list_generations or list_technique_runs."
        )
    if isinstance(exc, RateLimitedError):
        seconds = exc.retry_after if exc.retry_after is not None else DEFAULT_RATE_LIMIT_SECONDS
        return _retry_advice(tool, max(1, round(seconds)), idempotency_key)
    if isinstance(exc, ServerError | FloraConnectionError):
        return _retry_advice(tool, DEFAULT_RETRY_SECONDS, idempotency_key) + (
            " If it keeps failing, tell the user FLORA is having trouble."
        )
    if isinstance(exc, FloraAPIError) and exc.status >= 500:
        return _retry_advice(tool, DEFAULT_RETRY_SECONDS, idempotency_key)
    if isinstance(exc, UnexpectedResponseError):
        # A cut-off, garbled or oversized answer is usually a proxy or a passing outage.
        return _retry_advice(tool, UNEXPECTED_RETRY_SECONDS, idempotency_key) + (
            " If the same comes back, stop and tell the user FLORA (or a proxy in front of it) is not "
            "answering with its API."
        )
    return "stop and tell the user what FLORA answered."


def flora_error_text(exc: FloraError, tool: str, idempotency_key: str | None = None) -> str:
    """The tool-error text for a FLORA failure in `tool`."""
    lines: list[str] = []
    if isinstance(exc, FloraAPIError):
        # A message that is not FLORA's envelope is ours, quoting the body on one line already.
        message = quoted(exc.message) if exc.enveloped else one_line(exc.message, None)
        lines.append(f"FLORA error {one_line(exc.code, 100)} (HTTP {exc.status}): {message}")
        if exc.fields:
            lines.append("Fields: " + "; ".join(f"{one_line(f.field, 100)}: {quoted(f.message)}" for f in exc.fields))
        lines.append(f"Request id: {one_line(exc.request_id or 'none given', 100)}")
        if exc.attempts > 1:
            lines.append(f"Attempts: {exc.attempts}")
    elif isinstance(exc, MissingAPIKeyError):
        lines.append(f"FLORA error missing_api_key: {one_line(exc, None)}. Nothing was sent.")
    elif isinstance(exc, FloraConnectionError):
        code = "timeout" if isinstance(exc, FloraTimeoutError) else "connection_error"
        lines.append(f"FLORA error {code}: {one_line(exc.message, None)}")
        lines.append("Request id: none (no answer arrived)")
        lines.append(f"Attempts: {exc.attempts}")
    else:
        lines.append(f"FLORA error: {one_line(exc, None)}")
    if idempotency_key:
        lines.append(f"Idempotency key: {idempotency_key}")
    lines.append("Next step: " + next_step_for(exc, tool, idempotency_key))
    return "\n".join(lines)


def start_error_text(exc: FloraError, tool: str, idempotency_key: str) -> str:
    """flora_error_text for a failed start, saying whether FLORA may have started (and charged) it."""
    lines = flora_error_text(exc, tool, idempotency_key).split("\n")
    if exc.may_have_been_processed:
        outcome = (
            "Start outcome: unknown. FLORA may have started (and charged) this run before the failure: an "
            f"answer was lost, timed out or was a server error. Calling {tool} again with "
            f"idempotency_key={idempotency_key} is safe: FLORA then reports that run instead of starting "
            "another, or starts it once if it never arrived. Do not start it under a new key."
        )
    else:
        outcome = "Start outcome: not started. FLORA did not act on this request; nothing was charged."
    return "\n".join([*lines[:-1], outcome, lines[-1]])


def unsendable_text(exc: ValueError, tool: str) -> str:
    """The client refused to send a request it could never send (e.g. an input given twice)."""
    return (
        f"Invalid arguments for {tool}: {one_line(exc, None)}. Nothing was sent to FLORA.\n"
        f"Next step: fix it and call {tool} again."
    )


def refusal_text(refusal: Refusal) -> str:
    """What the agent reads for a refusal of the core (runs/refusals.py): the one place they are worded.

    Most carry their own sentences; a FLORA failure is worded like every other FLORA error here.
    """
    if isinstance(refusal, StartFailed):
        text = start_error_text(refusal.error, refusal.tool, refusal.key)
        return text + ("\n" + refusal.searched if refusal.searched else "")
    if isinstance(refusal, Unsendable):
        return unsendable_text(refusal.error, refusal.tool)
    if isinstance(refusal, TechniqueNotFound):
        lines = flora_error_text(refusal.error, "get_technique").split("\n")
        outcome = "Start outcome: not started. The technique was not found, so nothing was sent; nothing was charged."
        return "\n".join([*lines[:-1], outcome, lines[-1]])
    return refusal.text


def tool_error(refusal: Refusal) -> ToolError:
    return ToolError(refusal_text(refusal))


@asynccontextmanager
async def flora_errors(tool: str, idempotency_key: str | None = None) -> AsyncIterator[None]:
    """Turn FLORA failures (and requests the client refuses to send) into actionable tool errors."""
    try:
        yield
    except FloraError as exc:
        raise ToolError(flora_error_text(exc, tool, idempotency_key)) from exc
    except ValidationError:
        raise  # a shape we built is wrong: a bug, reported as one by the server
    except ValueError as exc:
        # The client refuses requests it could never send (e.g. one technique input given twice).
        raise ToolError(unsendable_text(exc, tool)) from exc


# --- refused arguments -------------------------------------------------------------------------
def _field_description(schema: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    """The JSON Schema description of the argument at `loc`, following $refs, items and anyOf."""
    defs = schema.get("$defs", {})
    node: Any = schema
    for part in loc:
        node = _resolve(node, defs)
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part)
        if node is None:
            return None
    node = _resolve(node, defs)
    return node.get("description")


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return defs.get(node["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in node:
        for arm in node["anyOf"]:
            arm = _resolve(arm, defs)
            if arm.get("type") != "null":
                return {**arm, **{k: v for k, v in node.items() if k != "anyOf"}}
    return node


_REGEX_SYNTAX = re.compile(r"[\\\[\](){}.*+?|$^]")


def _form(pattern: str) -> str:
    """What a pattern asks for, in words where it has a fixed start (ids: "starts with ws_")."""
    body = pattern.removeprefix("^")
    fixed = _REGEX_SYNTAX.split(body, maxsplit=1)[0]
    if fixed and pattern.startswith("^"):
        return f" (a valid one starts with {fixed}, as in {fixed}abc123)"
    return f" (the pattern is {pattern})" if pattern else ""


def _problem(error: Any, schema: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = ".".join(str(p) for p in loc) or "(arguments)"
    kind = error["type"]
    if kind == "missing":
        problem = "required but missing"
    elif kind == "extra_forbidden":
        allowed = ", ".join(schema.get("properties", {})) if len(loc) == 1 else "see the tool's input schema"
        return f"- {where}: not an argument of this tool (allowed: {allowed})"
    elif kind == "string_pattern_mismatch":
        problem = "has the wrong form" + _form(str((error.get("ctx") or {}).get("pattern", "")))
    else:
        problem = error["msg"]
        if problem.startswith("Value error, "):
            problem = problem.removeprefix("Value error, ")
    description = _field_description(schema, loc)
    return f"- {where}: {problem}" + (f". Expected: {description}" if description else "")


def invalid_arguments_text(tool: str, exc: ValidationError, schema: dict[str, Any]) -> str:
    """The tool-error text for arguments that fail the tool's input schema. Values are not quoted."""
    lines = [f"Invalid arguments for {tool}; nothing was sent to FLORA."]
    lines.extend(_problem(error, schema) for error in exc.errors())
    lines.append(f"Next step: fix these arguments and call {tool} again.")
    return "\n".join(lines)
