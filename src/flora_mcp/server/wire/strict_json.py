"""Strict JSON on stdio: what one line must be before it reaches the SDK and, through it, the tools.

The SDK's parser (pydantic's) is lenient where a wire that starts paid runs must not be: it reads
NaN, Infinity and -Infinity as numbers and 1e999 as infinity, and it keeps the last of two equal
keys, so {"prompt": "a mug", "prompt": "..."} means one thing to a client's log or a proxy's
filter and another to the server. So every line is first read by Python's json, strictly, and a
line it refuses is answered here, with the line's id whenever it can be read, and goes no further:

- NaN, Infinity, -Infinity, or a number too large for a double: parse error (-32700), since
  RFC 8259 has no such values;
- the same key twice in one object, anywhere in the message: invalid request (-32600): the JSON
  is well formed, but which value was meant is not;
- anything else Python's json refuses: parse error, with its reason (a position, never content);
- an array, that is a JSON-RPC batch: invalid request for each item, with that item's id. MCP has
  had no batches since 2025-06-18; dispatching the items one by one would answer a batching
  client with loose lines it does not wait for, and start paid runs through framing the protocol
  no longer has. Items without an id (notifications) get no answer, as JSON-RPC says; an array
  with no id at all (empty, only notifications or non-objects) gets one answer with id null.

A line that passes goes on to the SDK's parser, which still decides whether it is a JSON-RPC
message (and refuses the few things Python's json is laxer about, such as lone surrogates).

`strip_prefix` runs before all of this, on the raw bytes: see its docstring.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError

from flora_mcp.server.wire.json_scan import RequestId, big_int, read_id, usable_id

# Leading bytes that a client's encoder or framing put before the message, never part of it.
_PREFIX = re.compile(rb"(?:\xef\xbb\xbf|\x00)+")
_BATCH = "Invalid Request: JSON-RPC batches are not supported (MCP has none); send one message per line."


def answer(code: int, message: str, request_id: RequestId | None) -> JSONRPCError:
    """A JSON-RPC error answer."""
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def strip_prefix(line: bytes) -> bytes:
    """`line` without a leading UTF-8 byte order mark or NUL bytes (any mix of them).

    A BOM comes from an encoder that marks UTF-8 (PowerShell, some Windows tools), and RFC 8259
    lets a parser ignore it; NULs come from a client's zero-filled buffer or broken framing. The
    message after them is whole, and it is still read strictly, so what the user expects is what
    happens: it is served, and answered with its own id, instead of refused with id null (the
    client would wait for its answer forever). Only a leading run is removed: a BOM or NUL
    anywhere else is inside the JSON and makes the line a parse error.
    """
    # A cheap test first: nearly every line starts with "{".
    if line[0] in (0x00, 0xEF) and (found := _PREFIX.match(line)):
        return line[found.end() :]
    return line


class _NotStrict(ValueError):
    """Raised from inside the strict decoder's hooks, to refuse the line with this answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _no_constant(name: str) -> NoReturn:
    raise _NotStrict(PARSE_ERROR, f"Parse error: {name} is not a JSON value; send a finite number or a string.")


def _finite(digits: str) -> float:
    value = float(digits)
    if math.isinf(value):
        raise _NotStrict(PARSE_ERROR, "Parse error: a number is too large for a double; send a smaller number.")
    return value


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no key is repeated")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):  # the cheap test; naming the key is only for a refused line
        twice = _first_repeated(pairs)
        named = json.dumps(twice) if len(twice) <= 64 else "a key"
        raise _NotStrict(INVALID_REQUEST, f"Invalid Request: {named} appears twice in one object; send each key once.")
    return found


# Integers are kept as their digits: only the structure is needed here, and int() refuses more
# than 4,300 digits with a ValueError that would end the check before a later duplicate key.
# The hook runs once per object: about 0.2 us each, a few per tool call.
_STRICT = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_int=str, parse_float=_finite
)


def refusal(text: str) -> list[JSONRPCError] | None:
    """The answers refusing `text` (one per batch item), or None when it may go on to the SDK."""
    try:
        value = _STRICT.decode(text)
    except _NotStrict as exc:
        return [answer(exc.code, exc.message, read_id(text))]
    except json.JSONDecodeError as exc:
        message = f"Parse error: the line is not valid JSON ({exc.msg} at column {exc.colno})."
        return [answer(PARSE_ERROR, message, read_id(text))]
    except RecursionError:
        # Unreachable while lines are checked against MAX_DEPTH first; kept so that a change
        # there cannot turn a deep line into a crashed reader (a server that answers nothing).
        return [answer(PARSE_ERROR, "Parse error: the line nests too deep.", read_id(text))]
    if isinstance(value, list):
        return _batch_answers(text)
    return None


def _batch_answers(text: str) -> list[JSONRPCError]:
    items = json.loads(text, parse_int=big_int)  # read again for the ids as numbers, not digits
    ids = [usable_id(item.get("id")) for item in items if isinstance(item, dict)]
    return [answer(INVALID_REQUEST, _BATCH, found) for found in ids if found is not None] or [
        answer(INVALID_REQUEST, _BATCH, None)
    ]
