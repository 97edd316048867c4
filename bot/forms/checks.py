"""Is a loaded form ready for the chat? Both languages everywhere, and buttons Telegram can carry.

Loading already refuses what cannot be played; this finds what would play badly: a label or
message missing in Albanian or Serbian, or a choice list too long for buttons. Button callback
data follows "f:<submission id, up to 10 digits>:<question index>:<choice index>" and must fit in
Telegram's 64 bytes; an inline keyboard holds at most 100 buttons.
"""

from __future__ import annotations

from bot.forms.model import Form, Node, language_code

REQUIRED_LOCALES = {"sq": "Albanian (sq)", "sr": "Serbian (sr)"}
CALLBACK_LIMIT = 64
MAX_BUTTONS = 100


def callback_bytes(question_index: int, choice_index: int) -> int:
    return len(f"f:{'9' * 10}:{question_index}:{choice_index}".encode())


def check_form(form: Form) -> list[str]:
    """Problems that keep a form from playing well in the chat, each naming its sheet row."""
    problems: list[str] = []
    languages = {code: lang for lang in form.languages if (code := language_code(lang))}
    missing = [code for code in REQUIRED_LOCALES if code not in languages]
    for code in missing:
        problems.append(
            f"settings: the form has no {REQUIRED_LOCALES[code]} columns (e.g. label::{REQUIRED_LOCALES[code]})"
        )
    present = [languages[code] for code in REQUIRED_LOCALES if code in languages]
    used_lists: dict[str, Node] = {}
    for node in form.nodes:
        where = f"survey row {node.row}" if node.row else f"survey '{node.name}'"
        if node.asked or node.kind in ("group", "repeat"):
            fields = [("label", node.labels, node.asked)]
            fields += [("hint", node.hints, False), ("constraint_message", node.constraint_messages, False),
                       ("required_message", node.required_messages, False)]  # fmt: skip
            for column, texts, always in fields:
                if not texts and not always:
                    continue
                for lang in present:
                    if not texts.get(lang, "").strip():
                        problems.append(f"{where}: {column}::{lang} is empty for '{node.name}'")
        if node.list_name and node.asked:
            used_lists.setdefault(node.list_name, node)
            count = len(form.choices.get(node.list_name, []))
            buttons = count + (1 if node.kind == "select_multiple" else 0)
            if buttons > MAX_BUTTONS:
                problems.append(f"{where}: choice list '{node.list_name}' has {count} choices; "
                                f"a chat keyboard holds at most {MAX_BUTTONS} buttons")  # fmt: skip
            if count and callback_bytes(node.index, count - 1) > CALLBACK_LIMIT:
                problems.append(f"{where}: button data for '{node.name}' would exceed {CALLBACK_LIMIT} bytes")
    for list_name in used_lists:
        for choice in form.choices.get(list_name, []):
            for lang in present:
                if not choice.labels.get(lang, "").strip():
                    at = f"choices row {choice.row}" if choice.row else f"choices list '{list_name}'"
                    problems.append(f"{at}: label::{lang} is empty for choice '{choice.value}'")
    return problems


def summary(form: Form) -> str:
    """One line for a form that passed: what it holds and that it plays."""
    questions = len(form.questions)
    lists = len({n.list_name for n in form.nodes if n.list_name and n.asked})
    codes = sorted({c for lang in form.languages if (c := language_code(lang))}) or ["default"]
    return f"{questions} questions, {lists} choice lists, languages {', '.join(codes)}: playable in chat"
