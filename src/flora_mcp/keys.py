"""API keys: whether a string can be one, and scrubbing every spelling of one out of text.

A key goes into one HTTP header, so it must be printable ASCII without spaces; anything else
(a trailing newline from a CRLF `.env` file, a NUL) would make the header illegal, and the
HTTP library's error would quote the header, key included. `key_problem` says what is wrong
without repeating the key.

`KeyScrubber` replaces the key wherever text we do not control (an answer body, an exception's
text) spells it: raw, JSON-escaped (any character as `\\u005f`, or `\\/`), Python-escaped
(`\\x5f`, as a bytes repr shows it), either of those escaped again (`\\\\u005f`), percent-encoded
(`%5F`, any case) or as an HTML entity (`&lowbar;`, `&#95;`, `&#x5F;`, leading zeros, with or
without the `;`, `&amp;` escaped again), in any mix, character by character. It replaces whole
keys only: the match must not be part of a longer word, so a short key never cuts a hole in
ordinary text ("GET /workspaces" stays whole).

Base64 (standard or URL-safe) spells the key too, alone or inside a longer value (`Basic
base64(user:key)`), where it can start at any of three byte offsets. For each offset the
characters that depend on the key's bytes alone are fixed, so they are worked out once per key
(`_base64_cores`); wherever one appears, the whole base64 token around it is replaced. Only for
keys of 8 characters or more: a shorter key's base64 is short enough to turn up by chance.

Speed: everything is compiled once per key; a call is two regex passes over the text (about
0.03 ms for 2 KB of ordinary text; the main pattern first checks that a position can start a
spelling at all, which is most of that speed).
"""

from __future__ import annotations

import base64
import html.entities
import re

REDACTED = "[redacted]"

# Characters that continue a word (a key, an id): a key glued to them is not that key.
_WORD = "A-Za-z0-9_\\-"
# The key may follow a word character when that character ends an escape (`\u0022`, `%22`).
_BEFORE = rf"(?:(?<![{_WORD}])|(?<=\\u[0-9A-Fa-f]{{4}})|(?<=\\x[0-9A-Fa-f]{{2}})|(?<=%[0-9A-Fa-f]{{2}}))"
_AFTER = rf"(?![{_WORD}])"
# A backslash escape may itself be escaped (JSON of text that holds `\u0073`): any number of them.
_JSON_SHORT = {"/": r"\\+/", "\\": r"\\+\\", '"': r'\\+"'}
# HTML's named references for ASCII characters (`&lowbar;` for `_`); letters and digits have none.
_NAMED_ENTITIES: dict[str, list[str]] = {}
for _name, _char in html.entities.html5.items():
    if len(_char) == 1 and _char.isascii():
        _NAMED_ENTITIES.setdefault(_char, []).append(_name)
del _name, _char
_AMP = "&(?:amp;)*"  # `&` itself escaped again, as `&amp;#115;`
# Base64 only for keys this long (see the module docstring), and what a base64 token is made of.
_MIN_BASE64_KEY = 8
_BASE64_CHAR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


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
        options.append(r"\\+u" + _hex(code, 4))
    if code <= 0xFF:
        options.append(r"\\+x" + _hex(code, 2))
    options.append("".join("%" + _hex(byte, 2) for byte in char.encode()))
    if char in _JSON_SHORT:
        options.append(_JSON_SHORT[char])
    options.append(f"{_AMP}#0*{code};?")
    options.append(f"{_AMP}#[xX]0*{_hex(code, 1)};?")
    options.extend(_AMP + re.escape(name) for name in _NAMED_ENTITIES.get(char, ()))
    return "(?:" + "|".join(options) + ")"


def _base64_cores(key: bytes) -> set[str]:
    """The base64 characters fixed by `key` alone, at each of the 3 byte offsets, in both alphabets."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + key + bytes(2)).decode()
        # Characters wholly within the key's bits: from ceil(8*offset/6) to floor(8*(offset+len)/6).
        core = encoded[-(-8 * offset // 6) : 8 * (offset + len(key)) // 6]
        cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return cores


class KeyScrubber:
    """Replaces one key, in all its spellings (see the module docstring), with `[redacted]`."""

    def __init__(self, key: str) -> None:
        self._key = key
        # Every spelling starts with the character itself, `\\`, `%` or `&`: checking that first
        # lets the regex leave almost every position at once (a third of the time on 2 KB).
        first = f"(?=[{re.escape(key[:1])}\\\\%&])" if key else ""
        self._pattern = re.compile(first + _BEFORE + "".join(_spellings(c) for c in key) + _AFTER)
        cores = _base64_cores(key.encode()) if len(key) >= _MIN_BASE64_KEY else set()
        self._base64 = re.compile("|".join(map(re.escape, sorted(cores)))) if cores else None

    def __repr__(self) -> str:
        return "KeyScrubber(key=<hidden>)"

    def text(self, text: str) -> str:
        """`text` with every whole spelling of the key replaced."""
        text = self._pattern.sub(REDACTED, text)
        return self._without_base64(text) if self._base64 is not None else text

    def _without_base64(self, text: str) -> str:
        """`text` with each base64 token that holds the key replaced whole."""
        assert self._base64 is not None
        pieces, done = [], 0
        for match in self._base64.finditer(text):
            start, end = match.start(), match.end()
            if start < done:
                continue  # inside a token already replaced
            # Grown by hand, not by the regex: `[chars]*core` would backtrack over long base64.
            while start > 0 and text[start - 1] in _BASE64_CHAR:
                start -= 1
            while end < len(text) and text[end] in _BASE64_CHAR:
                end += 1
            while end < len(text) and text[end] == "=":
                end += 1
            pieces += [text[done:start], REDACTED]
            done = end
        return "".join(pieces) + text[done:] if pieces else text

    def bytes(self, body: bytes) -> bytes:
        """`body` with every whole spelling of the key replaced; all other bytes kept exactly."""
        # surrogateescape round-trips any byte sequence, so a body that is not UTF-8 is unharmed.
        text = body.decode("utf-8", "surrogateescape")
        scrubbed = self.text(text)
        return body if scrubbed == text else scrubbed.encode("utf-8", "surrogateescape")
