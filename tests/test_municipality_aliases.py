"""The names people use for municipalities, in both scripts, find the municipality they mean."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.municipalities import Municipalities
from bot.text import cyrillic_to_latin

CSV = Path(__file__).resolve().parents[1] / "content" / "municipalities.csv"
MUNICIPALITIES = Municipalities.load(CSV)
ALIASES = [(m.id, alias) for m in MUNICIPALITIES.items for alias in m.aliases]


def test_the_everyday_names_serbs_use_are_aliases() -> None:
    expected = {
        ("mitrovice_jugut", "Kosovska Mitrovica"),
        ("mitrovice_veriut", "Kosovska Mitrovica"),
        ("mitrovice_jugut", "Косовска Митровица"),
        ("mitrovice_veriut", "Косовска Митровица"),
        ("kamenice", "Kosovska Kamenica"),
        ("kamenice", "Косовска Каменица"),
        ("hani_i_elezit", "Đeneral Janković"),
        ("hani_i_elezit", "Ђенерал Јанковић"),
        ("kllokot", "Vrbovac"),
        ("kllokot", "Врбовац"),
    }
    assert expected <= set(ALIASES)


@pytest.mark.parametrize(("municipality_id", "alias"), ALIASES)
def test_every_alias_finds_its_municipality(municipality_id: str, alias: str) -> None:
    found = [m.id for m in MUNICIPALITIES.search(alias)]
    assert municipality_id in found, (alias, found)
    # Typed without diacritics, lower-case, as on a phone.
    plain = cyrillic_to_latin(alias).replace("Đ", "Dj").replace("đ", "dj")
    plain = plain.translate(str.maketrans("čćšžČĆŠŽ", "ccszCCSZ")).lower()
    assert municipality_id in [m.id for m in MUNICIPALITIES.search(plain)], plain


def test_every_serbian_alias_has_both_scripts() -> None:
    for m in MUNICIPALITIES.items:
        cyrillic = [a for a in m.aliases if any("\u0400" <= c <= "\u04ff" for c in a)]
        latin = {a for a in m.aliases if a not in cyrillic}
        for name in cyrillic:
            assert cyrillic_to_latin(name) in latin, (m.id, name)


def test_kosovska_mitrovica_asks_which_of_the_two() -> None:
    for typed in ("Kosovska Mitrovica", "Косовска Митровица", "kosovska mitrovica"):
        assert {m.id for m in MUNICIPALITIES.search(typed)} == {"mitrovice_jugut", "mitrovice_veriut"}


def test_the_csv_has_an_alias_column_and_aliases_are_not_shared_by_accident() -> None:
    with CSV.open(encoding="utf-8") as f:
        assert "aliases" in (csv.DictReader(f).fieldnames or [])
    owners: dict[str, set[str]] = {}
    for municipality_id, alias in ALIASES:
        owners.setdefault(alias, set()).add(municipality_id)
    shared = {alias: ids for alias, ids in owners.items() if len(ids) > 1}
    assert set(shared) <= {"Kosovska Mitrovica", "Косовска Митровица"}, shared
