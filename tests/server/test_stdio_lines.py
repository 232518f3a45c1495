"""What one stdio line may be, in-process: the linear id scan (json_scan) and the strict read (strict_json)."""

from __future__ import annotations

import time

import pytest

from flora_mcp.server.wire.json_scan import nesting_depth, read_id
from flora_mcp.server.wire.strict_json import refusal, strip_prefix

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"jsonrpc": "2.0", "id": 3, "method": "tools/list"', 3),  # cut off
        ('{"a": "\\"", "id" : "x"}', "x"),  # an escaped quote before it
        ('{"a": {"id": 2}, "id": -5}', -5),  # only the top level counts
        ('{"a\\"id": 1, "id": 7}', 7),
        ('{"a": [1, {"id": 3}], "id": 4', 4),
        ('{"id": 12.5}', None),
        ('{"id": "\\ud800"}', None),  # cannot be written back
        ('{"id": true}', None),
        ('[{"id": 1}]', None),
        ('{"a": "' + '\\"' * 10, None),  # ends inside a string
        ('{"a": "b\\', None),
        ('{"id', None),
    ],
)
def test_read_id_finds_the_top_level_id_of_broken_json(text: str, expected: object) -> None:
    assert read_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"jsonrpc": "2.0", "method": "x", "params": {"prompt": "' + '\\"' * (MIB // 2),
        "{" + '"\\' * (MIB // 2),
        "{" + '"a' * (MIB // 2),
        "[" * 100 + '"' + '\\"' * (MIB // 2),
    ],
    ids=["escaped quotes", "quote backslash", "unclosed strings", "deep then a broken string"],
)
def test_scanning_a_broken_mebibyte_takes_linear_time(text: str) -> None:
    # The old scan retried its string pattern from every later quote: 68 s at 128 KiB.
    started = time.perf_counter()
    read_id(text)
    nesting_depth(text, 64)
    assert time.perf_counter() - started < 0.5


def test_only_a_leading_run_of_bom_and_nul_bytes_is_stripped() -> None:
    assert strip_prefix(b"\xef\xbb\xbf\x00\xef\xbb\xbf{}\n") == b"{}\n"
    assert strip_prefix(b'{"a": "\x00"}\n') == b'{"a": "\x00"}\n'
    assert strip_prefix(b"\xef\xbb{}") == b"\xef\xbb{}"  # not a whole BOM: left for the UTF-8 check
    assert strip_prefix(b"\x00\n") == b"\n"


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ('{"id": 1, "x": NaN}', -32700, "NaN is not a JSON value"),
        ('{"id": 1, "x": [-Infinity]}', -32700, "-Infinity is not a JSON value"),
        ('{"id": 1, "x": -1e400}', -32700, "too large for a double"),
        ('{"id": 1, "x": {"y": {"k": 1, "k": 1}}}', -32600, '"k" appears twice'),
        ('{"id": 1, "id": 2}', -32600, '"id" appears twice'),
        ('{"id": 1, "' + "k" * 100 + '": 1, "' + "k" * 100 + '": 2}', -32600, "a key appears twice"),
        ('{"id": 1, "x": 1,}', -32700, "not valid JSON (Expecting property name"),
        ('{"id": 1} x', -32700, "Extra data"),
    ],
)
def test_non_strict_json_is_refused_with_the_line_id(text: str, code: int, words: str) -> None:
    [answer] = refusal(text) or []
    assert answer.id == 1 and answer.error.code == code and words in answer.error.message


def test_a_long_integer_does_not_stop_the_duplicate_key_check() -> None:
    # int() refuses over 4,300 digits; digits are kept as text so the check reads on.
    [answer] = refusal('{"id": 1, "n": ' + "9" * 5000 + ', "k": 1, "k": 2}') or []
    assert answer.error.code == -32600
    assert refusal('{"jsonrpc": "2.0", "id": ' + "7" * 5000 + ', "method": "ping"}') is None  # the SDK decides


def test_a_batch_is_answered_per_item_that_has_an_id() -> None:
    answers = refusal('[{"id": 1, "method": "ping"}, {"method": "n"}, 3, {"id": "b"}, {"id": ' + "8" * 5000 + "}]")
    assert [answer.id for answer in answers or []] == [1, "b", 8 * (10**5000 - 1) // 9]  # 5,000 eights
    assert all(answer.error.code == -32600 for answer in answers or [])
    assert [answer.id for answer in refusal("[]") or []] == [None]
    assert [answer.id for answer in refusal('[{"method": "notifications/initialized"}]') or []] == [None]


def test_strict_json_objects_pass_on_to_the_sdk() -> None:
    assert refusal('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": 1.5e300, "s": "NaN"}}') is None
    assert refusal('"just a string"') is None and refusal("null") is None  # not JSON-RPC: the SDK answers
