"""Safe reading of spreadsheets (.xlsx, .csv) uploaded by people or named on the command line.

Shared by every importer. A file is refused before it is parsed when it is too large, is not what
its name says (a renamed text file, an old .xls, a password-protected workbook, a broken zip), or
is a zip bomb (judged by the sizes the zip declares, before anything is decompressed). A part that
declares a document type (entity attacks) is refused before any parser sees it; XML attacks are also
stopped by defusedxml, which openpyxl uses automatically when it is installed (it is a
dependency; tests assert ``openpyxl.DEFUSEDXML``); the error they raise, like any other error met
while parsing, becomes one clean "cannot be read" problem, never a traceback.

Formulas are never evaluated and hyperlinks never followed (openpyxl's read-only mode does not even
load hyperlinks; external links are dropped with ``keep_links=False``). A workbook is read in two
lazy passes over the same rows: one with ``data_only=True`` for the values Excel or LibreOffice
cached, one with ``data_only=False`` that only tells which cells hold a formula. Rows give the
cached values (what the person saw), and ``Row.formula(key)`` lets an importer refuse a formula in a
cell it stores: a formula's cached value is whatever the file says, and a formula written by a
program has no cached value at all (it would read as blank and silently clear a score). The second
pass costs about as much as the first; a 50-criterion workbook still reads in milliseconds.

Problems are collected, never raised one by one, so that a person sees every mistake of a file at
once. A Problem keeps its English message id and parameters and is translated when rendered, so
one list can be shown in Vietnamese and in English.
"""

import contextlib
import csv
import functools
import io
import itertools
import logging
import os
import re
import threading
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop, override

from parindex.csv_export import unescape_formula
from parindex.errors import ServiceError, shown

N_ = gettext_noop
logger = logging.getLogger(__name__)

XLSX_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An Excel workbook saved with a password is an OLE2 file holding an "EncryptedPackage" stream.
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
MAX_ZIP_MEMBERS = 10_000
HEADER_SEARCH_ROWS = 20
MAX_BLANK_ROWS = 2000  # after a blank run this long, reading ends where the sheet's last value is
# Excel's own sheet limit: no honest file has rows past it; an endless supply of rows ends here.
MAX_SCANNED_ROWS = 1_048_576
# Data rows below the header of one file (settings.PARINDEX_MAX_ROWS overrides); a framework has a
# few hundred criteria, a survey a few hundred units: more is a mistake, refused before reading on.
MAX_ROWS = 5000
# Problems kept of one file (settings.PARINDEX_MAX_PROBLEMS overrides): the first ones in reading
# order (by cell), then one line "and N more problems" (counted, not stored).
MAX_PROBLEMS = 200
# Honest workbooks of a few thousand rows unpack to a few MB; these caps leave a wide margin.
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # settings.PARINDEX_XLSX_MAX_UNCOMPRESSED_BYTES overrides
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_FROM_BYTES = 10 * 1024 * 1024


