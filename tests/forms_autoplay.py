"""Plays a form to the end with generated answers, for the runner's tests on real forms.

For each question it tries plausible answers of the question's kind until one is accepted, and
skips only where the form allows it; ``preferred`` names answers to try first for a field (a real
form's cascading choices can lead into an empty list, which a person would not pick either).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.forms import Form, Runner

CANDIDATES: dict[str, list[str]] = {
    "integer": ["1", "2", "0", "3", "5", "10", "20", "30", "50", "100", "7"],
    "decimal": ["1,5", "1", "0", "10", "100"],
    "date": ["15.06.2020", "01.01.2000", "01.01.1990", "2024-01-01"],
    "text": ["Abc", "ABC-123", "ABC-1234-001", "Abc def", "123456789", "InformationOK"],
    "time": ["10:30"],
    "datetime": ["01.01.2020 10:30"],
    "geopoint": ["42.66 21.17"],
    "image": ["photo-file-id"],
    "audio": ["voice-file-id"],
    "video": ["video-file-id"],
    "file": ["document-file-id"],
}


def autoplay(
    form: Form,
    *,
    today: date = date(2024, 5, 1),
    locale: str = "sq",
    rotate: int = 0,
    preferred: dict[str, list[str]] | None = None,
) -> tuple[Runner, dict[str, Any], list[str]]:
    """Answer until complete; returns the runner, the final state and the kinds asked, in order."""
    runner = Runner(form)
    state = runner.start()
    asked: list[str] = []
    preferred = preferred or {}
    while (prompt := runner.current(state, locale, today)) is not None:
        if len(asked) > 5000:
            raise AssertionError("the form did not end")
        asked.append(prompt.kind)
        if prompt.kind == "note":
            state = runner.next(state, today)
            continue
        values = [value for value, _ in prompt.choices]
        if values and rotate:
            values = values[rotate % len(values) :] + values[: rotate % len(values)]
        tries = preferred.get(prompt.name, []) + (values if prompt.choices else CANDIDATES[prompt.kind])
        for attempt in tries:
            if prompt.kind == "select_multiple":
                result = runner.done(runner.toggle(state, attempt, today), today, locale)
            else:
                result = runner.answer(state, attempt, today, locale)
            if result.error is None:
                state = result.state
                break
        else:
            result = runner.skip(state, today, locale)
            if result.error is not None:
                raise AssertionError(f"stuck at {prompt.name} ({prompt.kind}): {result.error}")
            state = result.state
    return runner, state, asked
