"""JSON as the database and the channels write it: what the standard library wrote reads back the same."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from db import jsontext


def test_letters_stay_as_they_are_and_read_back_with_either_library() -> None:
    value = {"text": "Ju lutem, shkruani përsëri · Молимо Вас, пишите поново", "buttons": [["a", "b"]], "n": 3}
    written = jsontext.dumps(value)
    assert "përsëri" in written and "Молимо" in written and "\\u" not in written
    assert json.loads(written) == value == jsontext.loads(written)
    assert jsontext.loads(json.dumps(value)) == value  # what was stored before reads the same
    assert jsontext.dumps_bytes(value) == written.encode()


def test_keys_that_are_not_strings_are_written_as_the_standard_library_writes_them() -> None:
    assert json.loads(jsontext.dumps({1: "a", 2: ["b"]})) == json.loads(json.dumps({1: "a", 2: ["b"]}))


def test_what_orjson_cannot_write_or_read_falls_back_to_the_standard_library() -> None:
    huge = {"id": 2**70}
    assert jsontext.loads(jsontext.dumps(huge)) == huge
    lone = {"text": "broken \ud800 half"}  # a lone surrogate, as a Telegram update can carry
    assert jsontext.dumps(lone) == json.dumps(lone, ensure_ascii=False)
    assert jsontext.loads('{"text": "\\ud800"}') == {"text": "\ud800"}
    assert math.isnan(jsontext.loads('{"x": NaN}')["x"])
    at = {"at": datetime(2026, 1, 2, tzinfo=UTC)}
    assert jsontext.loads(jsontext.dumps(at, default=str)) == json.loads(json.dumps(at, default=str))
    with pytest.raises(TypeError):
        jsontext.dumps(at)  # as json.dumps without `default`


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", "[1,]", "nul"])
def test_what_is_not_json_raises_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        jsontext.loads(text)
