"""JSON as the database and the channels write it: it reads back as the standard library's would."""

from __future__ import annotations

import json
import math
from collections import OrderedDict, namedtuple
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from db import jsontext

Point = namedtuple("Point", "x y")


class Half(float):
    pass


class Lang(StrEnum):
    SQ = "sq"


class Lane(IntEnum):
    FOLLOWUP = 2


def test_letters_stay_as_they_are_and_read_back_with_either_library() -> None:
    value = {"text": "Ju lutem, shkruani përsëri · Молимо Вас, пишите поново", "buttons": [["a", "b"]], "n": 3}
    written = jsontext.dumps(value)
    assert "përsëri" in written and "Молимо" in written and "\\u" not in written
    assert json.loads(written) == value == jsontext.loads(written)
    assert jsontext.loads(json.dumps(value)) == value  # what was stored before reads the same
    assert jsontext.dumps_bytes(value) == written.encode()


@pytest.mark.parametrize(
    "value",
    [
        {1: "a", 2: ["b"]},  # keys that are not strings
        {"id": 2**70 + 1, "low": -(2**63) - 1},  # wider than 64 bits
        {"p": Point(1, 2), "half": Half(0.5), "lang": Lang.SQ, "lane": Lane.FOLLOWUP},  # subclasses
        OrderedDict(b=1, a=[1.5, None, True]),
    ],
    ids=["int-keys", "big-ints", "subclasses", "ordered"],
)
def test_values_read_back_as_the_standard_library_wrote_them(value: Any) -> None:
    expected = json.loads(json.dumps(value, default=str))
    assert jsontext.loads(jsontext.dumps(value)) == expected
    assert jsontext.loads(jsontext.dumps(value, default=str)) == expected
    assert jsontext.loads(jsontext.dumps_bytes(value)) == expected


def test_numbers_wider_than_64_bits_are_read_exactly() -> None:
    assert jsontext.loads('{"answer": 12345678901234567890123}') == {"answer": 12345678901234567890123}
    assert jsontext.loads(b"[-9223372036854775809, 18446744073709551616]") == [-(2**63) - 1, 2**64]


def test_floats_that_are_not_finite_are_written_as_the_standard_library_writes_them() -> None:
    written = jsontext.dumps({"x": float("nan"), "y": [float("inf"), None], "z": -float("inf")})
    read = jsontext.loads(written)
    assert math.isnan(read["x"]) and read["y"] == [math.inf, None] and read["z"] == -math.inf


def test_a_lone_surrogate_is_written_as_the_replacement_character() -> None:
    assert jsontext.loads(jsontext.dumps({"text": "hi \ud800 there"})) == {"text": "hi \ufffd there"}
    assert jsontext.dumps({"text": "hi \ud800"}).encode()  # storable and sendable as UTF-8
    assert jsontext.loads('{"text": "\\ud800"}') == {"text": "\ud800"}  # read as the standard library reads it


def test_dates_go_to_default_as_with_the_standard_library() -> None:
    at = {"at": datetime(2026, 1, 2, tzinfo=UTC)}
    assert jsontext.loads(jsontext.dumps(at, default=str)) == json.loads(json.dumps(at, default=str))
    with pytest.raises(TypeError):
        jsontext.dumps(at)  # as json.dumps without `default`
    with pytest.raises(TypeError):
        jsontext.dumps({"a": {1, 2}})


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", "[1,]", "nul", "[" * 10_000])
def test_what_is_not_json_raises_a_value_error(text: str) -> None:
    with pytest.raises((ValueError, RecursionError)):
        jsontext.loads(text)
