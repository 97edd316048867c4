"""Commands as plain words: WhatsApp and Viber have no command menu, so "menu", "ndal" or "стоп" work as well.

A message that is one of these words alone (any case, closing punctuation ignored) is the command,
on every channel; anything longer is ordinary text.
"""

from __future__ import annotations

from bot.text import cyrillic_to_latin

WORDS: dict[str, tuple[str, ...]] = {
    "start": ("start", "fillo", "почни", "počni", "pocni"),
    "menu": ("menu", "meny", "menyja", "мени", "meni"),
    "lang": ("language", "gjuha", "gjuhë", "језик", "jezik"),
    "help": ("help", "ndihmë", "ndihme", "помоћ", "pomoć", "pomoc"),
    "human": ("human", "operator", "оператор"),
    "stop": ("stop", "ndal", "стоп"),
    "mydata": ("mydata", "my data", "të dhënat e mia", "te dhenat e mia", "моји подаци", "moji podaci"),
    "delete": ("delete", "fshij", "fshi", "обриши", "obriši", "obrisi"),
}
_COMMAND_OF = {
    form: command
    for command, words in WORDS.items()
    for word in words
    for form in {word.casefold(), cyrillic_to_latin(word).casefold()}
}


def command_word(text: str | None) -> str | None:
    """The command a message of one plain word stands for, or None."""
    if not text or len(text) > 40:
        return None
    word = " ".join(text.strip().rstrip("!.?…").split()).casefold()
    return _COMMAND_OF.get(word)