# --- problems ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One mistake in a file, located by cell ("D14") or row, translated when rendered.

    `message` is an English message id (marked with gettext_noop where the problem is made) with
    %(name)s placeholders; Decimal parameters are written the active language's way ("13,5" /
    "13.5"). A `literal` message is shown as it is. `criterion` names the criterion a service's
    refusal is about, shown with the location ("D14 (tiêu chí 2.3)").
    """

    message: str
    params: dict = field(default_factory=dict)
    cell: str = ""
    row: int | None = None
    sheet: str = ""
    literal: bool = False
    criterion: str = ""

    @classmethod
    def from_service(
        cls, error: ServiceError, *, cell: str = "", row: int | None = None, sheet: str = ""
    ) -> "Problem":
        """A service's refusal (one detail) placed on a cell or row; the criterion is named with the
        location unless the message names it already."""
        params = {key: "—" if value is None else value for key, value in error.message_params.items()}
        named = error.criterion and error.criterion in {str(value) for value in params.values()}
        return cls(
            error.message_id,
            params,
            cell=cell,
            row=row,
            sheet=sheet,
            criterion="" if named else (error.criterion or ""),
        )

    def text(self) -> str:
        if self.literal:
            return self.message
        params = {key: shown(value) for key, value in self.params.items()}
        return gettext(self.message) % params if params else gettext(self.message)

    def location(self) -> str:
        if self.cell:
            place = self.cell
        elif self.row is not None:
            place = gettext("row %(row)s") % {"row": self.row}
        else:
            place = ""
        if self.criterion:
            if not place:
                return gettext("criterion %(code)s") % {"code": self.criterion}
            return gettext("%(location)s (criterion %(code)s)") % {"location": place, "code": self.criterion}
        return place

    def render(self, file_name: str = "") -> str:
        prefix = []
        if file_name:
            prefix.append(file_name)
        if self.sheet:
            prefix.append(f"[{self.sheet}]")
        location = self.location()
        if location:
            prefix.append(location)
        head = " ".join(prefix)
        return f"{head}: {self.text()}" if head else self.text()

    def __str__(self):
        return self.render()


def render_problems(
    problems: Iterable[Problem], file_name: str = "", language: str | None = None
) -> list[str]:
    problems = list(problems)
    if language is None:
        return [p.render(file_name) for p in problems]
    with override(language):
        return [p.render(file_name) for p in problems]


def render_problems_bilingual(
    problems: Iterable[Problem], file_name: str = "", total: int | None = None
) -> str:
    """All problems in Vietnamese, then all again in English, under a heading in each language."""
    problems = list(problems)
    total = len(problems) if total is None else total
    parts = []
    for language in ("vi", "en"):
        if parts:
            parts.append("")
        with override(language):
            heading = gettext("%(file)s: %(count)s problem(s) found; nothing was saved.") % {
                "file": file_name or "-",
                "count": total,
            }
            parts.append(heading)
            parts.extend("  " + p.render(file_name) for p in problems)
    return "\n".join(parts)


class SpreadsheetError(ValidationError):
    """A file was refused or holds mistakes; `problems` lists them all."""

    def __init__(self, problems: Iterable[Problem], file_name: str = ""):
        problems = list(problems)
        self.total = len(problems)  # all problems found; only the first max_problems() are kept
        self.problems = capped_problems(problems)
        self.file_name = file_name
        super().__init__(
            [p.render(file_name) for p in self.problems] or [gettext("The file cannot be read.")]
        )

    def bilingual(self) -> str:
        return render_problems_bilingual(self.problems, self.file_name, total=self.total)


# --- names of columns -------------------------------------------------------------------------------


def normalize_name(value) -> str:
    """Case- and accent-insensitive form of a header: "Điểm tối đa" → "diem toi da"."""
    if value is None:
        return ""
    text = str(value).replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[_\-]+", " ", text)
    text = re.sub(r"[^\w/ ]+", " ", text)
    return " ".join(text.split())


@functools.lru_cache(maxsize=256)
def _normalized_names(names: tuple[str, ...]) -> frozenset[str]:
    """A column's header names, normalized once (the header search asks for every cell of its rows)."""
    return frozenset(normalize_name(name) for name in names)


def cell_text(value) -> str:
    """A cell as text: numbers as written (no "1.0"), None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def column_letter(index: int) -> str:
    """0-based column index → "A", "B", …, "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class Sheet:
    """Rows of one sheet, read lazily; each row is (row number, tuple of values, trailing blanks cut).

    `_formulas`, when given, runs alongside `_rows` and yields for each row the 0-based indexes of
    the cells that hold a formula (a workbook's second pass); CSV files have none.
    """

    name: str
    _rows: Iterable[tuple]
    hidden: bool = False
    _formulas: Iterable[frozenset] | None = None
    # The last row holding a cell with content (None: unknown, read to the end).
    last_row: int | None = None

    def rows(self) -> Iterator[tuple[int, tuple]]:
        """Non-blank rows with their 1-based numbers (blank rows skipped, however many)."""
        for number, values, _formulas in self.rows_with_formulas():
            yield number, values

    def rows_with_formulas(self) -> Iterator[tuple[int, tuple, frozenset]]:
        """Like rows(), with the indexes of the row's formula cells. A file that breaks while it is
        parsed (bad XML, an entity attack stopped by defusedxml) raises SpreadsheetError.

        Blank rows are skipped, however many: data after a long blank run is read, never lost.
        After MAX_BLANK_ROWS blank rows in a row (LibreOffice can declare a million formatted but empty
        rows) reading stops only when the sheet has no value further down (`last_row`, found by a
        scan of the sheet's XML when it was opened; a CSV's rows are all in memory)."""
        formulas = iter(self._formulas) if self._formulas is not None else None
        blank_run = 0
        with reading_guard():
            for number, values in enumerate(self._rows, start=1):
                if number > MAX_SCANNED_ROWS:
                    return
                formula_cells = next(formulas, frozenset()) if formulas is not None else frozenset()
                values = tuple(values or ())
                end = len(values)
                while end and _is_blank(values[end - 1]) and end - 1 not in formula_cells:
                    end -= 1
                if not end:
                    blank_run += 1
                    if blank_run >= MAX_BLANK_ROWS and self.last_row is not None and number >= self.last_row:
                        return
                    continue
                blank_run = 0
                yield number, values[:end], formula_cells


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class Spreadsheet:
    name: str
    sheets: list[Sheet]
    is_csv: bool = False
    _closer: object = None

    def first_sheet(self) -> Sheet:
        visible = [s for s in self.sheets if not s.hidden]
        return (visible or self.sheets)[0]

    def sheet(self, name: str) -> Sheet | None:
        return next((s for s in self.sheets if s.name == name), None)

    def close(self):
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _refuse(message: str, **params) -> SpreadsheetError:
    return SpreadsheetError([Problem(message, params)])


