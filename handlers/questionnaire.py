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
Actions: `c<k>` choose, `t<k>` toggle, `d` done, `n` next (notes), `k` keep the default answer,
`g<n>` turn to page n of a long list, `b` back, `s` skip, `p` pause. A long list shows ten options a
screen; typed letters find an option in it (one match is the answer, a few are offered as buttons).
A step whose form logic fails is passed over and recorded for the form's owner, never ending the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.forms import AnswerResult, Prompt, Runner
from bot.questionnaires import Questionnaire, Questionnaires
from bot.text import fold
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


log = logging.getLogger("homeward.forms")
PAGE = 10  # option buttons a screen; longer lists turn pages or are searched by typing
MAX_PASSES = 50  # questions passed over in one turn after failures, before the form is given up as finished


def _failed(turn: Turn, submission: Submission, questionnaire: Questionnaire, err: Exception) -> None:
    """A step of the form failed: the person goes on with the next question, the owner sees the failure."""
    log.warning("questionnaire step failed", extra={"form": submission.form_id, "error": type(err).__name__})
    submission.state = questionnaire.runner.pass_over(submission.state, _today(turn), err)
    submission.updated_at = turn.now


def _prompt(turn: Turn, submission: Submission, questionnaire: Questionnaire) -> Prompt | None:
    """The current question; a question whose logic fails is passed over (and recorded), never fatal."""
    for _ in range(MAX_PASSES):
        try:
            prompt = questionnaire.runner.current(submission.state, turn.person.locale or "sq", _today(turn))
            if prompt is not None:
                questionnaire.runner.progress(submission.state)
            return prompt
        except Exception as err:  # the form's logic failed here: never the end of the person's turn
            _failed(turn, submission, questionnaire, err)
    return None


def _forms(turn: Turn) -> Questionnaires:
    return turn.services.extras["questionnaires"]  # type: ignore[no-any-return]


def _today(turn: Turn) -> datetime:
    """The clock's moment in Kosovo time: the runner's today(), now(), start and end read it."""
    return turn.now.astimezone(turn.translations.tz)


