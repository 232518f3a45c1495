"""API keys: whether a string can be one, and scrubbing every spelling of one out of text.

A key goes into one HTTP header, so it must be printable ASCII without spaces; anything else
(a trailing newline from a CRLF `.env` file, a NUL) would make the header illegal, and the
HTTP library's error would quote the header, key included. `key_problem` says what is wrong
without repeating the key.

`KeyScrubber` replaces the key wherever text we do not control (an answer body, an exception's
text) spells it: raw, JSON-escaped (any character as `\\u005f`, or `\\/`), Python-escaped
(`\\x5f`, as a bytes repr shows it) or percent-encoded (`%5F`, any case), in any mix. It
replaces whole keys only: the match must not be part of a longer word, so a short key never
cuts a hole in ordinary text ("GET /workspaces" stays whole).
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# Characters that continue a word (a key, an id): a key glued to them is not that key.
_WORD = "A-Za-z0-9_\\-"
# The key may follow a word character when that character ends an escape (`\u0022`, `%22`).
_BEFORE = rf"(?:(?<![{_WORD}])|(?<=\\u[0-9A-Fa-f]{{4}})|(?<=\\x[0-9A-Fa-f]{{2}})|(?<=%[0-9A-Fa-f]{{2}}))"
_AFTER = rf"(?![{_WORD}])"
_JSON_SHORT = {"/": r"\\/", "\\": r"\\\\", '"': r'\\"'}


def key_problem(key: str) -> str | None:
    """Why `key` cannot be sent as a Bearer token, in words that do not repeat it; None if it can."""
    if not key:
        return "is empty"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return "contains a control character (a line break, tab or NUL); copy the key again without it"
    if any(c.isspace() for c in key):
        return "contains a space; a key is one word"
    if not key.isascii():
        return "contains a non-ASCII character; copy the key again from FLORA's dashboard"
    return None


def _hex(value: int, width: int) -> str:
    """`value` as `width` hex digits, each letter matching either case."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")


def _spellings(char: str) -> str:
    """A regex alternation of every way one character of the key can be spelt in escaped text."""
    code = ord(char)
    options = [re.escape(char)]
    if code <= 0xFFFF:
        options.append(r"\\u" + _hex(code, 4))
    if code <= 0xFF:
        options.append(r"\\x" + _hex(code, 2))
    options.append("".join("%" + _hex(byte, 2) for byte in char.encode()))
    if char in _JSON_SHORT:
        options.append(_JSON_SHORT[char])
    return "(?:" + "|".join(options) + ")"


class KeyScrubber:
    """Replaces one key, in all its spellings (see the module docstring), with `[redacted]`."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._pattern = re.compile(_BEFORE + "".join(_spellings(c) for c in key) + _AFTER)

    def __repr__(self) -> str:
        return "KeyScrubber(key=<hidden>)"

    def text(self, text: str) -> str:
        """`text` with every whole spelling of the key replaced."""
        return self._pattern.sub(REDACTED, text)

    def bytes(self, body: bytes) -> bytes:
        """`body` with every whole spelling of the key replaced; all other bytes kept exactly."""
        # surrogateescape round-trips any byte sequence, so a body that is not UTF-8 is unharmed.
        text = body.decode("utf-8", "surrogateescape")
        scrubbed = self.text(text)
        return body if scrubbed == text else scrubbed.encode("utf-8", "surrogateescape")
