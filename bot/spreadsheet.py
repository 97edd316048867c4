"""Exports as spreadsheets: every CSV and XLSX export writes its cells through here.

Exports carry what people typed, and anyone can type `=HYPERLINK("http://…"&A1,"x")`. A
spreadsheet program opening a CSV file reads a cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula; such a cell gets a leading single quote, as OWASP advises for CSV
injection, so it is shown as the text it was. In XLSX every string is written as a string cell,
never as a formula (openpyxl would otherwise store any string that begins with `=` as one), and
one that would read as a formula also carries the quote-prefix style, so editing it keeps it text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def reads_as_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: empty for None, text that would read as a formula quoted."""
    if value is None:
        return ""
    return "'" + value if reads_as_formula(value) else value


def xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """A value as an XLSX cell: strings always as strings (never formulas or error codes)."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    cell.data_type = "s"
    if reads_as_formula(value):
        cell.quotePrefix = True
    return cell


class Sheet:
    """Rows written one at a time to a CSV or XLSX stream (`close` finishes an XLSX file)."""

    def __init__(self, fmt: str, stream: IO[Any], name: str, headers: Iterable[str]) -> None:
        if fmt not in ("csv", "xlsx"):
            raise ValueError(f"unknown format {fmt!r}")
        self.stream = stream
        self.book: Workbook | None = None
        if fmt == "csv":
            self.writer = csv.writer(stream)
        else:
            self.book = Workbook(write_only=True)
            self.page = self.book.create_sheet(name[:31])
        self.append(headers)

    def append(self, row: Iterable[Any]) -> None:
        if self.book is None:
            self.writer.writerow([csv_cell(v) for v in row])
        else:
            self.page.append([xlsx_cell(self.page, v) for v in row])

    def close(self) -> None:
        if self.book is not None:
            self.book.save(self.stream)


def write(fmt: str, headers: Iterable[str], rows: Iterable[Iterable[Any]], stream: IO[Any], sheet: str) -> int:
    """A header row, then one row per row, as CSV or XLSX; returns the number of rows."""
    out = Sheet(fmt, stream, sheet, headers)
    count = 0
    for row in rows:
        out.append(row)
        count += 1
    out.close()
    return count
