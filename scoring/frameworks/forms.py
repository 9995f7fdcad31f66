"""Forms of the framework pages: deadlines, an extension, publication, the activity filters, and the
survey grid (one input per unit × survey criterion, validated cell by cell before anything is saved)."""

from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from parindex.numbers import (
    NOT_APPLICABLE,
    NotANumber,
    decimal_places,
    format_decimal,
    parse_score_cell,
)
from scoring.concurrency import version_of
from scoring.models import Via

# Typed by people (day first) or sent by a browser's datetime-local / date input (ISO).
DATETIME_INPUT_FORMATS = [
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y",
]
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _datetime_field(label, required=False):
    return forms.DateTimeField(
        label=label, required=required, input_formats=DATETIME_INPUT_FORMATS, widget=DateTimeLocalInput()
    )


class DeadlinesForm(forms.Form):
    self_deadline = _datetime_field(gettext_lazy("Self-assessment deadline"))
    appraisal_deadline = _datetime_field(gettext_lazy("Appraisal deadline"))
    # The framework's version the page read (scoring.concurrency): settings changed since are refused.
    version = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        first, second = data.get("self_deadline"), data.get("appraisal_deadline")
        if first and second and second < first:
            self.add_error(
                "appraisal_deadline", _("The appraisal deadline is before the self-assessment deadline.")
            )
        return data


class ExtensionForm(forms.Form):
    until = _datetime_field(gettext_lazy("New deadline"), required=True)
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class PublishForm(forms.Form):
    decision_number = forms.CharField(
        label=gettext_lazy("Decision number"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "4769/QĐ-UBND"}),
    )
    decision_date = forms.DateField(
        label=gettext_lazy("Decision date"), input_formats=DATE_INPUT_FORMATS, widget=DateInput()
    )

    def clean_decision_number(self):
        value = self.cleaned_data["decision_number"].strip()
        if not value:
            raise forms.ValidationError(_("This field is required."))
        return value


