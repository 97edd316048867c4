"""The runner's own messages, for forms that bring none, in Albanian and Serbian (Cyrillic).

Forms carry their own constraint and required messages; these are the fall-backs and the hints
about how to type an answer. Serbian Latin is derived from the Cyrillic by transliteration.
"""

from __future__ import annotations

from bot.text import cyrillic_to_latin

MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "sq": "Kjo pyetje kërkon përgjigje.",
        "sr": "Ово питање захтева одговор.",
    },
    "constraint": {
        "sq": "Kjo përgjigje nuk pranohet. Ju lutemi kontrolloni dhe provoni përsëri.",
        "sr": "Овај одговор није прихваћен. Молимо проверите и покушајте поново.",
    },
    "integer": {
        "sq": "Ju lutemi shkruani një numër të plotë, p.sh. 3.",
        "sr": "Молимо унесите цео број, на пример 3.",
    },
    "decimal": {
        "sq": "Ju lutemi shkruani një numër, p.sh. 2,5.",
        "sr": "Молимо унесите број, на пример 2,5.",
    },
    "range": {
        "sq": "Ju lutemi shkruani një numër nga {minimum} deri në {maximum}.",
        "sr": "Молимо унесите број од {minimum} до {maximum}.",
    },
    "date": {
        "sq": "Ju lutemi shkruani datën në formatin DD.MM.VVVV, p.sh. 31.12.2024.",
        "sr": "Молимо унесите датум у облику ДД.ММ.ГГГГ, на пример 31.12.2024.",
    },
    "date_impossible": {
        "sq": "Kjo datë nuk ekziston. Ju lutemi kontrolloni ditën dhe muajin.",
        "sr": "Тај датум не постоји. Молимо проверите дан и месец.",
    },
    "time": {
        "sq": "Ju lutemi shkruani orën në formatin OO:MM, p.sh. 14:30.",
        "sr": "Молимо унесите време у облику ЧЧ:ММ, на пример 14:30.",
    },
    "datetime": {
        "sq": "Ju lutemi shkruani datën dhe orën, p.sh. 31.12.2024 14:30.",
        "sr": "Молимо унесите датум и време, на пример 31.12.2024 14:30.",
    },
    "choice": {
        "sq": "Ju lutemi zgjidhni një nga përgjigjet e ofruara ose shkruani numrin e saj.",
        "sr": "Молимо изаберите један од понуђених одговора или унесите његов број.",
    },
    "choices": {
        "sq": "Ju lutemi zgjidhni përgjigjet me anë të butonave ose shkruani numrat e tyre, p.sh. 1, 3.",
        "sr": "Молимо изаберите одговоре помоћу дугмади или унесите њихове бројеве, на пример 1, 3.",
    },
    "geopoint": {
        "sq": (
            "Ju lutemi ndani vendndodhjen tuaj ose shkruani gjerësinë dhe gjatësinë gjeografike, p.sh. 42.66 21.17."
        ),
        "sr": "Молимо поделите своју локацију или унесите географску ширину и дужину, на пример 42.66 21.17.",
    },
    "media": {
        "sq": "Ju lutemi dërgoni si përgjigje një skedar (foto, incizim zëri ose video).",
        "sr": "Молимо пошаљите као одговор датотеку (фотографију, гласовни запис или видео).",
    },
    "add_another": {
        "sq": "Të shtoni edhe një: {group}?",
        "sr": "Да ли желите да додате још један унос: {group}?",
    },
    "yes": {
        "sq": "Po",
        "sr": "Да",
    },
    "no": {
        "sq": "Jo",
        "sr": "Не",
    },
    "acknowledge": {
        "sq": "Në rregull",
        "sr": "У реду",
    },
}


def message(key: str, locale: str, **values: object) -> str:
    """A built-in message for 'sq', 'sr-Cyrl' or 'sr-Latn', with named placeholders filled."""
    texts = MESSAGES[key]
    text = texts["sr"] if locale.startswith("sr") else texts["sq"]
    if values:
        text = text.format(**values)
    return cyrillic_to_latin(text) if locale == "sr-Latn" else text
