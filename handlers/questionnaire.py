"""Playing a questionnaire in the chat: one question at a time, by button or by typing.

```mermaid
stateDiagram-v2
    [*] --> question: start (a follow-up wave, a sign-up)
    question --> question: answer (button or typed) · back · skip (when not required)
    question --> question: invalid answer → the form's message, and the question again
    question --> paused: any command, or "Pause"
    paused --> question: "Continue" (days later, exactly where it stopped)
    question --> [*]: last answer → submission completed, scores computed
```
Buttons carry `f:<submission>:<question index>:<action>`; a button from an earlier question (or
another submission) is recognised as stale and the current question is shown again.
Actions: `c<k>` choose, `t<k>` toggle, `d` done, `n` next (notes), `b` back, `s` skip, `p` pause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.forms import AnswerResult, Prompt
from bot.questionnaires import Questionnaire, Questionnaires
from db.models import Submission
from handlers import menu
from handlers.turn import Button, Turn

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.routes import Router

Completion = Callable[[Turn, Submission, Questionnaire], Awaitable[None]]
ON_COMPLETE: dict[str, Completion] = {}  # form id → what happens when a submission is complete
# Questions a capability reads itself, keyed "form id:question name" (a municipality found from a few
# typed letters, a date of birth checked against a programme's ages): the reader gets the typed text
# and returns True when it dealt with the turn. A question in TYPED_CHOICES shows no option buttons,
# because its list is too long to read in a chat; its options are found by typing.
Reader = Callable[[Turn, Submission, Questionnaire, Prompt, str], Awaitable[bool]]
READERS: dict[str, Reader] = {}
TYPED_CHOICES: set[str] = set()
MEDIA_KINDS = {"image": "photo", "audio": "voice", "video": "video", "file": "document"}


def _forms(turn: Turn) -> Questionnaires:
    return turn.services.extras["questionnaires"]  # type: ignore[no-any-return]


def _today(turn: Turn) -> date:
    return turn.now.astimezone(turn.translations.tz).date()


async def start(turn: Turn, form_id: str, *, wave: int | None = None) -> Submission:
    """Begin a new submission of `form_id` and show its first question."""
    questionnaire = _forms(turn).items[form_id]
    submission = Submission(
        beneficiary_id=turn.person.id,
        form_version_id=await questionnaire.version_id(turn.session, turn.now),
        form_id=form_id,
        wave=wave,
        state=questionnaire.runner.start(),
        status="in_progress",
        started_at=turn.now,
        updated_at=turn.now,
    )
    turn.session.add(submission)
    await turn.session.flush()
    await show(turn, submission)
    return submission


async def in_progress(turn: Turn, form_id: str) -> Submission | None:
    return (
        await turn.session.execute(
            select(Submission)
            .where(
                Submission.beneficiary_id == turn.person.id,
                Submission.form_id == form_id,
                Submission.status == "in_progress",
            )
            .order_by(Submission.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def _buttons(turn: Turn, submission: Submission, prompt: Prompt) -> list[list[Button]]:
    t = turn.t
    data = f"f:{submission.id}:{prompt.index}:"
    rows: list[list[Button]] = []
    if prompt.kind in ("select_one", "acknowledge"):
        rows += [[Button(label[:60], f"{data}c{k}")] for k, (_value, label) in enumerate(prompt.choices)]
    elif prompt.kind == "select_multiple":
        rows += [
            [Button(("✓ " if value in prompt.selected else "") + label[:58], f"{data}t{k}")]
            for k, (value, label) in enumerate(prompt.choices)
        ]
        rows.append([Button(t.gettext("Done"), f"{data}d")])
    elif prompt.kind == "note":
        rows.append([Button(t.gettext("Continue"), f"{data}n")])
    nav = []
    if prompt.can_back:
        nav.append(Button(t.gettext("Back"), f"{data}b"))
    if not prompt.required and prompt.kind not in ("note", "acknowledge"):
        nav.append(Button(t.gettext("Skip"), f"{data}s"))
    nav.append(Button(t.gettext("Pause"), f"{data}p"))
    rows.append(nav)
    return rows


async def show(turn: Turn, submission: Submission, *, error: str | None = None) -> None:
    """The current question (after `error`, when an answer was refused), or the end of the form."""
    questionnaire = _forms(turn).items[submission.form_id]
    prompt = questionnaire.runner.current(submission.state, turn.person.locale or "sq", _today(turn))
    if prompt is None:
        await _complete(turn, submission, questionnaire)
        return
    if f"{submission.form_id}:{prompt.name}" in TYPED_CHOICES:
        prompt = replace(prompt, kind="text", choices=[])
    answered, total = questionnaire.runner.progress(submission.state)
    text = prompt.text
    if prompt.kind in ("text", "integer", "decimal", "date", "time", "datetime"):
        text += "\n\n" + turn.t.gettext("Please type your answer.")
    if error:
        text = f"{error}\n\n{text}"
    turn.say(f"{text}\n\n({min(answered + 1, total)}/{total})", _buttons(turn, submission, prompt))
    turn.set_state(flow="form", submission=submission.id)


async def _complete(turn: Turn, submission: Submission, questionnaire: Questionnaire) -> None:
    runner = questionnaire.runner
    submission.status = "completed"
    submission.completed_at = turn.now
    submission.scores = runner.scores(submission.state)
    turn.set_state(flow="menu")
    hook = ON_COMPLETE.get(submission.form_id)
    if hook is not None:
        await hook(turn, submission, questionnaire)
    else:
        menu.show(turn, intro=turn.t.gettext("Thank you. Your answers are saved."))


def _save(submission: Submission, result: AnswerResult, turn: Turn) -> None:
    submission.state = result.state
    submission.updated_at = turn.now


async def _current(turn: Turn) -> Submission | None:
    raw = turn.state.get("submission")
    submission = await turn.session.get(Submission, raw) if isinstance(raw, int) else None
    if submission is None or submission.beneficiary_id != turn.person.id or submission.status != "in_progress":
        return None
    return submission


async def typed(turn: Turn) -> bool:
    """A typed answer (or a location, photo, voice…) to the current question; True when it was one."""
    submission = await _current(turn)
    if submission is None:
        return False
    questionnaire = _forms(turn).items[submission.form_id]
    runner, locale, today = questionnaire.runner, turn.person.locale or "sq", _today(turn)
    prompt = runner.current(submission.state, locale, today)
    if prompt is None:
        await _complete(turn, submission, questionnaire)
        return True
    inbound = turn.inbound
    if prompt.kind == "geopoint" and inbound.kind == "location":
        raw = f"{inbound.payload['latitude']} {inbound.payload['longitude']}"
    elif prompt.kind in MEDIA_KINDS and inbound.file_id:
        raw = inbound.file_id
    elif inbound.kind == "text" and (inbound.text or "").strip():
        raw = (inbound.text or "").strip()
    else:
        await show(
            turn,
            submission,
            error=turn.t.gettext("Please answer this question with the buttons or in words."),
        )
        return True
    reader = READERS.get(f"{submission.form_id}:{prompt.name}")
    if reader is not None and await reader(turn, submission, questionnaire, prompt, raw):
        return True
    if prompt.kind == "note":
        _save(submission, AnswerResult(runner.next(submission.state, today), None), turn)
        await show(turn, submission)
        return True
    result = runner.answer(submission.state, raw, today, locale)
    if result.error:
        await show(turn, submission, error=result.error)
        return True
    _save(submission, result, turn)
    await show(turn, submission)
    return True


async def button(turn: Turn, data: str) -> None:
    """A press on a question's button: `<submission>:<question index>:<action>`."""
    t = turn.t
    parts = data.split(":")
    submission = await _current(turn)
    if submission is None and len(parts) == 3 and parts[0].isdigit():
        candidate = await turn.session.get(Submission, int(parts[0]))
        if candidate is not None and candidate.beneficiary_id == turn.person.id and candidate.status == "in_progress":
            submission = candidate  # a paused questionnaire, resumed from its last question's buttons
    if submission is None or len(parts) != 3 or parts[0] != str(submission.id):
        menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
        return
    questionnaire = _forms(turn).items[submission.form_id]
    runner, locale, today = questionnaire.runner, turn.person.locale or "sq", _today(turn)
    prompt = runner.current(submission.state, locale, today)
    if prompt is None:
        await _complete(turn, submission, questionnaire)
        return
    if parts[1] != str(prompt.index):
        await show(
            turn,
            submission,
            error=t.gettext("That button belongs to an earlier question. Here is the current one:"),
        )
        return
    action = parts[2]
    if action == "p":
        turn.set_state(flow="menu")
        menu.show(turn, intro=t.gettext("Paused. Your answers are saved. Continue any time from the menu."))
        return
    result: AnswerResult | None = None
    if action == "b":
        result = AnswerResult(runner.back(submission.state), None)
    elif action == "s":
        result = runner.skip(submission.state, today, locale)
    elif action == "n":
        result = AnswerResult(runner.next(submission.state, today), None)
    elif action == "d":
        result = runner.done(submission.state, today, locale)
    elif action[:1] in ("c", "t") and action[1:].isdigit() and int(action[1:]) < len(prompt.choices):
        value = prompt.choices[int(action[1:])][0]
        if action[0] == "t" and prompt.kind == "select_multiple":
            result = AnswerResult(runner.toggle(submission.state, value, today), None)
        elif action[0] == "c" and prompt.kind in ("select_one", "acknowledge"):
            result = runner.answer(submission.state, value, today, locale)
    if result is None:
        await show(turn, submission, error=t.gettext("That button is no longer valid."))
        return
    if result.error:
        await show(turn, submission, error=result.error)
        return
    _save(submission, result, turn)
    await show(turn, submission)


def register(router: Router, services: Services, forms: Questionnaires) -> None:
    services.extras["questionnaires"] = forms
    router.buttons["f"] = button
    router.flows["form"] = typed