# The cause (an XML attack stopped by defusedxml, a missing part…) goes to the log, not to the person.
UNREADABLE = N_(
    "The file could not be read: it is damaged or was not saved by Excel or LibreOffice. Open it, save it "
    "again as 'Excel Workbook (.xlsx)' and upload it again."
)


@contextlib.contextmanager
def reading_guard(file_name: str = ""):
    """Turn any unexpected error met while reading a file into one clean problem (logged with its
    traceback for the developers): a person never sees a traceback. SpreadsheetError and other
    ValidationErrors pass through unchanged."""
    try:
        yield
    except ValidationError:
        raise
    except Exception as exc:
        logger.warning("unreadable spreadsheet %s", file_name or "-", exc_info=True)
        raise SpreadsheetError([Problem(UNREADABLE)], file_name) from exc


def file_label(source) -> str:
    """The name of a file as shown in messages."""
    if isinstance(source, str | os.PathLike):
        return os.path.basename(os.fspath(source))
    return os.path.basename(getattr(source, "name", "") or "")


def _read_source(source) -> tuple[str, bytes | None, str | None, int]:
    """(display name, bytes or None, path or None, size) for a path or an uploaded file object."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            size = os.path.getsize(path)
        except OSError as exc:
            raise _refuse(N_("The file cannot be opened: %(error)s."), error=exc.strerror or exc) from exc
        return os.path.basename(path), None, path, size
    name = os.path.basename(getattr(source, "name", "") or "")
    temporary = getattr(source, "temporary_file_path", None)
    if temporary:
        path = temporary()
        return name, None, path, os.path.getsize(path)
    size = getattr(source, "size", None)
    if size is not None and size > settings.PARINDEX_UPLOAD_MAX_BYTES:
        return name, b"", None, size
    if hasattr(source, "seek"):
        source.seek(0)
    data = source.read(settings.PARINDEX_UPLOAD_MAX_BYTES + 1)
    return name, data, None, len(data)


def open_spreadsheet(source, *, name: str | None = None) -> Spreadsheet:
    """Open a .xlsx or .csv file safely. Raises SpreadsheetError with one clear problem if refused."""
    display, data, path, size = _read_source(source)
    display = name or display
    limit = settings.PARINDEX_UPLOAD_MAX_BYTES
    if size > limit:
        raise _refuse(
            N_("The file is %(size)s MB; files of at most %(limit)s MB are accepted."),
            size=Decimal(size * 10 // (1024 * 1024)) / 10,
            limit=Decimal(limit * 10 // (1024 * 1024)) / 10,
        )
    if size == 0:
        raise _refuse(N_("The file is empty."))
    if data is None:
        with open(path, "rb") as handle:
            head = handle.read(8)
    else:
        head = data[:8]
    suffix = Path(display).suffix.lower()
    if head.startswith(OLE_MAGIC):
        if data is None:
            with open(path, "rb") as handle:
                data = handle.read()
        if ENCRYPTED_PACKAGE in data:
            raise _refuse(
                N_(
                    "This workbook is password-protected (encrypted), so it cannot be read. Open it in Excel, "
                    "remove the password (File > Info > Protect Workbook), save it as 'Excel Workbook (.xlsx)' "
                    "and upload it again."
                )
            )
        raise _refuse(
            N_(
                "This is an old Excel file (.xls) or a password-protected workbook. Save it in Excel as "
                "'Excel Workbook (.xlsx)' without a password and upload it again."
            )
        )
    if suffix in (".csv", ".txt"):
        if head.startswith((XLSX_MAGIC, EMPTY_ZIP_MAGIC)):
            raise _refuse(N_("The file is named .csv but is an Excel workbook; name it .xlsx."))
        if data is None:
            with open(path, "rb") as handle:
                data = handle.read()
        return _open_csv(display, data)
    if not head.startswith((XLSX_MAGIC, EMPTY_ZIP_MAGIC)):
        raise _refuse(
            N_(
                "This is not an Excel workbook (.xlsx): its content is something else, perhaps a text "
                "file renamed to .xlsx. Save it in Excel as 'Excel Workbook (.xlsx)' or as CSV UTF-8 (.csv)."
            )
        )
    with reading_guard(display):
        return _open_xlsx(display, path, data)


def _open_csv(display: str, data: bytes) -> Spreadsheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(
            N_("The CSV file is not in UTF-8. Save it in Excel as 'CSV UTF-8 (Comma delimited)'.")
        ) from exc
    if "\x00" in text:
        raise _refuse(N_("The file is not a CSV text file."))
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # A quote before "=…", "-…" is how ParIndex (and OWASP) escapes formula-like text in CSV.
        rows = [[unescape_formula(value) for value in row] for row in reader]
    except csv.Error as exc:
        raise _refuse(N_("The CSV file cannot be read: %(error)s."), error=exc) from exc
    return Spreadsheet(display, [Sheet("", rows)], is_csv=True)


def _sniff_delimiter(text: str) -> str:
    """Comma or semicolon (Excel in Vietnamese locale writes ";" because "," is the decimal mark):
    the one that splits the first lines into the most fields in all; comma on a tie."""
    sample = [line for line in text.splitlines()[:40] if line.strip()][:20]
    best, best_score = ",", -1
    for delimiter in (",", ";"):
        try:
            score = sum(len(r) - 1 for r in csv.reader(sample, delimiter=delimiter))
        except csv.Error:
            continue
        if score > best_score:
            best, best_score = delimiter, score
    return best


_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")
PROLOG_BYTES = 64 * 1024


def _refuse_document_types(source, infos, display: str) -> None:
    """No part of a workbook ever declares a document type: one that does is an entity attack
    (billion laughs, external entities). openpyxl parses most parts with lxml when it is installed
    (python-docx brings it), which skips unused entity declarations instead of refusing them as
    defusedxml does; so every XML part's prolog is read here first, whichever parser follows."""
    with zipfile.ZipFile(source()) as archive:
        for info in infos:
            if not info.filename.endswith((".xml", ".rels", ".vml")):
                continue
            with archive.open(info) as member:
                head = member.read(PROLOG_BYTES)
            if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                head = head.decode("utf-16", errors="ignore").encode()
            root = _ROOT_ELEMENT.search(head)
            prolog = head[: root.start()] if root else head
            if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
                logger.warning("spreadsheet %s: part %s declares a DOCTYPE; refused", display, info.filename)
                raise _refuse(UNREADABLE)


