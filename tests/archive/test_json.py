"""parse_json_line: strict where json.loads is lenient."""

from __future__ import annotations

import json
import time

import pytest

from cloudbox.archive import ArchiveLimits, InvalidArchive, parse_json_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"{}", {}),
        (b'{"a":1,"b":[1,2.5,-0,true,false,null],"c":{"d":"\\u00e9"}}', None),
        ('{"emoji":"\U0001d11e","ü":"€"}'.encode(), None),
        (b'{"pair":"\\ud834\\udd1e"}', {"pair": "\U0001d11e"}),
        (b'{"escaped_backslash_u":"\\\\ud800"}', {"escaped_backslash_u": "\\ud800"}),
        (b'{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),
        (b'{"big":123456789012345678901234567890}', None),
        (b'{"f":1e308}', None),
    ],
)
def test_valid_rows(line: bytes, expected: dict[str, object] | None) -> None:
    parsed = parse_json_line(line)
    assert parsed == (expected if expected is not None else json.loads(line))


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (b"", "json_not_object"),
        (b" {}", "json_not_object"),
        (b"{} ", "json_syntax"),
        (b"[]", "json_not_object"),
        (b'"s"', "json_not_object"),
        (b"null", "json_not_object"),
        (b'{"a":NaN}', "json_nan"),
        (b'{"a":[Infinity]}', "json_nan"),
        (b'{"a":-Infinity}', "json_nan"),
        (b'{"a":-1e999}', "json_number"),
        (b'{"a":1,"b":{"c":1,"c":1}}', "json_duplicate_key"),
        (b'{"a":"\\udc00"}', "json_surrogate"),
        (b'{"\\ud800":1}', "json_surrogate"),
        (b'{"a":"\xed\xa0\x80"}', "json_utf8"),  # surrogate encoded in UTF-8
        (b'{"a":"\xc0\xaf"}', "json_utf8"),  # overlong
        (b'{"a":1', "json_syntax"),
        (b'{"a":"x\x01"}', "json_syntax"),  # raw control character
        (b"{'a':1}", "json_syntax"),
        (b'{"a":01}', "json_syntax"),
        (b'{"a":[}', "json_syntax"),
        # An unterminated string's brackets count as nesting: refused either way.
        (
            b'{"a":"unterminated ' + b"[" * 70 + b"}",
            "json_depth",
        ),
    ],
)
def test_invalid_rows(line: bytes, rule: str) -> None:
    with pytest.raises(InvalidArchive) as info:
        parse_json_line(line)
    assert info.value.rule == rule


@pytest.mark.parametrize(
    "line",
    [
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a":' + b"[" * 1_000_000,
        b'{"a":' + b'{"b":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
        b'{"a":' + b"[1," * 200_000 + b"1" + b"]" * 200_000 + b"}",
    ],
    ids=["balanced", "open_only", "objects", "separated"],
)
def test_deep_nesting_is_refused_quickly_without_recursion(line: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(InvalidArchive) as info:
        parse_json_line(line, ArchiveLimits(max_line_bytes=2**24))
    assert info.value.rule == "json_depth"
    assert time.perf_counter() - start < 2.0


def test_many_shallow_brackets_are_fine() -> None:
    line = b'{"a":[' + b",".join([b"[]", b"{}"] * 50_000) + b"]}"
    assert len(parse_json_line(line, ArchiveLimits(max_line_bytes=2**24))["a"]) == 100_000
