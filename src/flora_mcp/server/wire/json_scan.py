"""Reading a line's JSON-RPC id and nesting depth from text that may be broken, cut off or too deep.

A line the server refuses is still answered with its id, so the client's wait for that id ends;
the line is by definition not valid JSON (or too big, or too deep), so the id is found by a
tolerant scan instead of a parser. The scan is a single pass over the line: every token is
matched once and never retried, so a 1 MiB line costs about as much as reading it. (A string
pattern that can fail and be retried from the next quote made the old scan quadratic: a
128 KB line of escaped quotes took over a minute.)
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import cast

RequestId = str | int

# A token is a JSON string or one structural character. The string alternative always matches
# where it starts: up to its closing quote, or, when there is none, to the end of the text (an
# unterminated string swallows the rest of a cut-off line, as a parser would read it). It cannot
# fail, so it is never retried from a later quote, and its possessive loops never backtrack.
_STRING_PATTERN = r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)'
_TOKEN = re.compile(_STRING_PATTERN + r"|[{}\[\]:,]", re.DOTALL)
_STRING = re.compile(_STRING_PATTERN, re.DOTALL)
_NOT_BRACKET = re.compile(r"[^{}\[\]]++")
_STEP = {"{": 1, "[": 1, "}": -1, "]": -1}
_ID_STRING = re.compile(r'\s*+("(?:[^"\\]++|\\.)*+")', re.DOTALL)
_ID_NUMBER = re.compile(r"\s*(-?(?:0|[1-9][0-9]*))(?![0-9.eE])")


def big_int(digits: str) -> int:
    """int(digits) for any length: Python refuses str-to-int over 4,300 digits, and an id may be longer."""
    sign, digits = (-1, digits[1:]) if digits.startswith("-") else (1, digits)
    value = 0
    for start in range(0, len(digits), 1000):
        chunk = digits[start : start + 1000]
        value = value * 10 ** len(chunk) + int(chunk)
    return sign * value


def usable_id(value: object) -> RequestId | None:
    """`value` when it can be written back as a JSON-RPC id: a string or an integer, not a boolean."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # a lone surrogate cannot be written back to the client
        except UnicodeEncodeError:
            return None
    return value


def _id_value(text: str, at: int) -> RequestId | None:
    """The string or integer JSON value starting at `at`, when it is a usable id."""
    if found := _ID_STRING.match(text, at):
        try:
            return usable_id(cast(str, json.loads(found.group(1))))
        except ValueError:
            return None
    if found := _ID_NUMBER.match(text, at):
        return big_int(found.group(1))
    return None


def read_id(text: str) -> RequestId | None:
    """The top-level "id" of a JSON object, read from text that may be broken, cut off or too deep."""
    if not text.lstrip().startswith("{"):
        return None
    depth = 0
    expect_key = False
    key: str | None = None
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark[0] == '"':
            if depth == 1 and expect_key:
                try:
                    key = json.loads(mark)
                except ValueError:
                    key = None  # unterminated: the line ends inside this key
                expect_key = False
        elif mark in "{[":
            depth += 1
            expect_key = mark == "{" and depth == 1
        elif mark in "}]":
            depth -= 1
            if depth <= 0:
                return None
        elif depth != 1:
            continue
        elif mark == ",":
            expect_key = True
        elif key == "id":  # here mark is the ":" after a top-level key
            return _id_value(text, token.end())
        else:
            key = None
    return None


def nesting_depth(text: str, limit: int) -> int:
    """How deep `text` nests objects and arrays (strings skipped); 0 when it has no more than `limit` brackets."""
    if text.count("{") + text.count("[") <= limit:
        return 0  # cannot nest deeper than it has brackets: the usual tool call stops here
    # Strings out, then everything but brackets, then a running sum: each step runs in C, so a
    # large message of many small objects costs a third of a token-by-token walk in Python.
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))
