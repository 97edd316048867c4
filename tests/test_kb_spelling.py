"""Closeness in spelling (`bot.kb.spelling`): what it counts, and how the hybrid ranking uses it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.kb import KnowledgeBase
from bot.kb.knowledge import SENSITIVE_TOPICS, SPELLING_WEIGHT
from bot.kb.spelling import SpellingNeighbours, _grams, _stems
from tests.test_kb_calibration import ChosenSimilarities
from tests.test_kb_ranking import make_topic

DOCTOR, ID, JOBS, PSY = "health.doctor", "documents.id_passport", "employment.jobseeker", "psychosocial.support"


def topics() -> list:  # type: ignore[type-arg]
    return [
        make_topic(DOCTOR, ["ku shkoj te mjeku i familjes"], ["где да нађем лекара"]),
        make_topic(ID, ["kam humbur leternjoftimin"], ["изгубио сам личну карту"]),
        make_topic(JOBS, ["kerkoj pune"], ["тражим посао"]),
        make_topic(PSY, ["jam i merzitur"], ["тужан сам"]),
    ]


def test_a_word_is_its_padded_character_ngrams_and_a_text_its_stems_alone_and_in_pairs() -> None:
    grams = _grams("Puna!")
    assert {" p", "pu", " pun", "puna ", "a "} <= set(grams)
    assert all(2 <= len(g) <= 5 for g in grams)
    assert "!" not in "".join(grams)  # punctuation is no part of a word
    stems = _stems("kerkoj pune")
    assert any(s.startswith("sq:") and " " in s for s in stems)  # a pair of stems
    assert any(s.startswith("sr:") for s in stems)  # both languages' stems, as a question's is not known


def test_typos_missing_diacritics_and_cyrillic_keep_a_question_near_its_topic() -> None:
    spelling = SpellingNeighbours(topics())
    for question, topic in [
        ("ku me shku te mjeku i familjes", DOCTOR),
        ("kam humb leternjoftimin", ID),
        ("kam humbur letërnjoftimin", ID),
        ("izgubio sam licnu kartu", ID),
        ("тражим посао", JOBS),
        ("trazim posao", JOBS),
    ]:
        scores = spelling.similarities(question)
        assert max(scores, key=lambda t: scores[t]) == topic, (question, scores)
    # The same words in either script, with or without diacritics, are the same vector.
    assert spelling.similarities("тражим посао") == pytest.approx(spelling.similarities("tražim posao"))
    assert spelling.similarities("tražim posao") == pytest.approx(spelling.similarities("trazim posao"))


def test_similarities_are_cosines_and_a_text_alike_in_nothing_is_zero_everywhere() -> None:
    spelling = SpellingNeighbours(topics())
    exact = spelling.similarities("kerkoj pune")
    assert exact[JOBS] == pytest.approx(1.0)  # the phrasing itself (and its own title) is the closest
    assert all(0.0 <= value <= 1.0 + 1e-9 for value in exact.values())
    assert set(spelling.similarities("qqqqqq").values()) == {0.0}
    assert set(spelling.similarities("").values()) == {0.0}


def test_examples_are_neighbours_too() -> None:
    # Nothing of the jobs topic's own words, but how somebody asked about work before.
    question = "a ka dikush vend per nje elektricist ne prizren"
    example = ("a ka dikush nevoje per elektricist ne prizren", JOBS)
    without = SpellingNeighbours(topics())
    with_examples = SpellingNeighbours(topics(), [example])
    assert with_examples.text_count == without.text_count + 1
    before, after = without.similarities(question), with_examples.similarities(question)
    assert max(before, key=lambda t: before[t]) != JOBS, before
    assert max(after, key=lambda t: after[t]) == JOBS, after


def test_the_hybrid_ranking_weighs_spelling_and_spares_distress() -> None:
    kb = KnowledgeBase(topics())
    # Equally close in meaning to every topic: the words and the spelling decide between them.
    kb.use_embeddings(ChosenSimilarities({DOCTOR: 0.85, ID: 0.85, JOBS: 0.85, PSY: 0.85}))  # type: ignore[arg-type]
    question = "kerkoj pune te mjeku, jam i merzitur"  # shares words with three topics, spelled most like jobs
    lexical = kb.lexical_rank(question, "sq")
    spelled = kb.spelling().similarities(question)
    nearest = max(spelled.values())
    assert max(spelled, key=lambda t: spelled[t]) != PSY and lexical.get(PSY, 0.0) > 0.1, (spelled, lexical)
    ranked = dict(kb.rank(question, "sq", limit=4))
    for topic in (DOCTOR, ID, JOBS):
        expected = lexical.get(topic, 0.0) + SPELLING_WEIGHT * (spelled[topic] - nearest)
        assert ranked.get(topic, 0.0) == pytest.approx(max(expected, 0.0), abs=1e-4), topic
    # Distress and emergencies lose nothing for being spelled further from the question than another topic:
    # their score is their words' alone, where spelling would have taken some off.
    assert PSY in SENSITIVE_TOPICS
    assert ranked[PSY] == pytest.approx(lexical[PSY], abs=1e-4)
    assert lexical[PSY] + SPELLING_WEIGHT * (spelled[PSY] - nearest) < ranked[PSY] - 0.01
    # Lexical ranking alone, as asked for or without the model, knows nothing of spelling.
    assert dict(kb.rank(question, "sq", limit=4, lexical=True)) == pytest.approx(
        {t: round(s, 4) for t, s in lexical.items() if s > 0}
    )


def test_what_a_caller_changes_is_not_remembered() -> None:
    spelling = SpellingNeighbours(topics())
    first = spelling.similarities("kerkoj pune")
    first[JOBS] = -5.0
    assert spelling.similarities("kerkoj pune")[JOBS] == pytest.approx(1.0)
    spelling.similarities("kerkoj pune")[DOCTOR] = -5.0  # the remembered one, handed out again
    assert spelling.similarities("kerkoj pune")[DOCTOR] >= 0.0


def test_a_text_left_out_is_no_neighbour_any_more() -> None:
    spelling = SpellingNeighbours(topics(), [("kerkoj pune ne prizren", JOBS)])
    less = spelling.without("kerkoj pune", JOBS)  # the phrasing and the title alike
    assert less.text_count == spelling.text_count - 2
    assert spelling.text_count == SpellingNeighbours(topics(), [("kerkoj pune ne prizren", JOBS)]).text_count
    # What is left of the topic is the example and the Serbian phrasing: the question is nearest the example.
    question = "kerkoj pune"
    assert spelling.similarities(question)[JOBS] == pytest.approx(1.0)
    assert 0.2 < less.similarities(question)[JOBS] < 0.9
    # The original is untouched.
    assert spelling.similarities(question)[JOBS] == pytest.approx(1.0)


def test_loading_builds_the_spelling_before_the_model_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    kb = KnowledgeBase(topics())
    seen: list[bool] = []

    def build(*args: object, **kwargs: object) -> ChosenSimilarities:
        seen.append(kb._spelling is None)
        model = ChosenSimilarities({DOCTOR: 0.8, ID: 0.8, JOBS: 0.8, PSY: 0.8})
        model.text_count, model.build_seconds, model.from_cache = 8, 0.0, False  # type: ignore[attr-defined]
        return model

    monkeypatch.setattr("bot.kb.knowledge.TopicEmbeddings.build", build)
    assert kb.load_embeddings(background=False) is None
    assert seen == [True] and kb._spelling is not None and kb.embeddings is not None
    # Without the model, nothing is built for it: ranking stays lexical.
    bare = KnowledgeBase(topics())

    def missing(*args: object, **kwargs: object) -> None:
        raise ImportError("no model here")

    monkeypatch.setattr("bot.kb.knowledge.TopicEmbeddings.build", missing)
    assert bare.load_embeddings(background=False) is None
    assert bare._spelling is None and bare.embeddings is None


def test_built_once_however_many_threads_ask_first() -> None:
    kb = KnowledgeBase(topics())
    with ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: kb.spelling(), range(16)))
    assert all(found is built[0] for found in built)
