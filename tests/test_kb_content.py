"""The shipped knowledge base is complete, states only verified facts, and the checks catch gaps."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import pytest

from bot.kb import LOCALES, REQUIRED_TOPICS, KnowledgeBase, KnowledgeBaseError, Topic
from bot.kb.commands import DEFAULT_KB_DIR, add_commands
from bot.text import cyrillic_to_latin

# Euro amounts that the research marks verified; any other amount in an answer is a guess.
VERIFIED_EURO_AMOUNTS = {"350", "40000", "40.000", "40,000"}
# Details the research marks unverified or only partly verified: they must not be stated.
UNVERIFIED_CLAIMS = [
    r"03/L-145",  # youth law number
    r"\bAPRK\b|\bEARK\b|Agjencia e Punësimit|Агенција за запошљавање",  # current employment agency name
    r"12\s*[–-]\s*18 (muaj|месеци)",  # RSS timing
    r"shtatzën|трудниц",  # co-payment exemption groups
]
_EURO = re.compile(r"(\d[\d.,]*)\s*(?:€|eur\b|euro|евра|евро)|€\s*(\d[\d.,]*)", re.IGNORECASE)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load(DEFAULT_KB_DIR)


def _all_text(topic: Topic) -> list[str]:
    return [*topic.titles.values(), *(p for parts in topic.answers.values() for p in parts)]


def test_shipped_content_passes_the_check(kb: KnowledgeBase) -> None:
    assert kb.problems() == []
    assert set(REQUIRED_TOPICS) <= set(kb.topics)


def test_every_topic_reads_in_every_locale(kb: KnowledgeBase) -> None:
    for topic_id in kb.topics:
        topic = kb.topic(topic_id)
        for locale in LOCALES:
            assert topic.title(locale)
            assert topic.parts(locale)
        latin = topic.parts("sr-Latn", "Prizren")
        assert latin == [cyrillic_to_latin(p) for p in topic.parts("sr-Cyrl", "Prizren")]
        assert not re.search(r"[\u0400-\u04FF]", " ".join(latin))


def test_every_answer_ends_with_a_next_step(kb: KnowledgeBase) -> None:
    for topic_id in kb.topics:
        topic = kb.topic(topic_id)
        assert any("Hapi tjetër" in p for p in topic.parts("sq")), topic_id
        assert any("Следећи корак" in p for p in topic.parts("sr-Cyrl")), topic_id


def test_answer_parts_fit_a_phone_screen(kb: KnowledgeBase) -> None:
    for topic_id in kb.topics:
        for locale in LOCALES:
            assert all(len(p) < 600 for p in kb.topic(topic_id).parts(locale, "Mitrovicë e Jugut")), topic_id


def test_no_euro_amounts_beyond_the_verified_ones(kb: KnowledgeBase) -> None:
    for topic_id in kb.topics:
        for text in _all_text(kb.topic(topic_id)):
            for hit in _EURO.finditer(text):
                amount = hit.group(1) or hit.group(2)
                assert amount in VERIFIED_EURO_AMOUNTS, f"{topic_id}: unverified amount in {text!r}"


@pytest.mark.parametrize("claim", UNVERIFIED_CLAIMS)
def test_unverified_details_are_not_stated(kb: KnowledgeBase, claim: str) -> None:
    for topic_id in kb.topics:
        for text in _all_text(kb.topic(topic_id)):
            assert not re.search(claim, text, re.IGNORECASE), f"{topic_id}: {text!r}"


def test_emergency_numbers_are_the_verified_ones(kb: KnowledgeBase) -> None:
    core = kb.topic("emergency.numbers").parts("sq")[0]
    for number in ("112", "192", "193", "194"):
        assert number in core


def test_municipality_parts_are_filled_in_or_left_out(kb: KnowledgeBase) -> None:
    topic = kb.topic("health.doctor")
    without = topic.parts("sq")
    with_name = topic.parts("sq", "Prizren")
    assert len(with_name) == len(without) + 1
    assert any("Prizren" in p for p in with_name)
    assert not any("{municipality}" in p for p in with_name + without)
    assert any("Призрен" in p for p in topic.parts("sr-Cyrl", "Призрен"))


def test_unknown_locale_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError):
        kb.topic("health.doctor").parts("en")


# --- the checks themselves ---------------------------------------------------------------


def _complete(kb: KnowledgeBase) -> Topic:
    return kb.topic("health.doctor")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: dataclasses.replace(t, titles={"sq": t.titles["sq"]}), "no title in sr"),
        (lambda t: dataclasses.replace(t, answers={"sq": t.answers["sq"]}), "no answer in sr"),
        (lambda t: dataclasses.replace(t, answers={**t.answers, "sq": ("ok", " ")}), "part 2 in sq is empty"),
        (lambda t: dataclasses.replace(t, phrasings={**t.phrasings, "sr": ()}), "0 phrasings in sr"),
        (lambda t: dataclasses.replace(t, sources=()), "no source"),
        (lambda t: dataclasses.replace(t, checked=None), "no 'checked' date"),
        (lambda t: dataclasses.replace(t, related=("health.nothing",)), "'health.nothing' does not exist"),
        (
            lambda t: dataclasses.replace(t, answers={**t.answers, "sq": ("ok", "{city}")}),
            "placeholder {city}",
        ),
        (
            lambda t: dataclasses.replace(t, answers={**t.answers, "sq": ("{municipality}",)}),
            "first answer part",
        ),
        (lambda t: dataclasses.replace(t, answers={**t.answers, "sr": ("Idite kod lekara.",)}), "Cyrillic"),
        (lambda t: dataclasses.replace(t, answers={**t.answers, "sq": ("x" * 700,)}), "700 characters"),
    ],
)
def test_check_reports_each_gap(kb: KnowledgeBase, change, problem: str) -> None:  # type: ignore[no-untyped-def]
    broken = change(_complete(kb))
    others = [kb.topic(tid) for tid in kb.topics if tid != broken.id]
    problems = KnowledgeBase([*others, broken]).problems()
    assert any(problem in p for p in problems), problems


def test_check_reports_missing_required_topics(kb: KnowledgeBase) -> None:
    partial = KnowledgeBase([kb.topic(tid) for tid in kb.topics if tid != "privacy.data"])
    assert "missing topic: privacy.data" in partial.problems()


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "health.doctor.yaml").write_text("id: health.doctor\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"health\.doctor\.yaml"):
        KnowledgeBase.load(tmp_path)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("health.doctor.yaml", "- a list\n", "mapping"),
        ("health.doctor.yaml", "id: Health Doctor\n", "area.name"),
        ("health.doctor.yaml", "id: health.doctor\ntitle: {en: Doctor}\n", "unknown languages"),
        ("health.doctor.yaml", "id: health.doctor\nchecked: yesterday\n", "checked"),
        ("doctor.yaml", "id: health.doctor\n", "name the file health.doctor.yaml"),
    ],
)
def test_malformed_topics_are_refused_with_the_file_name(tmp_path: Path, name: str, body: str, message: str) -> None:
    (tmp_path / name).write_text(body, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=re.escape(name)) as raised:
        KnowledgeBase.load(tmp_path)
    assert message in str(raised.value)


def test_a_topic_id_used_twice_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeBaseError, match=r"health\.doctor"):
        KnowledgeBase([kb.topic("health.doctor"), kb.topic("health.doctor")])


# --- command line ------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="homeward")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_kb_check_passes_on_shipped_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["kb", "check"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_kb_check_fails_on_incomplete_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "health.doctor.yaml").write_text(
        "id: health.doctor\ntitle: {sq: Mjeku}\nchecked: 2026-11-27\n", encoding="utf-8"
    )
    assert _run(["kb", "check", "--kb-dir", str(tmp_path)]) == 1
    assert "health.doctor: no title in sr" in capsys.readouterr().out


def test_kb_ask_json_lists_topics_best_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["kb", "ask", "ku mund te shkoj te mjeku", "--lang", "sq", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results[0]["topic"] == "health.doctor"
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert all(set(r) == {"topic", "score"} and isinstance(r["score"], float) for r in results)


def test_kb_ask_prints_a_readable_ranking(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["kb", "ask", "где је дом здравља"]) == 0
    out = capsys.readouterr().out
    # The doctor first; since the examples' words count, paying at the health centre (which people ask
    # about with the same words) follows close enough that the person chooses.
    assert out.startswith("decision: unsure")
    assert "health.doctor" in out.splitlines()[1]
    assert _run(["kb", "ask", "ku mund te shkoj te mjeku"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: answer")
    assert "health.doctor" in out.splitlines()[1]


def test_kb_eval_prints_accuracy_and_the_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"q": "ku mund te shkoj te mjeku", "lang": "sq", "topic": "health.doctor"}\n'
        '{"q": "kam humbur leternjoftimin", "lang": "sq", "topic": "documents.id_passport"}\n',
        encoding="utf-8",
    )
    assert _run(["kb", "eval", str(questions), "--baseline"]) == 0
    out = capsys.readouterr().out
    assert "knowledge base  top-1 1.000  top-3 1.000" in out
    assert "baseline" in out
