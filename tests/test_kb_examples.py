"""Example questions in the knowledge-base folder: read with the topics, checked line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.kb import KnowledgeBase
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import read_messages
from bot.kb.knowledge import EXAMPLES
from bot.kb.semantic import topic_texts
from bot.kb.topic import KnowledgeBaseError


def _folder(tmp_path: Path, examples: str) -> Path:
    for path in Path(DEFAULT_KB_DIR).glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / EXAMPLES).mkdir()
    (tmp_path / EXAMPLES / "people.jsonl").write_text(examples, encoding="utf-8")
    return tmp_path


def test_the_shipped_examples_are_read_with_the_topics() -> None:
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    assert len(kb.examples) >= 1400
    assert {topic_id for _, topic_id in kb.examples} == set(kb.topics)


def test_examples_are_read_and_blank_lines_skipped(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(
        _folder(tmp_path, '{"q": "ku me gjet pune", "lang": "sq", "topic": "employment.jobseeker"}\n\n')
    )
    assert kb.examples == (("ku me gjet pune", "employment.jobseeker"),)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"q": "ku me gjet pune", "lang": "sq", "topic": "employment.nowhere"}', "no topic 'employment.nowhere'"),
        ('{"q": "  ", "lang": "sq", "topic": "employment.jobseeker"}', "the question is empty"),
        ('{"question": "ku me gjet pune"}', "expected"),
        ("not json", "expected"),
    ],
)
def test_a_bad_example_is_refused_naming_its_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    ok = '{"q": "gde da nadjem posao", "lang": "sr", "topic": "employment.jobseeker"}'
    with pytest.raises(KnowledgeBaseError) as refused:
        KnowledgeBase.load(_folder(tmp_path, f"{ok}\n{line}\n"))
    assert "examples/people.jsonl:2" in str(refused.value)
    assert problem in str(refused.value)


def test_an_example_already_among_a_topics_texts_is_embedded_once() -> None:
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    topic = kb.topic("health.doctor")
    title = topic.titles["sr"]
    texts, labels = topic_texts([topic], [(title, "health.doctor"), ("treba mi doktor", "health.doctor")])
    plain, _ = topic_texts([topic])
    assert len(texts) == len(plain) + 1 and texts[-1] == "treba mi doktor" and labels[-1] == "health.doctor"
    # An example of a topic that is not among these topics is left out.
    assert topic_texts([topic], [("ku me gjet pune", "employment.jobseeker")]) == (plain, labels[:-1])


class AxisModel:
    """A stand-in for the model: each text is a fixed unit vector in the plane."""

    def __init__(self, vectors: dict[str, tuple[float, float]]) -> None:
        self.vectors = vectors

    def passage(self, texts: list[str]) -> list[tuple[float, float]]:
        return [self.vectors[t] for t in texts]

    def query(self, text: str) -> tuple[float, float]:
        return self.vectors[text]


def test_a_topics_similarity_is_the_mean_of_its_two_closest_texts() -> None:
    from bot.kb.semantic import TopicEmbeddings
    from tests.test_kb_ranking import make_topic

    doctor = make_topic("health.doctor", ["mjeku"], ["лекар"], "mjeku titulli", "лекар наслов")
    work = make_topic("employment.jobseeker", ["puna"], ["посао"], "puna titulli", "посао наслов")
    # One doctor text points exactly at the question, the other away: one close text alone is a
    # coincidence. The work texts and the two work examples all lean towards the question.
    vectors = {
        "mjeku": (1.0, 0.0), "lekar": (0.0, 1.0), "puna": (0.8, 0.6), "posao": (0.6, 0.8),
        "mjeku titulli": (0.0, 1.0), "lekar naslov": (0.0, 1.0), "puna titulli": (0.0, 1.0),
        "posao naslov": (0.0, 1.0), "ku ka pune": (0.8, 0.6), "gde ima posla": (0.8, 0.6), "pyetja": (1.0, 0.0),
    }  # fmt: skip
    model = AxisModel(vectors)
    alone = TopicEmbeddings(model, [doctor, work]).similarities("pyetja")
    assert alone["health.doctor"] == pytest.approx(0.5)  # (1.0 + 0.0) / 2
    assert alone["employment.jobseeker"] == pytest.approx(0.7)  # (0.8 + 0.6) / 2
    examples = [("ku ka pune", "employment.jobseeker"), ("gde ima posla", "employment.jobseeker")]
    learned = TopicEmbeddings(model, [doctor, work], examples=examples).similarities("pyetja")
    assert learned["employment.jobseeker"] == pytest.approx(0.8)  # its two closest: the examples
    assert learned["health.doctor"] == pytest.approx(0.5)


def test_the_examples_language_is_read_from_each_line_or_guessed(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(
        _folder(
            tmp_path,
            '{"q": "ku me gjet pune", "lang": "sq", "topic": "employment.jobseeker"}\n'
            '{"q": "gde da nadjem posao", "topic": "employment.jobseeker"}\n',
        )
    )
    assert kb.example_languages == {
        ("ku me gjet pune", "employment.jobseeker"): "sq",
        ("gde da nadjem posao", "employment.jobseeker"): "sr",
    }


def test_an_examples_words_rank_its_topic_but_do_not_make_a_question_fit() -> None:
    from tests.test_kb_ranking import make_topic

    topics = [
        make_topic("health.doctor", ["ku shkoj te mjeku"], ["где је лекар"]),
        make_topic("employment.jobseeker", ["kerkoj pune"], ["тражим посао"]),
    ]
    bare = KnowledgeBase(topics)
    learned = KnowledgeBase(topics, [("me dhemb dhembi, ku shkoj", "health.doctor")], {})
    # Words only an example has rank its topic, weighted down, but nothing fits on them alone.
    assert bare.rank("dhembi", "sq") == []
    assert [t for t, _ in learned.rank("dhembi", "sq")] == ["health.doctor"]
    assert learned.rank("dhembi", "sq")[0][1] < 0.2
    assert learned.match("dhembi", "sq").kind == "none"


def test_whatever_the_examples_words_weigh_a_not_sure_offers_at_least_one_topic() -> None:
    # Whether anything fits is judged on the topics' own words, the ranking on those and the examples'
    # words: a text can pass the first (0.20) and rank its best topic under the floor (0.13 to 0.15).
    # It once got "not sure" with no topic at all, and the turn failed on every plain text like it.
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    assert kb.lexical_rank("message 3", "sq", own=True)["followup.about"] >= 0.2
    assert max(kb.lexical_rank("message 3", "sq").values()) < 0.2
    texts = [
        "message 3",
        "message 12",
        *(m.text for path in sorted((Path(DEFAULT_KB_DIR) / EXAMPLES).glob("*.jsonl")) for m in read_messages(path)),
        *(m.text for m in read_messages(Path(__file__).resolve().parent / "kb_tuning_offtopic.jsonl")),
        *(m.text for m in read_messages(Path(__file__).resolve().parent / "kb_ordinary.jsonl")),
    ]
    for text in texts:
        for lang in ("sq", "sr", None):
            match = kb.match(text, lang)
            assert match.kind == "none" or match.ranked, (text, lang, match)
    assert [topic for topic, _ in kb.match("message 3", "sq").ranked] == ["followup.about"]