async def start(turn: Turn, form_id: str, *, wave: int | None = None) -> Submission:
    """Begin a new submission of `form_id` and show its first question."""
    questionnaire = _forms(turn).items[form_id]
    submission = Submission(
        beneficiary_id=turn.person.id,
        form_version_id=await questionnaire.version_id(turn.session, turn.now),
        form_id=form_id,
        wave=wave,
        state=questionnaire.runner.start(_today(turn)),
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


def _buttons(
    turn: Turn, submission: Submission, prompt: Prompt, page: int = 0, only: list[int] | None = None
) -> list[list[Button]]:
    t = turn.t
    data = f"f:{submission.id}:{prompt.index}:"
    rows: list[list[Button]] = []
    indices = only if only is not None else list(range(len(prompt.choices)))
    pages = max(1, -(-len(indices) // PAGE))
    page = min(max(page, 0), pages - 1)
    here = indices[page * PAGE : (page + 1) * PAGE]  # at most ten options a screen
    if prompt.kind in ("select_one", "acknowledge"):
        rows += [[Button(prompt.choices[k][1][:60], f"{data}c{k}")] for k in here]
    elif prompt.kind == "select_multiple":
        rows += [
            [
                Button(
                    ("✓ " if prompt.choices[k][0] in prompt.selected else "") + prompt.choices[k][1][:58], f"{data}t{k}"
                )
            ]
            for k in here
        ]
    if pages > 1:
        turning = []
        if page > 0:
            turning.append(Button(t.gettext("‹ Previous"), f"{data}g{page - 1}"))
        if page < pages - 1:
            turning.append(Button(t.gettext("More ›"), f"{data}g{page + 1}"))
        rows.append(turning)
    if prompt.kind == "select_multiple":
        rows.append([Button(t.gettext("Done"), f"{data}d")])
    elif prompt.kind == "note":
        rows.append([Button(t.gettext("Continue"), f"{data}n")])
    if prompt.suggested:
        rows.append([Button(t.gettext("Keep: {answer}", answer=prompt.suggested[:40]), f"{data}k")])
    nav = []
    if prompt.can_back:
        nav.append(Button(t.gettext("Back"), f"{data}b"))
    if not prompt.required and prompt.kind not in ("note", "acknowledge"):
        nav.append(Button(t.gettext("Skip"), f"{data}s"))
    nav.append(Button(t.gettext("Pause"), f"{data}p"))
    rows.append(nav)
    return rows


def _search(prompt: Prompt, typed: str) -> list[int]:
    """The options whose label holds the typed letters (folded: case, accents and script aside)."""
    wanted = " ".join(fold(typed).split())
    if not wanted:
        return []
    return [k for k, (_value, label) in enumerate(prompt.choices) if wanted in " ".join(fold(label).split())]


async def show(
    turn: Turn, submission: Submission, *, error: str | None = None, page: int = 0, only: list[int] | None = None
) -> None:
    """The current question (after `error`, when an answer was refused), or the end of the form.

    A long list shows ten options a screen (``page``), or only the options a typed search found (``only``).
    """
    questionnaire = _forms(turn).items[submission.form_id]
    prompt = _prompt(turn, submission, questionnaire)
    answered, total = questionnaire.runner.progress(submission.state) if prompt is not None else (0, 0)
    if prompt is None:
        await _complete(turn, submission, questionnaire)
        return
    if f"{submission.form_id}:{prompt.name}" in TYPED_CHOICES:
        prompt = replace(prompt, kind="text", choices=[])
    text = prompt.text
    if prompt.kind in ("text", "integer", "decimal", "date", "time", "datetime"):
        text += "\n\n" + turn.t.gettext("Please type your answer.")
    elif prompt.kind in ("select_one", "select_multiple") and len(prompt.choices) > PAGE and only is None:
        text += "\n\n" + turn.t.gettext("Or type a few letters of your answer to find it.")
    if error:
        text = f"{error}\n\n{text}"
    turn.say(f"{text}\n\n({min(answered + 1, total)}/{total})", _buttons(turn, submission, prompt, page, only))
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
    prompt = _prompt(turn, submission, questionnaire)
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
    try:
        result = runner.answer(submission.state, raw, today, locale)
    except Exception as err:  # the form's logic failed on this answer: go on with the next question
        _failed(turn, submission, questionnaire, err)
        await show(turn, submission)
        return True
    if result.error and prompt.kind == "select_one" and prompt.choices:
        found = _search(prompt, raw)
        if len(found) == 1:  # the typed letters name one option: that is the answer
            result = runner.answer(submission.state, prompt.choices[found[0]][0], today, locale)
        elif 1 < len(found) <= PAGE:
            await show(turn, submission, error=turn.t.gettext("Several answers match. Please choose one:"), only=found)
            return True
        elif found:
            await show(turn, submission, error=turn.t.gettext("Many answers match. Please type a few more letters."))
            return True
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
    prompt = _prompt(turn, submission, questionnaire)
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
    if action[:1] == "g" and action[1:].isdigit():
        await show(turn, submission, page=int(action[1:]))
        return
    if action == "p":
        turn.set_state(flow="menu")
        menu.show(turn, intro=t.gettext("Paused. Your answers are saved. Continue any time from the menu."))
        return
    try:
        result = _pressed(runner, submission, prompt, action, today, locale)
    except Exception as err:  # the form's logic failed on this press: go on with the next question
        _failed(turn, submission, questionnaire, err)
        await show(turn, submission)
        return
    if result is None:
        await show(turn, submission, error=t.gettext("That button is no longer valid."))
        return
    if result.error:
        await show(turn, submission, error=result.error)
        return
    _save(submission, result, turn)
    await show(turn, submission)


def _pressed(
    runner: Runner, submission: Submission, prompt: Prompt, action: str, today: datetime, locale: str
) -> AnswerResult | None:
    """What a button press does to the state; None when the button does not fit the question."""
    result: AnswerResult | None = None
    if action == "b":
        result = AnswerResult(runner.back(submission.state), None)
    elif action == "s":
        result = runner.skip(submission.state, today, locale)
    elif action == "n":
        result = AnswerResult(runner.next(submission.state, today), None)
    elif action == "d":
        result = runner.done(submission.state, today, locale)
    elif action == "k":
        result = runner.keep(submission.state, today, locale)
    elif action[:1] in ("c", "t") and action[1:].isdigit() and int(action[1:]) < len(prompt.choices):
        value = prompt.choices[int(action[1:])][0]
        if action[0] == "t" and prompt.kind == "select_multiple":
            result = AnswerResult(runner.toggle(submission.state, value, today), None)
        elif action[0] == "c" and prompt.kind in ("select_one", "acknowledge"):
            result = runner.answer(submission.state, value, today, locale)
    return result


def register(router: Router, services: Services, forms: Questionnaires) -> None:
    services.extras["questionnaires"] = forms
    router.buttons["f"] = button
    router.flows["form"] = typed