class ActivityFilterForm(forms.Form):
    """Filters of the framework's activity log; every field is optional. Choices are filled by the view."""

    unit = forms.ChoiceField(label=gettext_lazy("Unit"), required=False)
    criterion = forms.CharField(label=gettext_lazy("Criterion code"), required=False, max_length=30)
    action = forms.ChoiceField(label=gettext_lazy("Action"), required=False)
    via = forms.ChoiceField(label=gettext_lazy("Via"), required=False)
    actor = forms.ChoiceField(label=gettext_lazy("By"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, input_formats=DATE_INPUT_FORMATS, widget=DateInput()
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, input_formats=DATE_INPUT_FORMATS, widget=DateInput()
    )

    def __init__(self, data=None, *, units=(), actions=(), actors=()):
        super().__init__(data)
        everything = [("", _("All"))]
        self.fields["unit"].choices = everything + [(u.code, f"{u.code} — {u.name}") for u in units]
        self.fields["action"].choices = everything + list(actions)
        self.fields["via"].choices = everything + [(v.value, v.label) for v in Via]
        self.fields["actor"].choices = everything + [(str(pk), name) for pk, name in actors]


# --- survey grid ------------------------------------------------------------------------------------


def cell_name(unit_id: int, criterion_id: int) -> str:
    return f"c-{unit_id}-{criterion_id}"


@dataclass
class Cell:
    unit: object
    criterion: object
    stored: object  # points (Decimal), None (no result yet) or NOT_APPLICABLE
    typed: str = ""
    error: str = ""
    shown: str = ""  # what the grid showed before the office typed
    version: int = 0  # the row's version (scoring.concurrency), sent back with the grid
    # What the person's page read (the version and the text shown), sent back in hidden inputs: a cell
    # is the person's change only when they typed over what they read, and it is refused if the row
    # moved since (StaleEdit); a cell they left alone is never written over someone else's change.
    read_version: int | None = None
    read_shown: str = ""

    @property
    def name(self) -> str:
        return cell_name(self.unit.pk, self.criterion.pk)

    @property
    def not_applicable(self) -> bool:
        return self.stored is NOT_APPLICABLE


@dataclass
class GridRow:
    unit: object
    cells: list[Cell] = field(default_factory=list)

    @property
    def total(self) -> Decimal | None:
        values = [c.stored for c in self.cells if isinstance(c.stored, Decimal)]
        return sum(values, Decimal("0")) if values else None

    @property
    def has_error(self) -> bool:
        return any(c.error for c in self.cells)


HUNDRED = Decimal("100")


def cell_problem(text: str, max_points: Decimal, *, as_percent: bool = False) -> tuple[object, str]:
    """(value, "") for a good cell ("" is no result, KAD / N/A / Không áp dụng not applicable),
    (None, message) for a bad one. With `as_percent` the value is a percentage (0 … 100), which the
    survey service converts to points by the `percent` rule."""
    try:
        value = parse_score_cell(text)
    except NotANumber:
        return None, _("“%(text)s” is not a number.") % {"text": text.strip()}
    if value is None or value is NOT_APPLICABLE:
        return value, ""
    assert isinstance(value, Decimal)
    if as_percent:
        if value < 0 or value > HUNDRED:
            return None, _("A percentage must be between 0 and 100.")
        return value, ""
    if value < 0 or value > max_points:
        return None, _("Must be between 0 and %(max)s.") % {"max": format_decimal(max_points)}
    if decimal_places(value) > 2:
        return None, _("At most two decimals.")
    return value, ""


SURVEY_MODES = (("points", gettext_lazy("points")), ("percent", gettext_lazy("percentage satisfied (%)")))


class SurveyGrid:
    """Units × survey leaves with their stored points; bound to POST data, it validates every cell and
    yields only the cells the office changed, as survey_apply's {unit code: {criterion code: value}}.

    The office types points, or percentages satisfied (`as`=percent: the service converts them to
    max × p ÷ 100), or KAD for a leaf not applicable to the unit."""

    def __init__(
        self,
        units,
        leaves,
        stored: dict[tuple[int, int], object],
        data=None,
        versions: dict[tuple[int, int], int] | None = None,
    ):
        self.leaves = list(leaves)
        versions = versions or {}
        self.rows = [
            GridRow(
                unit,
                [
                    Cell(
                        unit,
                        leaf,
                        stored.get((unit.pk, leaf.pk)),
                        version=versions.get((unit.pk, leaf.pk), 0),
                    )
                    for leaf in self.leaves
                ],
            )
            for unit in units
        ]
        for row in self.rows:
            for cell in row.cells:
                cell.shown = cell.typed = (
                    ""
                    if cell.stored is None
                    else "KAD"
                    if cell.not_applicable
                    else format_decimal(cell.stored)
                )
                cell.read_version, cell.read_shown = cell.version, cell.shown
        self.bound = data is not None
        self.as_percent = bool(data is not None and data.get("as") == "percent")
        self.mode = "percent" if self.as_percent else "points"
        self.modes = SURVEY_MODES
        self.entries: dict[str, dict[str, object]] = {}
        self.versions: dict[str, dict[str, int | None]] = {}  # survey_apply's versions of the entries
        self.non_cell_errors: list[str] = []
        self.conflict = False
        if self.bound:
            self._read(data)

    def _read(self, data) -> None:
        for row in self.rows:
            for cell in row.cells:
                if cell.name not in data:
                    continue  # a cell the form did not show is left as it is
                cell.typed = data.get(cell.name, "").strip()
                read = data.get(f"{cell.name}-o")
                if read is not None:
                    cell.read_shown = read.strip()
                    cell.read_version = version_of(data.get(f"{cell.name}-v"))
                    if cell.typed == cell.read_shown:
                        continue  # untouched: whatever the cell holds now stays (another person's too)
                elif self.as_percent and cell.typed == cell.shown:
                    continue  # the stored points shown, untouched: not a percentage typed
                value, cell.error = cell_problem(
                    cell.typed, cell.criterion.max_points, as_percent=self.as_percent
                )
                if not cell.error and (self.as_percent or value != cell.stored):
                    unit_code, code = row.unit.code, cell.criterion.code
                    self.entries.setdefault(unit_code, {})[code] = value
                    if read is not None:
                        self.versions.setdefault(unit_code, {})[code] = cell.read_version

    @property
    def error_count(self) -> int:
        return sum(1 for row in self.rows for cell in row.cells if cell.error)

    def is_valid(self) -> bool:
        return self.bound and not self.error_count and not self.non_cell_errors


class AppealDeadlineForm(forms.Form):
    """The appeal deadline given when the preliminary results are notified."""

    appeal_deadline = _datetime_field(gettext_lazy("Appeal deadline"), required=True)


class StepBackForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
