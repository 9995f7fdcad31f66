"""The one way ParIndex writes CSV, and the one guard on text it writes into spreadsheets.

CSV for people opens in Excel, which reads a CSV with the separators of the reader's locale: in a
Vietnamese Windows the list separator is ";" and the decimal mark ",". A Vietnamese download is
therefore written with ";" and decimal commas ("86,47"), an English one with "," and dots; `?sep=`
chooses either explicitly (";" or ","). Every file starts with a UTF-8 BOM so that Excel reads the
Vietnamese letters. Commands that print CSV for programs use the plain dialect (",", dots) without
a BOM, as DESIGN §5 defines `ranking --format csv`.

Text that begins with = + - @, a tab or a carriage return is read by Excel as a formula (CSV
injection, OWASP): in CSV it is written after a single quote; in a workbook it is stored as text with
Excel's own "quote prefix" (what typing a leading ' does), so the cell shows exactly what was written,
is never evaluated, and a template read back returns it unchanged.
"""

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar, cast

from parindex.numbers import round_half_up

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A signed plain number ("-3", "+1,5") starts like a formula but is read as that number: not escaped.
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")
BOM = "\ufeff"
_T = TypeVar("_T")


@dataclass(frozen=True)
class CsvDialect:
    separator: str = ","
    decimal_comma: bool = False
    bom: bool = True


PLAIN = CsvDialect(",", decimal_comma=False, bom=True)
EXCEL_VI = CsvDialect(";", decimal_comma=True, bom=True)
MACHINE = CsvDialect(",", decimal_comma=False, bom=False)


def csv_dialect(language: str | None, sep: str | None = None) -> CsvDialect:
    """The dialect of a download: an explicit `sep` (";" → semicolons and decimal commas, "," → commas
    and dots) wins; otherwise Vietnamese gets semicolons and decimal commas, other languages commas."""
    choice = (sep or "").strip().lower()
    if choice in (";", "semicolon", "%3b"):
        return EXCEL_VI
    if choice in (",", "comma", "%2c"):
        return PLAIN
    return EXCEL_VI if (language or "vi").split("-")[0] == "vi" else PLAIN


def is_formula_like(value: object) -> bool:
    """Text a spreadsheet would take for a formula: a leading = + - @, tab or carriage return, unless
    the whole text is a plain signed number."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value)


def escape_formula(value: object) -> object:
    """A text value Excel would take for a formula, after a single quote (OWASP); others unchanged."""
    return "'" + value if is_formula_like(value) else value  # type: ignore[operator]


def unescape_formula(value: _T) -> _T:
    """A cell read back: the single quote escape_formula put before a formula-like text removed;
    anything else (numbers, dates, other text) unchanged."""
    if isinstance(value, str) and value.startswith("'") and is_formula_like(value[1:]):
        return cast(_T, value[1:])
    return value


def csv_value(value: object, dialect: CsvDialect, places: int | None = None) -> str:
    """One cell: None empty, numbers with the dialect's decimal mark (fixed `places` when given),
    booleans as true/false, text escaped (escape_formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        number = Decimal(str(value))
        text = f"{round_half_up(number, places):f}" if places is not None else f"{number:f}"
        return text.replace(".", ",") if dialect.decimal_comma else text
    return str(escape_formula(str(value)))


def csv_text(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    dialect: CsvDialect = PLAIN,
    *,
    places: Mapping[int, int] | None = None,
) -> str:
    """The CSV text of a table (with the BOM when the dialect has one). `places` fixes the decimals
    of the numbers by column index."""
    places = places or {}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=dialect.separator, lineterminator="\r\n" if dialect.bom else "\n")
    writer.writerow([csv_value(title, dialect) for title in header])
    for row in rows:
        writer.writerow([csv_value(value, dialect, places.get(i)) for i, value in enumerate(row)])
    return (BOM if dialect.bom else "") + out.getvalue()


def protect_text_cells(cells: Iterable) -> None:
    """Text cells of a workbook that Excel would take for formulas are kept as text: stored as a
    string with the quote prefix (openpyxl makes any "=…" string a formula otherwise)."""
    for cell in cells:
        value = cell.value
        if is_formula_like(value):
            cell.data_type = "s"
            cell.quotePrefix = True


def protect_sheet(ws, *, skip: Iterable[str] = ()) -> None:
    """protect_text_cells on every cell of a sheet that holds no formula of ours (`skip`: coordinates
    of the formulas the code writes on purpose, e.g. subtotals)."""
    kept = set(skip)
    protect_text_cells(cell for row in ws.iter_rows() for cell in row if cell.coordinate not in kept)
