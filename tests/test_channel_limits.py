"""Every reply the handlers can produce fits every app's limits, in all three locales.

The corpus: every message of the catalogs (with sample values) as a reply's text, alone and with
buttons; every button label the code writes (found in the sources), alone, beside the longest
others, and as a list; and the labels that come from content: knowledge-base topics, the 38
municipalities and every questionnaire choice. Each is rendered by each channel and checked
against the platform's rules (for WhatsApp by the same checks the fake Graph API enforces).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.channels import viber, whatsapp
from bot.channels.labels import SHORT_LABELS, shortener
from bot.forms.prompts import choice_label
from bot.i18n import LOCALES, Translations, Translator
from bot.kb import KnowledgeBase
from bot.municipalities import Municipalities
from bot.outbox import split_text
from bot.questionnaires import Questionnaires
from handlers.menu import ITEMS
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi, buttons_of
from tests.test_catalogs import code_messages, fields

ROOT = Path(__file__).resolve().parents[1]
BUTTON_LABEL = re.compile(r'Button\(\s*t\.gettext\(\s*"([^"]+)"\s*\)')


def _translations() -> Translations:
    return Translations(ROOT / "locales")


def texts(t: Translator) -> list[str]:
    found = []
    for message in code_messages():
        if isinstance(message, str):
            sample = {name: "1" for name in fields(message)}
            found.append(t.gettext(message, **sample) if sample else t.gettext(message))
        else:
            sample = {name: "1" for name in fields(message[1]) if name != "n"}
            found += [t.ngettext(message[0], message[1], n, **sample) for n in (1, 2, 5)]
    return found


def fixed_labels(t: Translator) -> list[str]:
    msgids = {label for _key, label, _cap in ITEMS} | set(SHORT_LABELS)
    for folder in ("handlers", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            msgids |= set(BUTTON_LABEL.findall(path.read_text()))
    assert len(msgids) > 30
    return sorted({t.gettext(m) for m in msgids})


def content_labels(t: Translator) -> list[list[str]]:
    """Sets of labels shown together: topics, municipalities, each questionnaire's choice lists."""
    locale = t.locale
    kb = KnowledgeBase.load(ROOT / "content" / "kb")
    sets = [[kb.topic(topic).title(locale) for topic in kb.topics]]
    sets.append([m.name(locale) for m in Municipalities.load(ROOT / "content" / "municipalities.csv").items])
    for questionnaire in Questionnaires.load(ROOT / "content" / "forms").items.values():
        form = questionnaire.form
        for node in form.nodes:
            choices = form.choices.get(node.list_name or "", [])
            if choices:
                sets.append([choice_label(form, node, c, locale)[:60] for c in choices])
    return sets


def _payload(text: str, labels: list[str]) -> dict[str, Any]:
    return {"text": text, "buttons": [[{"text": label, "data": f"x:{i}"}] for i, label in enumerate(labels)]}


def _never_cut(label: str, shown: str, short: str | None) -> bool:
    if shown in (label, short):
        return True
    if not shown.endswith("…"):
        return False
    kept = shown[:-1]
    return label.startswith(kept) and (len(kept) == len(label) or label[len(kept)] == " ")


def _check_whatsapp(messages: list[dict[str, Any]], labels: list[str], shorten: Any) -> None:
    checker = FakeGraphApi()
    offered: list[tuple[str, str]] = []
    for message in messages:
        problem = checker._check({"messaging_product": "whatsapp", "to": "38344000001", **message})
        assert problem is None, problem
        interactive = message.get("interactive")
        if interactive and interactive["type"] == "button":
            offered += [(b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]]
        elif interactive:
            offered += [(r["id"], r["title"]) for s in interactive["action"]["sections"] for r in s["rows"]]
    # Every choice is offered, once, and no label lost a part of a word.
    assert [ident for ident, _ in offered] == [f"x:{i}" for i in range(len(labels))]
    for (_, shown), label in zip(offered, labels, strict=True):
        assert _never_cut(label, shown, shorten(label)), (label, shown)


