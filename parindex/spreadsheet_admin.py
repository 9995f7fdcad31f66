"""What every admin spreadsheet import and export of the project shares (django-import-export):
xlsx and csv formats that make formulae harmless on export and read uploads through
parindex.spreadsheets, a resource base class, and the admin mixin with size-capped uploads and
imports that roll back on any row error. Units, criteria and scores build on it.
"""

import io
import logging
from decimal import Decimal

import tablib
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.translation import gettext
from import_export import resources, results, widgets
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ImportForm

from parindex.csv_export import escape_formula, unescape_formula
from parindex.numbers import format_decimal
from parindex.spreadsheets import normalize_name, open_spreadsheet

# --- formats: formulae never run in a file we hand out ---------------------------------------------


def _escaping() -> bool:
    return getattr(settings, "IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT", False) is True


def read_dataset(data: bytes | str, name: str) -> tablib.Dataset:
    """An uploaded file as a dataset (first row = headers), read by parindex.spreadsheets like every
    other upload: size cap, real .xlsx only, zip bombs and XML attacks stopped, cached values rather
    than formulae, blank rows skipped, UTF-8 CSV with "," or ";". Raises SpreadsheetError (a
    ValidationError with a clear message) for a refused file."""
    source = io.BytesIO(data.encode("utf-8") if isinstance(data, str) else data)
    source.name = name
    with open_spreadsheet(source) as book:
        rows = [values for _number, values in book.first_sheet().rows()]
    dataset = tablib.Dataset()
    if rows:
        headers = ["" if v is None else str(v).strip() for v in rows[0]]
        dataset.headers = headers
        for values in rows[1:]:
            values = list(values[: len(headers)])
            dataset.append(values + [None] * (len(headers) - len(values)))
    return dataset


class SafeCSV(CSV):
    """CSV whose text cells cannot start a formula in Excel or LibreOffice.

    import-export's own escaping (IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT) only drops a leading "="
    and turns every cell into text; this keeps the text and covers +, -, @ too."""

    def create_dataset(self, in_stream, **kwargs):
        return read_dataset(in_stream, "import.csv")

    def _escape_formulae(self, dataset):
        for _ in range(dataset.height):
            row = dataset.lpop()
            dataset.append([escape_formula(cell) for cell in row])


class SafeXLSX(XLSX):
    """xlsx with numbers as numbers and every text cell stored as text, never as a formula.

    openpyxl (and so tablib) stores a string starting with "=" as a formula; here such a cell is
    written as the plain string, shown exactly as entered and never evaluated."""

    def create_dataset(self, in_stream, **kwargs):
        return read_dataset(in_stream, "import.xlsx")

    def export_data(self, dataset, **kwargs):
        from io import BytesIO

        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        from openpyxl.styles import Font

        book = Workbook()
        sheet = book.active
        sheet.title = (dataset.title or "Sheet1")[:31]
        if dataset.headers:
            sheet.append([str(h) for h in dataset.headers])
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            sheet.freeze_panes = "A2"
        for row in dataset:
            sheet.append(
                [
                    ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", v) if isinstance(v, str) else v
                    for v in row
                ]
            )
            if _escaping():
                for cell in sheet[sheet.max_row]:
                    if cell.data_type == "f":
                        cell.data_type = "s"
        for column in sheet.columns:
            width = max((len(str(c.value)) for c in column if c.value is not None), default=8)
            sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 8), 60)
        stream = BytesIO()
        book.save(stream)
        return stream.getvalue()


# xlsx first: it is what the offices open; csv for scripts.
SPREADSHEET_FORMATS = [SafeXLSX, SafeCSV]


# --- errors: a message for the user, the traceback for the log ----------------------------------------------

logger = logging.getLogger(__name__)


class QuietError(results.Error):
    """import-export shows the traceback of a file-level error on the import page; ours go to the log."""

    def __init__(self, error, row=None, number=None):
        super().__init__(error, row=row, number=number)
        if not isinstance(error, ValueError | ValidationError):
            logger.warning("admin import failed", exc_info=error)

    @property
    def traceback(self):
        return ""


class SpreadsheetResource(resources.ModelResource):
    # Column key → its header in an exported file, in the active language ("Điểm tự đánh giá", not
    # "self_points"). An import reads either language's header back to the key (header_aliases).
    export_labels: dict = {}

    @classmethod
    def get_error_result_class(cls):
        return QuietError

    def get_export_headers(self, selected_fields=None):
        return [force_str(self.export_labels.get(h, h)) for h in super().get_export_headers(selected_fields)]

    @classmethod
    def header_aliases(cls) -> dict[str, str]:
        """normalize_name(header) → key, for the exported headers in both languages."""
        aliases = {}
        for key, label in cls.export_labels.items():
            for language in ("vi", "en"):
                with translation.override(language):
                    aliases[normalize_name(force_str(label))] = key
        return aliases


