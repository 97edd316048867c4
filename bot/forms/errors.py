"""The one error a questionnaire raises when it cannot be loaded or played in a chat."""

from __future__ import annotations


class FormError(Exception):
    """A form was refused; ``row`` is the spreadsheet row on ``sheet`` (header = row 1) when known."""

    def __init__(self, row: int | None, sheet: str, message: str, more: list[FormError] | None = None) -> None:
        self.row = row
        self.sheet = sheet
        self.message = message
        self.problems: list[FormError] = [self, *(more or [])]  # every problem found, this one first
        super().__init__(str(self))

    @classmethod
    def of(cls, problems: list[FormError]) -> FormError:
        """One error for a form with several problems: the first one, carrying the others."""
        first = problems[0]
        return cls(first.row, first.sheet, first.message, problems[1:])

    def summary(self) -> str:
        """The first problem, and how many more there are."""
        rest = len(self.problems) - 1
        return str(self) if not rest else f"{self} (and {rest} more problem{'s' if rest > 1 else ''})"

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.sheet}: {self.message}"
        return f"{self.sheet} row {self.row}: {self.message}"

    def __reduce__(self) -> tuple[type[FormError], tuple[int | None, str, str, list[FormError]]]:
        return (FormError, (self.row, self.sheet, self.message, self.problems[1:]))
