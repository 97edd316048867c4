"""Submissions as Kobo-style export rows, and writers for CSV, XLSX and JSON Lines.

Columns are named by group path as Kobo does (``economic/e_food``); a select_multiple gives its
space-separated values plus one 0/1 column per choice (``group/field/choice``); calculates and
``score_*`` fields are columns like any other. Fields inside a repeat get one column per instance
(``household/member[2]/name``). With ``locale`` set, choices are written as labels in that locale.
Pure: the caller opens the stream and decides where it goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from bot import spreadsheet
from bot.forms.model import Form, Node
from bot.forms.prompts import choice_label
from bot.forms.runner import RECORDED_META

BASE_COLUMNS = ["_id", "beneficiary", "wave", "started_at", "completed_at"]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    key: str  # the value key: node key, or key[instance] inside a repeat
    node: Node | None = None
    choice: str | None = None  # set for a 0/1 column of a select_multiple


def _instances(form: Form, submissions: list[Mapping[str, Any]]) -> dict[int, list[tuple[int, ...]]]:
    """Per innermost repeat: the instance numbers (outer first) to give columns, from the answers given.

    A repeat at the top gets 1..the most instances any submission has, as before; a repeat within a
    repeat gets the pairs that occur.
    """
    found: dict[int, set[tuple[int, ...]]] = {}
    for node in form.nodes:
        if node.repeat is None:
            continue
        for submission in submissions:
            for key in submission.get("values", {}):
                if key.startswith(f"{node.key}[") and key.endswith("]"):
                    parts = key[len(node.key) + 1 : -1].split("][")
                    if all(part.isdigit() for part in parts):
                        found.setdefault(node.repeat, set()).add(tuple(int(part) for part in parts))
    out: dict[int, list[tuple[int, ...]]] = {}
    for repeat, numbers in found.items():
        if all(len(n) == 1 for n in numbers):
            out[repeat] = [(i,) for i in range(1, max(n[0] for n in numbers) + 1)]
        else:
            out[repeat] = sorted(numbers)
    return out


def _header(form: Form, node: Node, numbers: tuple[int, ...]) -> str:
    """group/repeat[2]/inner[1]/field, as Kobo names the columns of repeats."""
    chain: list[Node] = []
    at = node.repeat
    while at is not None:
        chain.append(form.nodes[at])
        at = form.nodes[at].repeat
    chain.reverse()
    header, done = "", ""
    for repeat, number in zip(chain, numbers, strict=False):
        header += repeat.path[len(done) :] + f"[{number}]"
        done = repeat.path
    return header + node.path[len(done) :]


def columns(form: Form, submissions: list[Mapping[str, Any]]) -> list[Column]:
    out = [Column(name, name) for name in BASE_COLUMNS]
    sizes = _instances(form, submissions)
    for node in form.nodes:
        if node.kind in ("group", "repeat", "note") or (node.kind == "meta" and node.type not in RECORDED_META):
            continue
        if node.repeat is None:
            places = [(node.path, node.key)]
        else:
            places = [
                (_header(form, node, numbers), node.key + "".join(f"[{n}]" for n in numbers))
                for numbers in sizes.get(node.repeat, [])
            ]
        for header, key in places:
            out.append(Column(header, key, node))
            if node.kind == "select_multiple":
                out.extend(
                    Column(f"{header}/{c.value}", key, node, c.value)
                    for c in form.choices.get(node.list_name or "", [])
                )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _cell(form: Form, column: Column, values: Mapping[str, Any], locale: str | None) -> Any:
    value = values.get(column.key)
    node = column.node
    if node is None or value is None:
        return None if column.choice is None or value is None else 0
    if node.kind == "select_multiple":
        chosen = value if isinstance(value, list) else str(value).split()
        if column.choice is not None:
            return 1 if column.choice in chosen else 0
        if locale:
            labels = {c.value: choice_label(form, node, c, locale) for c in form.choices.get(node.list_name or "", [])}
            return "; ".join(labels.get(v, v) for v in chosen)
        return " ".join(chosen)
    if node.kind == "select_one" and locale and node.list_name:
        for choice in form.choices.get(node.list_name, []):
            if choice.value == value:
                return choice_label(form, node, choice, locale)
    return _plain(value)


def rows(
    form: Form, submissions: Iterable[Mapping[str, Any]], locale: str | None = None
) -> tuple[list[str], Iterator[list[Any]]]:
    """Headers, and one row per submission in the same order."""
    subs = list(submissions)
    cols = columns(form, subs)

    def generate() -> Iterator[list[Any]]:
        for submission in subs:
            values = submission.get("values", {})
            base = {"_id": submission.get("id"), **{k: submission.get(k) for k in BASE_COLUMNS[1:]}}
            yield [_plain(base[c.header]) if c.node is None else _cell(form, c, values, locale) for c in cols]

    return [c.header for c in cols], generate()


def write_csv(headers: list[str], data: Iterable[list[Any]], stream: IO[str]) -> int:
    return spreadsheet.write("csv", headers, data, stream, "submissions")


def write_jsonl(headers: list[str], data: Iterable[list[Any]], stream: IO[str]) -> int:
    count = 0
    for row in data:
        stream.write(json.dumps(dict(zip(headers, row, strict=True)), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_xlsx(headers: list[str], data: Iterable[list[Any]], stream: IO[bytes], sheet: str = "submissions") -> int:
    return spreadsheet.write("xlsx", headers, data, stream, sheet)
