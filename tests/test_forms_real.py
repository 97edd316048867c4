"""The runner on ten real public XLSForms (see SOURCES.md next to them): each plays or is refused by row.

What happens to each, and why:

- who-va2016-verbal-autopsy.xlsx plays: 465 questions, date arithmetic, 'NaN' checks, selected().
- bohemia-smallcensus.xlsx plays: repeats counted by ${hh_member_num}, position(..),
  indexed-repeat(), sum() over a repeat, external choices with a 4-level choice_filter, photo,
  barcode, location.
- household-energy-en-igbo.xlsx plays: range ratings as numbers, groups gated by consent,
  location, country → state filter.
- pyxform-spec-test.xlsx plays: every chat-answerable type, a repeat of 2, acknowledge, time,
  datetime, media.
- terrafirma-legend-k-pessoas.xlsx plays: a 3-level cascade on external_choices, regex
  constraints, photos.
- hotosm-toilets.xls is refused at survey row 12: select_one_from_file toilets.geojson offers map
  features as choices; ucl-biomass-plot.xlsx at row 16: UCL_regions.csv is not shipped beside it
  (with six more choice files, each listed with its row). hotosm-waterpoints.xls is refused at row 17, where the
  required column holds 'basic'; row 18 (waterpoints.geojson) is listed with it.
- liberia-coverage-survey.xlsx is refused at choices row 126: a duplicate choice name, which
  current pyxform accepts only with the allow_choice_duplicates setting.
- epfl-abidjan-household.xls is refused at survey row 62: the name HandWashHabits1 is used twice
  in one group.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.forms import FormError, check_form, load_form
from tests.forms_autoplay import autoplay

REAL_FORMS = Path(__file__).resolve().parents[2] / "shared" / "xlsforms"

PLAYABLE = {
    "who-va2016-verbal-autopsy.xlsx": {},
    "bohemia-smallcensus.xlsx": {},
    "household-energy-en-igbo.xlsx": {},
    "pyxform-spec-test.xlsx": {},
    # Only two administrative posts have associations in the form's own list; a person picks those.
    "terrafirma-legend-k-pessoas.xlsx": {"prov_id": ["P04"], "dist_id": ["D0406"], "posto_id": ["PA040601"]},
}
REFUSED = {
    "hotosm-toilets.xls": ("survey", 12, "select_one_from_file toilets.geojson"),
    "hotosm-waterpoints.xls": ("survey", 17, "required column"),
    "ucl-biomass-plot.xlsx": ("survey", 16, "UCL_regions.csv"),
    "liberia-coverage-survey.xlsx": ("choices", 126, "Choice names must be unique"),
    "epfl-abidjan-household.xls": ("survey", 62, "HandWashHabits1"),
}


def _path(name: str) -> Path:
    path = REAL_FORMS / name
    if not path.exists():
        pytest.skip(f"the shared set of real XLSForms is not next to this repository ({name} missing)")
    return path


def test_the_set_is_accounted_for_with_at_least_five_playable() -> None:
    if not REAL_FORMS.exists():
        pytest.skip("the shared set of real XLSForms is not next to this repository")
    on_disk = {p.name for p in REAL_FORMS.iterdir() if p.suffix in (".xls", ".xlsx")}
    assert on_disk == set(PLAYABLE) | set(REFUSED)
    assert len(PLAYABLE) >= 5


@pytest.mark.parametrize("name", sorted(PLAYABLE))
@pytest.mark.parametrize("rotate", [0, 1])
def test_real_form_plays_to_completion(name: str, rotate: int) -> None:
    form = load_form(_path(name))
    runner, state, asked = autoplay(form, rotate=rotate, preferred=PLAYABLE[name])
    assert runner.is_complete(state)
    assert runner.current(state, "sq", date(2024, 5, 1)) is None
    answered, total = runner.progress(state)
    assert answered == total > 0
    assert [kind for kind in asked if kind != "note"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_real_form_is_refused_naming_the_row(name: str) -> None:
    sheet, row, words = REFUSED[name]
    with pytest.raises(FormError) as caught:
        load_form(_path(name))
    assert (caught.value.sheet, caught.value.row) == (sheet, row)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{sheet} row {row}: ")


def test_bohemia_repeat_instances_and_indexed_repeat_are_computed() -> None:
    form = load_form(_path("bohemia-smallcensus.xlsx"))
    runner, state, _ = autoplay(form)
    values = runner.values(state)
    members = int(values["hh_member_num"])
    assert members >= 1
    assert [values[f"hh_member_number[{i}]"] for i in range(1, members + 1)] == list(range(1, members + 1))
    assert values["first_name1"] == values["first_name[1]"]
    assert f"first_name[{members + 1}]" not in values


def test_real_forms_without_albanian_and_serbian_are_reported_by_check() -> None:
    form = load_form(_path("household-energy-en-igbo.xlsx"))
    problems = check_form(form)
    assert any("Albanian (sq)" in p for p in problems)
    assert any("Serbian (sr)" in p for p in problems)


def test_who_va_age_is_computed_from_two_dates() -> None:
    form = load_form(_path("who-va2016-verbal-autopsy.xlsx"))
    runner, state, _ = autoplay(form, preferred={"Id10020": ["yes"], "Id10022": ["yes"]})
    values = runner.values(state)
    assert values["Id10021"] == "2020-06-15"
    assert values["Id10023"] == "2020-06-15"
    assert values["ageInDays"] == 0
    assert values["isNeonatal1"] == 1


def test_a_refused_real_form_lists_every_problem_with_its_row() -> None:
    with pytest.raises(FormError) as caught:
        load_form(_path("ucl-biomass-plot.xlsx"))
    found = [(p.sheet, p.row) for p in caught.value.problems]
    assert found == [("survey", row) for row in (16, 17, 18, 20, 35, 57, 73, 81)]
    assert all("beside the form" in str(p) for p in caught.value.problems)
    with pytest.raises(FormError) as caught:
        load_form(_path("hotosm-waterpoints.xls"))
    assert [p.row for p in caught.value.problems] == [17, 18, 19, 20]
