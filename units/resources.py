"""django-import-export resources for the admin: the unit tree, and the spreadsheet formats that all
admin imports and exports use (xlsx and csv, with formulae made harmless on export).

Unit writes go through units.services.unit_save, like the units file importer: it checks each row
(unit_check, placed on its column), keeps the materialised paths right and audits the change. Columns are English keys (code, name, kind, parent, predecessors,
active_from, active_to); the Vietnamese headers of the units file are accepted too, as are
Vietnamese names of kinds ("xã", "phường", "huyện", …).
"""

import io
import logging
import re

import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from import_export import fields, resources, results, widgets
from import_export.formats.base_formats import CSV, XLSX

from parindex.audit.models import Via
from parindex.errors import ServiceError
from parindex.spreadsheets import normalize_name, open_spreadsheet
from units.importers import COLUMNS, parse_kind
from units.models import Unit
from units.services import unit_check, unit_save

# --- formats: formulae never run in a file we hand out ---------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def escape_formula(value):
    """Text that a spreadsheet would read as a formula ("=HYPERLINK(…)", "+1+1", "@SUM(…)") gets a
    leading apostrophe, the OWASP advice for CSV injection. Plain numbers like "-3" stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def unescape_formula(value):
    """The reverse on import, so that an exported file re-imports to the same text."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


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
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", v) if isinstance(v, str) else v
                          for v in row])
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
    @classmethod
    def get_error_result_class(cls):
        return QuietError


# --- widgets ------------------------------------------------------------------------------------------------


class TextWidget(widgets.CharWidget):
    """Trimmed text; an apostrophe added by the formula escaping on export is dropped again."""

    def clean(self, value, row=None, **kwargs):
        text = super().clean(value, row, **kwargs)
        return unescape_formula(text.strip()) if isinstance(text, str) else text


class KindWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        kind = parse_kind(value)
        if kind is None:
            raise ValueError(
                gettext("Unknown kind of unit %(kind)r; use province/tỉnh, district/huyện, department/sở/phòng "
                        "or commune/xã/phường/thị trấn/đặc khu.") % {"kind": value}
            )
        return kind

    def render(self, value, obj=None, **kwargs):
        return value or ""


class UnitCodeWidget(widgets.ForeignKeyWidget):
    """A parent unit named by its code; an unknown code is a clear row error, not a crash."""

    def __init__(self, **kwargs):
        super().__init__(Unit, field="code", **kwargs)

    def clean(self, value, row=None, **kwargs):
        code = str(value).strip() if value is not None else ""
        if not code:
            return None
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise ValueError(
                gettext("Parent unit %(code)s is not known (a parent must exist or come before its children "
                        "in the file).") % {"code": code}
            )
        return unit


class UnitCodesWidget(widgets.ManyToManyWidget):
    """Units named by codes separated by ";" (a "," is accepted too)."""

    def __init__(self, **kwargs):
        super().__init__(Unit, separator=";", field="code", **kwargs)

    @staticmethod
    def codes(value) -> list[str]:
        if value is None:
            return []
        return [c.strip() for c in str(value).replace(",", ";").split(";") if c.strip()]

    def clean(self, value, row=None, **kwargs):
        codes = self.codes(value)
        units = {u.code: u for u in Unit.objects.filter(code__in=codes)}
        missing = [c for c in codes if c not in units]
        if missing:
            raise ValueError(
                gettext("Predecessor unit %(code)s is neither in this file nor known.") % {"code": ", ".join(missing)}
            )
        return [units[c] for c in dict.fromkeys(codes)]

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return self.separator.join(sorted(u.code for u in value.all()))


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


# --- units ---------------------------------------------------------------------------------------------------

UNIT_HEADER_ALIASES = {normalize_name(alias): column.key for column in COLUMNS for alias in (column.key, *column.names)}
UNIT_HEADER_ALIASES |= {"active from": "active_from", "active to": "active_to", "active until": "active_to"}


class UnitResource(SpreadsheetResource):
    code = fields.Field(attribute="code", column_name="code", widget=TextWidget())
    name = fields.Field(attribute="name", column_name="name", widget=TextWidget())
    kind = fields.Field(attribute="kind", column_name="kind", widget=KindWidget())
    parent = fields.Field(attribute="parent", column_name="parent", widget=UnitCodeWidget())
    predecessors = fields.Field(attribute="predecessors", column_name="predecessors", widget=UnitCodesWidget())
    active_from = fields.Field(attribute="active_from", column_name="active_from", widget=widgets.IntegerWidget())
    active_to = fields.Field(attribute="active_to", column_name="active_to", widget=widgets.IntegerWidget())

    class Meta:
        model = Unit
        fields = ["code", "name", "kind", "parent", "predecessors", "active_from", "active_to"]
        import_id_fields = ["code"]
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def before_import(self, dataset, **kwargs):
        self._user = kwargs.get("user")
        rename_headers(dataset, UNIT_HEADER_ALIASES, required=["code"])

    def get_instance(self, instance_loader, row):
        code = unescape_formula(str(row.get("code") or "").strip())
        return Unit.objects.filter(code=code).first() if code else None

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("parent").prefetch_related("predecessors")

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        # Predecessors are saved by unit_save with the unit; read them here.
        instance._import_predecessors = None
        if "predecessors" in row:
            try:
                instance._import_predecessors = self.fields["predecessors"].clean(row)
            except ValueError as error:
                errors["predecessors"] = [str(error)]
        if not errors:  # the service says what it would refuse, on the column it concerns
            try:
                unit_check(
                    code=instance.code, name=instance.name, kind=instance.kind, parent=instance.parent,
                    active_from=instance.active_from, active_to=instance.active_to,
                    predecessors=instance._import_predecessors,
                )
            except ServiceError as error:
                errors = error.as_form_errors()
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        unit, _created = unit_save(
            code=instance.code, name=instance.name, kind=instance.kind, parent=instance.parent,
            active_from=instance.active_from, active_to=instance.active_to,
            predecessors=instance._import_predecessors, actor=getattr(self, "_user", None), via=Via.ADMIN,
        )
        instance.pk, instance.path = unit.pk, unit.path
        instance.created_at, instance.updated_at = unit.created_at, unit.updated_at
        self.after_save_instance(instance, row, **kwargs)

    def save_m2m(self, instance, row, **kwargs):
        pass  # predecessors were saved by unit_save
