"""Pure pieces of the foundation: folding, transliteration, splitting long text, rate arithmetic."""

from __future__ import annotations

import pytest

from bot.outbox import split_text
from bot.pacing import Pacer, TokenBucket
from bot.text import cyrillic_to_latin, fold, words


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Shëndetësi", "shendetesi"),
        ("Лична карта", "licna karta"),
        ("lična karta", "licna karta"),
        ("Đakovica", "djakovica"),
        ("Ђаковица", "djakovica"),
        ("ÇKA", "cka"),
        ("Џеп", "dzep"),
    ],
)
def test_fold_makes_variants_equal(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_transliteration_keeps_case_and_digraphs() -> None:
    assert cyrillic_to_latin("Љиљана ЊЕГОШ џак") == "Ljiljana NJEGOŠ džak"
    assert cyrillic_to_latin("Homeward {name}") == "Homeward {name}"


def test_words_drop_punctuation_and_emoji() -> None:
    assert words("Ku është mjeku?! 🙂 лична-карта") == ["ku", "eshte", "mjeku", "licna", "karta"]


def test_long_text_splits_at_paragraphs_then_sentences_under_the_limit() -> None:
    paragraph = "Fjali e parë. " * 100
    text = "\n\n".join([paragraph.strip()] * 5)
    parts = split_text(text, 4096)
    assert all(len(p) <= 4096 for p in parts) and len(parts) >= 2
    assert all(p.endswith(".") for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    unbroken = "x" * 9000
    assert [len(p) for p in split_text(unbroken, 4096)] == [4096, 4096, 808]


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=1.0, capacity=3)
    for _ in range(3):
        assert bucket.wait_time(0.0) == 0
        bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(1.0)
    assert bucket.wait_time(0.5) == pytest.approx(0.5)


def test_pacer_respects_chat_global_and_pause() -> None:
    pacer = Pacer(global_rate=25, chat_rate=1, chat_burst=1, group_per_minute=20)
    pacer.take("1", 0.0)
    assert pacer.wait_time("1", 0.0) == pytest.approx(1.0)
    assert pacer.wait_time("2", 0.0) == 0
    pacer.pause(7, 0.0)
    assert pacer.wait_time("2", 1.0) == pytest.approx(6.0)
    pacer.take("-100", 10.0)
    assert pacer.wait_time("-100", 10.0) == pytest.approx(3.0)  # groups: 20 a minute
    sent, now = 0, 20.0
    while now < 21.0:  # one second of many chats: the global limit holds
        chat = str(1000 + sent)
        if pacer.wait_time(chat, now) == 0:
            pacer.take(chat, now)
            sent += 1
        now += 0.001
    assert 25 <= sent <= 31
