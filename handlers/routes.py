"""Which handler answers a turn: commands first, then buttons, then the conversation's flow.

Commands `/start /menu /lang /help` work in every state, also typed as plain words ("menu",
"ndal"). Everything that no handler claims gets a helpful answer that points to the menu, in the
person's language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from handlers import fallback, menu, onboarding
from handlers.command_words import command_word
from handlers.turn import Turn

ButtonHandler = Callable[[Turn, str], Awaitable[None]]
FlowHandler = Callable[[Turn], Awaitable[bool]]


class Router:
    """The routing table; capability modules register their commands, button prefixes and flows."""

    def __init__(self) -> None:
        self.commands: dict[str, Callable[[Turn], Awaitable[None]]] = {}
        self.buttons: dict[str, ButtonHandler] = {}
        self.flows: dict[str, FlowHandler] = {}
        self.text: Callable[[Turn], Awaitable[None]] | None = None

    async def route(self, turn: Turn) -> None:
        word = command_word(turn.inbound.text) if turn.inbound.kind == "text" else None
        if word is not None:  # "menu", "ndal", "стоп": a command typed as a plain word
            turn.inbound = replace(turn.inbound, kind="command", command=word, args="")
        inbound = turn.inbound
        if inbound.kind == "edit":
            return  # stored in the transcript by the engine; an edit asks nothing new
        if inbound.kind == "command":
            handler = self.commands.get(inbound.command or "")
            if handler is None:
                fallback.unknown_command(turn)
            else:
                await handler(turn)
            return
        if inbound.kind == "button":
            prefix, _, rest = (inbound.data or "").partition(":")
            button = self.buttons.get(prefix)
            if button is None:
                fallback.stale_button(turn)
            else:
                await button(turn, rest)
            return
        if turn.person.locale is None:
            onboarding.ask_language(turn)
            return
        if turn.person.consent in ("pending", "erased") or (
            turn.person.consent == "given" and onboarding.needs_consent(turn)
        ):
            onboarding.ask_consent(turn)  # first contact, or the privacy notice changed since they agreed
            return
        flow = self.flows.get(turn.state.get("flow", ""))
        if flow is not None and await flow(turn):
            return
        if inbound.kind != "text":
            fallback.media(turn)
        elif self.text is not None and (inbound.text or "").strip():
            await self.text(turn)
        else:
            fallback.free_text(turn)


async def _start(turn: Turn) -> None:
    payload = turn.inbound.args.strip()
    if payload and turn.person.source is None and turn.person.consent in ("given", "pending"):
        turn.person.source = payload[:64]
    if turn.person.consent == "given":
        turn.person.opted_out = False  # back after /stop
    onboarding.ask_language(turn)
    if payload:
        turn.conversation.state = {**turn.state, "start_payload": payload[:64]}


async def _menu(turn: Turn) -> None:
    if turn.person.locale is None:
        onboarding.ask_language(turn)
    elif turn.person.consent in ("pending", "erased"):
        onboarding.ask_consent(turn)
    else:
        menu.show(turn)


async def _lang(turn: Turn) -> None:
    onboarding.ask_language(turn)


async def _help(turn: Turn) -> None:
    menu.show_help(turn)


async def _menu_button(turn: Turn, key: str) -> None:
    if turn.person.locale is None:
        onboarding.ask_language(turn)
    elif turn.person.consent in ("pending", "erased"):
        onboarding.ask_consent(turn)
    else:
        await menu.choose(turn, key)


async def _menu_lang(turn: Turn) -> None:
    onboarding.ask_language(turn)


async def _menu_privacy(turn: Turn) -> None:
    menu.show_privacy(turn)


def build_router() -> Router:
    """The routes of the foundation; capabilities add theirs when the composition root wires them."""
    router = Router()
    router.commands.update({"start": _start, "menu": _menu, "lang": _lang, "help": _help})
    router.buttons.update(
        {"lang": onboarding.choose_language, "consent": onboarding.answer_consent, "menu": _menu_button}
    )
    menu.ACTIONS.update({"lang": _menu_lang, "privacy": _menu_privacy})
    return router
