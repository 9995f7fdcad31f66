"""django-import-export resource of the unit tree for the admin.

Unit writes go through units.services.unit_save, like the units file importer: it checks each row
(unit_check, placed on its column), keeps the materialised paths right and audits the change. Columns
are English keys (code, name, kind, parent, predecessors, active_from, active_to); the Vietnamese
headers of the units file are accepted too, as are Vietnamese names of kinds ("xã", "phường", …).
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy
from import_export import fields, widgets

from parindex.audit.models import Via
from parindex.errors import ServiceError, shown
from parindex.spreadsheet_admin import SpreadsheetResource, TextWidget, rename_headers, unescape_formula
from parindex.spreadsheets import normalize_name
from units.importers import COLUMNS, parse_kind
from units.models import Unit
from units.services import unit_check, unit_save


class KindWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        kind = parse_kind(value)
        if kind is None:
            raise ValueError(
                gettext(
                    "Unknown kind of unit %(kind)r; use province/tỉnh, district/huyện, department/sở/phòng "
                    "or commune/xã/phường/thị trấn/đặc khu."
                )
                % {"kind": shown(value)}
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
                gettext(
                    "Parent unit %(code)s is not known (a parent must exist or come before its children "
                    "in the file)."
                )
                % {"code": code}
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
                gettext("Predecessor unit %(code)s is neither in this file nor known.")
                % {"code": ", ".join(missing)}
            )
        return [units[c] for c in dict.fromkeys(codes)]

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return self.separator.join(sorted(u.code for u in value.all()))


# --- units ---------------------------------------------------------------------------------------------------

UNIT_HEADER_ALIASES = {
    normalize_name(alias): column.key for column in COLUMNS for alias in (column.key, *column.names)
}
UNIT_HEADER_ALIASES |= {"active from": "active_from", "active to": "active_to", "active until": "active_to"}


class UnitResource(SpreadsheetResource):
    # The headers of the units file (DESIGN §5), which the importers read back.
    export_labels = {column.key: column.label for column in COLUMNS} | {
        "active_from": gettext_lazy("Active from year"),
        "active_to": gettext_lazy("Active until year"),
    }
    code = fields.Field(attribute="code", column_name="code", widget=TextWidget())
    name = fields.Field(attribute="name", column_name="name", widget=TextWidget())
    kind = fields.Field(attribute="kind", column_name="kind", widget=KindWidget())
    parent = fields.Field(attribute="parent", column_name="parent", widget=UnitCodeWidget())
    predecessors = fields.Field(
        attribute="predecessors", column_name="predecessors", widget=UnitCodesWidget()
    )
    active_from = fields.Field(
        attribute="active_from", column_name="active_from", widget=widgets.IntegerWidget()
    )
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
        rename_headers(dataset, {**self.header_aliases(), **UNIT_HEADER_ALIASES}, required=["code"])

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
                    code=instance.code,
                    name=instance.name,
                    kind=instance.kind,
                    parent=instance.parent,
                    active_from=instance.active_from,
                    active_to=instance.active_to,
                    predecessors=instance._import_predecessors,
                )
            except ServiceError as error:
                errors = error.as_form_errors()
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        unit, _created = unit_save(
            code=instance.code,
            name=instance.name,
            kind=instance.kind,
            parent=instance.parent,
            active_from=instance.active_from,
            active_to=instance.active_to,
            predecessors=instance._import_predecessors,
            actor=getattr(self, "_user", None),
            via=Via.ADMIN,
        )
        instance.pk, instance.path = unit.pk, unit.path
        instance.created_at, instance.updated_at = unit.created_at, unit.updated_at
        self.after_save_instance(instance, row, **kwargs)

    def save_m2m(self, instance, row, **kwargs):
        pass  # predecessors were saved by unit_save