def _check_viber(messages: list[dict[str, Any]], labels: list[str], shorten: Any) -> None:
    """Each message passes the fake Viber API's checks; every choice is offered once, no word cut."""
    checker = FakeViberApi()
    offered: list[tuple[str, str]] = []
    for message in messages:
        body = {"receiver": "vb1", "min_api_version": viber.MIN_API_VERSION, "sender": {"name": "Homeward"}}
        problem = checker.check({**body, **message})
        assert problem is None, problem
        offered += [(b["ActionBody"], b["Text"]) for b in (message.get("keyboard") or {}).get("Buttons") or []]
    assert [ident for ident, _ in offered] == [f"x:{i}" for i in range(len(labels))]
    for (_, shown), label in zip(offered, labels, strict=True):
        assert _never_cut(label, shown, shorten(label)), (label, shown)
    if len(labels) <= viber.MAX_BUTTONS:
        assert sum(bool(buttons_of(m)) for m in messages) == (1 if labels else 0)  # one keyboard, on the last part


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_fits_every_channel(locale: str) -> None:
    t = _translations()(locale)
    shorten = shortener(t)
    two = [t.gettext("Yes"), t.gettext("No")]
    for text in texts(t):
        assert all(len(part) <= 4096 for part in split_text(text))  # Telegram and the web page
        for part in split_text(text):
            _check_whatsapp(whatsapp.render({"text": part}, t, shorten), [], shorten)
            _check_whatsapp(whatsapp.render(_payload(part, two), t, shorten), two, shorten)
            _check_viber(viber.render({"text": part}, shorten), [], shorten)
            _check_viber(viber.render(_payload(part, two), shorten), two, shorten)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_button_label_fits_every_channel(locale: str) -> None:
    t = _translations()(locale)
    shorten = shortener(t)
    labels = fixed_labels(t)
    longest = sorted(labels, key=len)[-2:]
    body = t.gettext("How can I help you? Choose from the menu or write your question.")
    for label in labels:
        for together in ([label], [label, *longest], [label, *labels[:11]]):
            _check_whatsapp(whatsapp.render(_payload(body, together), t, shorten), together, shorten)
            _check_viber(viber.render(_payload(body, together), shorten), together, shorten)
    menu = [t.gettext(label) for _key, label, _cap in ITEMS]
    _check_whatsapp(whatsapp.render(_payload(body, menu), t, shorten), menu, shorten)
    _check_viber(viber.render(_payload(body, menu), shorten), menu, shorten)


@pytest.mark.parametrize("locale", LOCALES)
def test_labels_from_content_fit_every_channel(locale: str) -> None:
    t = _translations()(locale)
    shorten = shortener(t)
    sets = content_labels(t)
    assert len(sets) >= 2 and len(sets[1]) == 38
    for labels in sets:
        _check_whatsapp(whatsapp.render(_payload("?", labels), t, shorten), labels, shorten)
        _check_viber(viber.render(_payload("?", labels), shorten), labels, shorten)


def test_short_labels_fit_reply_buttons() -> None:
    for locale in LOCALES:
        t = _translations()(locale)
        for long, short in SHORT_LABELS.items():
            assert len(t.gettext(short)) <= whatsapp.MAX_BUTTON_TITLE < len(t.gettext(long)), (locale, long)


def test_a_cut_word_is_caught() -> None:
    assert not _never_cut("Ndryshoni datën e kthimit", "Ndryshoni dat…", None)
    assert _never_cut("Ndryshoni datën e kthimit", "Ndryshoni datën…", None)


def test_viber_splits_long_texts_and_lays_buttons_out_side_by_side_when_they_fit() -> None:
    t = _translations()("sq")
    shorten = shortener(t)
    long = ("Fjali e gjatë për kthimin në shtëpi. " * 400).strip()
    parts = viber.render({"text": long, "buttons": [[{"text": "Po", "data": "x:0"}]]}, shorten)
    assert len(parts) == 3 and all(len(p["text"]) <= viber.MAX_TEXT for p in parts)
    assert "".join(p["text"] for p in parts).replace(" ", "") == long.replace(" ", "")
    assert [bool(buttons_of(p)) for p in parts] == [False, False, True]
    two = {"text": "?", "buttons": [[{"text": "Po", "data": "a:1"}, {"text": "Jo", "data": "a:2"}]]}
    pair = viber.render(two, shorten)
    assert [(b["Columns"], b["Rows"]) for b in pair[0]["keyboard"]["Buttons"]] == [(3, 1), (3, 1)]
    label = t.gettext("Talk to a caseworker")
    wide = [[{"text": label + " " + label, "data": "a:1"}, {"text": "Jo", "data": "a:2"}]]
    laid = viber.render({"text": "?", "buttons": wide}, shorten)[0]["keyboard"]["Buttons"]
    assert [(b["Columns"], b["Rows"]) for b in laid] == [(6, 2), (6, 1)]
    many = viber.render(_payload("?", [f"Zgjedhja {i}" for i in range(30)]), shorten)
    assert [len(buttons_of(m)) for m in many] == [24, 6]