def _open_xlsx(display: str, path: str | None, data: bytes | None) -> Spreadsheet:
    def source():
        return path if data is None else io.BytesIO(data)

    try:
        archive = zipfile.ZipFile(source())
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _refuse(
            N_("The workbook is damaged (not a readable zip file); save it again in Excel.")
        ) from exc
    archive.close()
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/workbook") for n in names):
        raise _refuse(N_("This zip file is not an Excel workbook (.xlsx)."))
    if any(info.flag_bits & 0x1 for info in infos):
        raise _refuse(N_("The workbook is encrypted; save it without a password."))
    # Judged on what the zip declares, before anything is decompressed.
    cap = getattr(settings, "PARINDEX_XLSX_MAX_UNCOMPRESSED_BYTES", MAX_UNCOMPRESSED_BYTES)
    declared = sum(info.file_size for info in infos)
    compressed = sum(info.compress_size for info in infos) or 1
    if (
        len(infos) > MAX_ZIP_MEMBERS
        or declared > cap
        or (declared > RATIO_CHECK_FROM_BYTES and declared / compressed > MAX_COMPRESSION_RATIO)
    ):
        raise _refuse(
            N_(
                "The workbook would unpack to %(size)s MB, far more than a table of scores needs; it was refused."
            ),
            size=Decimal(declared // (1024 * 1024)),
        )
    _refuse_document_types(source, infos, display)
    import openpyxl

    try:
        with _no_dimension_scan():
            # Opened once, for the values (a formula cell gives its cached result); which cells hold a
            # formula is seen in the same parse of each sheet (_rows_and_formulas).
            book = openpyxl.load_workbook(source(), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds (KeyError, XML errors) for a broken file
        logger.warning("unreadable spreadsheet %s", display, exc_info=True)
        raise _refuse(UNREADABLE) from exc

    sheets = []
    for worksheet in book.worksheets:
        if not hasattr(worksheet, "iter_rows"):  # a chartsheet
            sheets.append(Sheet(worksheet.title, (), hidden=True))
            continue
        # The stored dimension may be wrong (LibreOffice, hand-made files): read what is there.
        worksheet.reset_dimensions()
        pairs, pairs_again = itertools.tee(_rows_and_formulas(worksheet))
        sheets.append(
            Sheet(
                worksheet.title,
                (values for values, _formulas in pairs),
                hidden=getattr(worksheet, "sheet_state", "visible") != "visible",
                _formulas=(formulas for _values, formulas in pairs_again),
                last_row=_last_value_row(source, getattr(worksheet, "_worksheet_path", None)),
            )
        )
    return Spreadsheet(display, sheets, _closer=book.close)


# The reference of a cell ("B14" → 14) in the attributes of its tag; a cell tag with a namespace prefix.
_CELL_ROW = re.compile(rb'\sr="[A-Za-z]+(\d+)"')
_PREFIXED_CELL = re.compile(rb"<\w+:c[\s>]")
SCAN_CHUNK = 4 * 1024 * 1024


def _last_value_row(source, member: str | None) -> int | None:
    """The last row of a sheet with a cell that holds something (a cell element that is not
    self-closing ends with "</c>"; rows come in order, so the last one found is the last row). The
    sheet's XML is read in chunks and searched from each chunk's end with bytes.rfind (C speed: the
    XML of a million formatted empty rows takes a fraction of a second where openpyxl takes seconds).
    None when unknown (prefixed tags, cells without references): the rows are then read to the end."""
    if not member:
        return None
    last = 0
    tail = b""
    try:
        with zipfile.ZipFile(source()) as archive, archive.open(member.lstrip("/")) as part:
            first = True
            while chunk := part.read(SCAN_CHUNK):
                text = tail + chunk
                if first and _PREFIXED_CELL.search(text):
                    return None
                first = False
                close = text.rfind(b"</c>")
                if close >= 0:
                    open_ = close
                    while True:
                        open_ = text.rfind(b"<c", 0, open_)
                        if open_ < 0 or text[open_ + 2 : open_ + 3] in (b" ", b">"):
                            break
                    if open_ < 0:
                        return None
                    row = _CELL_ROW.search(text, open_, text.find(b">", open_) + 1)
                    if row is None:
                        return None
                    last = max(last, int(row.group(1)))
                tail = text[-4096:]
    except (KeyError, OSError, zipfile.BadZipFile, ValueError):
        return None
    return last


_DIMENSION_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_dimension_scan():
    """openpyxl opens each read-only sheet by looking for its <dimension> element, and when a file has
    none (written by a program in write-only mode) it parses the whole sheet to find out: 18 s for a
    600,000-row workbook, before the row cap could stop anything. The dimension is never used here
    (reset_dimensions() follows), so that scan is skipped while the workbook is opened."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    with _DIMENSION_LOCK:  # threads opening workbooks at once restore the same original
        original = ReadOnlyWorksheet._get_size
        ReadOnlyWorksheet._get_size = lambda self: None
        try:
            yield
        finally:
            ReadOnlyWorksheet._get_size = original


def _rows_and_formulas(worksheet) -> Iterator[tuple[tuple, frozenset]]:
    """For each row of a read-only sheet opened with data_only=True, in ONE parse of its XML: the
    values as openpyxl gives them (iter_rows(values_only=True): a formula cell's cached result, a
    missing row as ()), and the 0-based indexes of the cells that hold a formula. openpyxl reports
    one or the other per load (data_only), which made every upload load and parse the workbook twice;
    this is its own row loop (ReadOnlyWorksheet._cells_by_row) with a cell parser that notes the
    formula element as well."""
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            if element.find(FORMULA_TAG) is not None:
                cell["formula"] = True
            return cell

    book = worksheet.parent
    expected = 1
    with worksheet._get_source() as src:
        parser = Parser(
            src,
            worksheet._shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for number, cells in parser.parse():
            while expected < number:  # rows the file leaves out
                expected += 1
                yield (), frozenset()
            if number < expected:  # out of order: openpyxl drops it too
                continue
            expected += 1
            if not cells:
                yield (), frozenset()
                continue
            values = [None] * cells[-1]["column"]
            formulas = []
            for cell in cells:
                column = cell["column"]
                if column > len(values):
                    continue
                values[column - 1] = cell["value"]
                if cell.get("formula"):
                    formulas.append(column - 1)
            yield tuple(values), frozenset(formulas)


def max_rows() -> int:
    return getattr(settings, "PARINDEX_MAX_ROWS", MAX_ROWS)


def max_problems() -> int:
    return getattr(settings, "PARINDEX_MAX_PROBLEMS", MAX_PROBLEMS)


MORE_PROBLEMS = N_("… and %(count)s more problems (only the first %(limit)s are listed).")


def capped_problems(problems: list[Problem]) -> list[Problem]:
    """The first max_problems() problems in reading order, then one line counting the rest."""
    limit = max_problems()
    if len(problems) <= limit:
        return problems
    return problems[:limit] + [Problem(MORE_PROBLEMS, {"count": len(problems) - limit, "limit": limit})]


# --- header and rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column an importer knows: a key and the header names that mean it."""

    key: str
    names: tuple[str, ...]
    required: bool = False
    label: str = ""  # the name shown in messages (the Vietnamese contract name)

    def matches(self, header: str) -> bool:
        return normalize_name(header) in _normalized_names(self.names)


@dataclass
class Table:
    """A sheet's table below its header row."""

    file_name: str
    sheet: str
    header_row: int
    columns: dict[str, int]  # key → 0-based column index
    headers: list[tuple[int, object]]  # every non-blank header cell: (index, value)
    preamble: list[tuple[int, tuple]]  # rows above the header (title, unit code, year…)
    _rows: Iterator[tuple[int, tuple, frozenset]]

    def rows(self) -> Iterator["Row"]:
        """The data rows below the header. A file with more than max_rows() data rows is refused when
        the first row past the cap is met, before the rest is read; a file with none is refused."""
        limit = max_rows()
        count = 0
        for number, values, formulas in self._rows:
            count += 1
            if count > limit:
                raise SpreadsheetError(
                    [
                        Problem(
                            N_(
                                "The file has more than %(limit)s data rows (row %(row)s is past the limit); "
                                "files of at most %(limit)s rows are accepted. Split it or remove the extra rows."
                            ),
                            {"limit": limit, "row": number},
                            sheet=self.sheet,
                        )
                    ],
                    self.file_name,
                )
            yield Row(number, values, self, formulas)
        if not count:
            raise SpreadsheetError(
                [
                    Problem(
                        N_("The file holds no data rows below its header (row %(row)s)."),
                        {"row": self.header_row},
                        sheet=self.sheet,
                    )
                ],
                self.file_name,
            )

    def has(self, key: str) -> bool:
        return key in self.columns

    def problem(self, message: str, *, cell: str = "", row: int | None = None, **params) -> Problem:
        return Problem(message, params, cell=cell, row=row, sheet=self.sheet)


@dataclass
class Row:
    number: int
    values: tuple
    table: Table
    formulas: frozenset = frozenset()  # 0-based indexes of the cells holding a formula

    def get(self, key: str):
        """The value of a column (a formula's cached value), None when blank."""
        index = self.table.columns.get(key)
        if index is None or index >= len(self.values):
            return None
        value = self.values[index]
        return None if _is_blank(value) else value

    def text(self, key: str) -> str:
        return cell_text(self.get(key))

    def has_formula(self, key: str) -> bool:
        """Whether the cell of a column holds a formula (importers refuse them where they store values)."""
        index = self.table.columns.get(key)
        return index is not None and index in self.formulas

    def cell(self, key: str) -> str:
        return f"{column_letter(self.table.columns[key])}{self.number}"

    def at(self, index: int):
        return self.values[index] if index < len(self.values) else None

    def is_blank(self) -> bool:
        return all(_is_blank(v) for v in self.values)


def _match_header(values: tuple, columns: list[Column]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, value in enumerate(values):
        if _is_blank(value):
            continue
        header = normalize_name(cell_text(value))
        for column in columns:
            if column.key not in found and header in _normalized_names(column.names):
                found[column.key] = index
                break
    return found


def _merge_header_rows(upper: tuple, lower: tuple) -> tuple:
    """A header split over two rows ("Mã" merged down over both, "Điểm" merged across above
    "Điểm tối đa | Điểm tự đánh giá"): a merged cell's text is in its top-left cell only, so each
    column takes the lower row's text, or the upper row's where the lower one is blank."""
    width = max(len(upper), len(lower))
    return tuple(
        lower[i] if i < len(lower) and not _is_blank(lower[i]) else (upper[i] if i < len(upper) else None)
        for i in range(width)
    )


def find_table(sheet: Sheet, columns: Iterable[Column], *, file_name: str = "") -> Table:
    """Locate the header row (within the first HEADER_SEARCH_ROWS rows) by the required column
    names, also when the header is split over two rows with merged cells; raise SpreadsheetError
    naming the missing columns otherwise. Data rows start below the (lower) header row."""
    columns = list(columns)
    required = [c for c in columns if c.required]
    rows = sheet.rows_with_formulas()
    preamble: list[tuple[int, tuple]] = []
    previous: tuple[int, tuple] | None = None
    for number, values, _formulas in rows:
        if number > HEADER_SEARCH_ROWS:
            break
        candidates = [values]
        if previous is not None and previous[0] == number - 1:
            candidates.append(_merge_header_rows(previous[1], values))
        for header in candidates:
            found = _match_header(header, columns)
            if all(c.key in found for c in required):
                headers = [(i, v) for i, v in enumerate(header) if not _is_blank(v)]
                return Table(file_name, sheet.name, number, found, headers, preamble, rows)
        preamble.append((number, values))
        previous = (number, values)
    names = ", ".join(f"'{c.label or c.names[0]}'" for c in required)
    raise SpreadsheetError(
        [
            Problem(
                N_("No header row with the columns %(columns)s was found in the first %(rows)s rows."),
                {"columns": names, "rows": HEADER_SEARCH_ROWS},
                sheet=sheet.name,
            )
        ],
        file_name,
    )


def preamble_value(table: Table, *names: str):
    """The value right of a label cell ("Mã đơn vị" | "X1") in the rows above the header."""
    wanted = {normalize_name(n) for n in names}
    for _number, values in table.preamble:
        for index, value in enumerate(values):
            if normalize_name(cell_text(value)) in wanted:
                for following in values[index + 1 :]:
                    if not _is_blank(following):
                        return following
    return None


def service_problems(error: ServiceError) -> list[Problem]:
    """Every refusal of a ServiceError as a Problem without a cell (rendered in any language)."""
    return [Problem.from_service(detail) for detail in error.all()]


def command_failure(stderr, error: ValidationError, file_name: str = ""):
    """For management commands: write every problem to stderr in Vietnamese then English and return
    the CommandError to raise (non-zero exit status). A ServiceError's refusals are rendered in both
    languages too, each naming its criterion."""
    from django.core.management.base import CommandError

    if isinstance(error, ServiceError):
        error = SpreadsheetError(service_problems(error), file_name)
    elif not isinstance(error, SpreadsheetError):
        error = SpreadsheetError([Problem(m, literal=True) for m in error.messages], file_name)
    elif file_name and not error.file_name:
        error.file_name = file_name
    stderr.write(error.bilingual())
    with override("vi"):
        vi = gettext("Import failed: %(count)s problem(s).") % {"count": error.total}
    with override("en"):
        en = gettext("Import failed: %(count)s problem(s).") % {"count": error.total}
    return CommandError(f"{vi} / {en}")
