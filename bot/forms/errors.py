"""The one error a questionnaire raises when it cannot be loaded or played in a chat."""

from __future__ import annotations


class FormError(Exception):
    """A form was refused; ``row`` is the spreadsheet row on ``sheet`` (header = row 1) when known."""

    def __init__(self, row: int | None, sheet: str, message: str) -> None:
        self.row = row
        self.sheet = sheet
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.sheet}: {self.message}"
        return f"{self.sheet} row {self.row}: {self.message}"

    def __reduce__(self) -> tuple[type[FormError], tuple[int | None, str, str]]:
        return (FormError, (self.row, self.sheet, self.message))
