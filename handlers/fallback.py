"""Answers for what no other handler claims: unknown commands, stale buttons, media, odd text."""

from __future__ import annotations

from handlers import menu, onboarding
from handlers.turn import Turn


def unknown_command(turn: Turn) -> None:
    if turn.person.locale is None:
        onboarding.ask_language(turn)  # a stranger: the picker speaks all three languages until they choose
        return
    t = turn.t
    command = (turn.inbound.command or "")[:32]
    menu.show(turn, intro=t.gettext("I do not know the command /{command}. Here is the menu:", command=command))


def stale_button(turn: Turn) -> None:
    if turn.person.locale is None:
        onboarding.ask_language(turn)
        return
    menu.show(turn, intro=turn.t.gettext("That button is no longer valid. Here is the current menu:"))


def free_text(turn: Turn) -> None:
    t = turn.t
    text = (turn.inbound.text or "").strip()
    if not text:
        intro = t.gettext("Your message was empty. Please write your question in words, or use the menu:")
    else:
        intro = t.gettext("I did not understand that. Please choose from the menu:")
    menu.show(turn, intro=intro)


def media(turn: Turn) -> None:
    t = turn.t
    received = {
        "photo": t.gettext("Thank you, I received your photo."),
        "voice": t.gettext("Thank you, I received your voice message."),
        "audio": t.gettext("Thank you, I received your audio file."),
        "video": t.gettext("Thank you, I received your video."),
        "video_note": t.gettext("Thank you, I received your video message."),
        "document": t.gettext("Thank you, I received your document."),
        "location": t.gettext("Thank you, I received your location."),
        "contact": t.gettext("Thank you, I received the contact."),
        "sticker": t.gettext("Thank you for the sticker."),
    }.get(turn.inbound.kind, t.gettext("Thank you, I received your message."))
    if turn.person.consent == "given":
        kept = t.gettext("It is saved in your conversation, where your caseworker can see it.")
    else:
        kept = t.gettext("It was not saved, because you did not agree that we keep your messages.")
    turn.say(f"{received} {kept}")
    menu.show(
        turn,
        intro=t.gettext("I can only answer written questions. Please write your question, or use the menu:"),
    )