# --- widgets ------------------------------------------------------------------------------------------------


class TextWidget(widgets.CharWidget):
    """Trimmed text; an apostrophe added by the formula escaping on export is dropped again."""

    def clean(self, value, row=None, **kwargs):
        text = super().clean(value, row, **kwargs)
        return unescape_formula(text.strip()) if isinstance(text, str) else text


def rename_headers(dataset, aliases: dict[str, str], *, required=()) -> None:
    """Give known columns their key (accent- and case-insensitive), so Vietnamese headers work too,
    and say in plain words which required column is missing (shown above the rows)."""
    if dataset.headers:
        dataset.headers = [aliases.get(normalize_name(h), h) for h in dataset.headers]
    missing = [name for name in required if name not in (dataset.headers or [])]
    if missing:
        raise ValueError(
            gettext("The file has no column %(columns)s (the first row must hold the column names).")
            % {"columns": ", ".join(missing)}
        )


class CappedImportForm(ImportForm):
    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        limit = settings.PARINDEX_UPLOAD_MAX_BYTES
        if upload.size > limit:
            megabytes = Decimal(1024 * 1024)
            raise ValidationError(
                gettext("The file is %(size)s MB; files of at most %(limit)s MB are accepted.")
                % {
                    "size": format_decimal((upload.size / megabytes).quantize(Decimal("0.1"))),
                    "limit": format_decimal((limit / megabytes).quantize(Decimal("0.1"))),
                }
            )
        return upload


class SpreadsheetAdminMixin:
    """Shared by the import/export admins (units, criteria, scores).

    - xlsx and csv only, with formulae made harmless on export (SafeXLSX/SafeCSV above);
      numbers and dates stay numbers and dates in xlsx, csv is UTF-8 with a BOM so Excel reads
      Vietnamese right.
    - Uploads are size-capped and read by parindex.spreadsheets (hostile files refused with a clear
      message on the form).
    - Only import-export's message is shown for an unexpected error, never a traceback.
    - The confirm step imports with rollback on any row error: a file with one bad row saves
      nothing, even if the data changed between preview and confirm.
    - A confirm whose stored file is gone (already confirmed, or cleaned up) gets a message, not a 500.
    """

    formats = SPREADSHEET_FORMATS
    to_encoding = "utf-8-sig"
    import_error_display = ("message",)
    import_form_class = CappedImportForm

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, ValidationError):  # a refused file (parindex.spreadsheets): say why
            form.add_error("import_file", " ".join(e.messages))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def get_export_data(self, file_format, request, queryset, **kwargs):
        # import-export sends native values only to its own binary format classes (by exact type);
        # ours are subclasses, so decide by the format itself.
        if not self.has_export_permission(request):
            raise PermissionDenied
        data = self.get_data_for_export(
            request, queryset, force_native_type=file_format.is_binary(), **kwargs
        )
        export_data = file_format.export_data(data)
        encoding = kwargs.get("encoding")
        if not file_format.is_binary() and encoding:
            export_data = export_data.encode(encoding)
        return export_data

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def _import_url(self):
        opts = self.model._meta
        return f"admin:{opts.app_label}_{opts.model_name}_import"

    def process_import(self, request, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        except FileNotFoundError:
            self.message_user(
                request,
                gettext("The uploaded file is no longer available (already imported?). Upload it again."),
                messages.ERROR,
            )
            return redirect(self._import_url())

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            lines = [
                gettext("Row %(row)s: %(errors)s")
                % {"row": row.number, "errors": " ".join(m for ms in row.error_dict.values() for m in ms)}
                for row in result.invalid_rows[:10]
            ]
            lines += [
                gettext("Row %(row)s: %(errors)s")
                % {"row": number, "errors": " ".join(str(e.error) for e in errors)}
                for number, errors in result.row_errors()[:10]
            ]
            lines += [str(error.error) for error in result.base_errors[:5]]
            self.message_user(
                request,
                gettext("Nothing was imported: %(problems)s") % {"problems": " · ".join(lines)},
                messages.ERROR,
            )
            return redirect(self._import_url())
        return super().process_result(result, request)
