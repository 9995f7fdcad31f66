"""django-import-export resources for the admin: criteria (export only) and scores.

Criteria are exported, never imported here: a framework's tree is created as a whole by
framework_create (the framework file import, or the admin's "copy from"), which checks codes,
parents and maxima together. Row-by-row imports could leave a tree that no longer adds up, and the
only safe per-row edits (title, guidance of an unpublished framework) already have an audited form
on the criterion's admin page (criterion_update).

Scores are read like every other upload and applied by the same services as the web and command
importers (scoring.assessments.services.scores_apply_fields → scores_apply_self / scores_apply_appraisal /
survey_apply, via="admin"):
- the file is read by parindex.spreadsheets; a cell holding a formula is refused with the message
  the other importers give ("type the value itself"), whatever value Excel cached for it;
- a blank points or not-applicable cell leaves the stored value as it is: a file never clears a
  score (a score is cleared on its admin page, where the change is explicit);
- every rule (maximum, published framework, submitted self-assessment, appraisal reason, leaf
  criteria) is the services'; a refusal becomes the row's error in import-export's error table, and
  the admin imports with rollback on any row error, so a file with a bad row saves nothing.
"""

import io

import tablib
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_noop as N_
from import_export import fields, widgets

from parindex.numbers import NotANumber, is_not_applicable_word, parse_decimal
from parindex.spreadsheet_admin import (
    SafeCSV,
    SafeXLSX,
    SpreadsheetResource,
    TextWidget,
    rename_headers,
    unescape_formula,
)
from parindex.spreadsheets import cell_text, open_spreadsheet
from scoring.assessments.services import (
    APPRAISAL_FIELDS,
    SELF_FIELDS,
    assessment_get_or_create,
    scores_apply_fields,
)
from scoring.concurrency import version_of
from scoring.models import Assessment, Criterion, Framework, Score, Via
from units.models import Unit

# --- reading: formula cells are marked, to be refused -----------------------------------------------------

FORMULA_REFUSED = N_("The cell holds a formula; formulas are not accepted here. Type the value itself.")


class FormulaCell:
    """A cell that holds a formula; its cached value is only what the file claims."""

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:
        return cell_text(self.value)


def read_score_dataset(data: bytes | str, name: str) -> tablib.Dataset:
    """An uploaded score file as a dataset (first row = headers), read by parindex.spreadsheets like
    every other upload, with each formula cell wrapped in FormulaCell."""
    source = io.BytesIO(data.encode("utf-8") if isinstance(data, str) else data)
    source.name = name
    with open_spreadsheet(source) as book:
        rows = [
            [FormulaCell(value) if index in formulas else value for index, value in enumerate(values)]
            for _number, values, formulas in book.first_sheet().rows_with_formulas()
        ]
    dataset = tablib.Dataset()
    if rows:
        headers = ["" if v is None else str(v).strip() for v in rows[0]]
        dataset.headers = headers
        for values in rows[1:]:
            values = values[: len(headers)]
            dataset.append(values + [None] * (len(headers) - len(values)))
    return dataset


class ScoreXLSX(SafeXLSX):
    def create_dataset(self, in_stream, **kwargs):
        return read_score_dataset(in_stream, "import.xlsx")


class ScoreCSV(SafeCSV):
    def create_dataset(self, in_stream, **kwargs):
        return read_score_dataset(in_stream, "import.csv")


SCORE_FORMATS = [ScoreXLSX, ScoreCSV]  # the order of units.resources.SPREADSHEET_FORMATS

# --- widgets ------------------------------------------------------------------------------------------------


class PointsWidget(widgets.Widget):
    """Points typed the Vietnamese or the English way ("13,5" or "13.5"); numbers stay numbers in xlsx."""

    def clean(self, value, row=None, **kwargs):
        value = unescape_formula(value)
        try:
            return parse_decimal(value)
        except NotANumber:
            raise ValueError(gettext("“%(text)s” is not a number.") % {"text": value}) from None

    def render(self, value, obj=None, **kwargs):
        if kwargs.get("force_native_type"):
            return value
        return "" if value is None else str(value)


class YesNoWidget(widgets.BooleanWidget):
    """1/0, true/false, yes/no, and the Vietnamese có/không, x, KAD."""

    TRUE_VALUES = [
        "1",
        1,
        True,
        "true",
        "TRUE",
        "True",
        "yes",
        "x",
        "X",
        "có",
        "Có",
        "co",
        "đúng",
        "kad",
        "KAD",
        "Yes",
        "YES",
    ]
    FALSE_VALUES = ["0", 0, False, "false", "FALSE", "False", "no", "không", "Không", "khong", "sai"]
    NULL_VALUES = ["", None]

    def render(self, value, obj=None, **kwargs):
        """Có / Không (Yes / No in English), in csv and xlsx alike: never True/False or 1/0."""
        if value is None:
            return ""
        return gettext("Yes") if value else gettext("No")

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, str):
            value = value.strip()
        if value in self.NULL_VALUES:
            return False
        if value in self.TRUE_VALUES or is_not_applicable_word(value):
            return True
        if value in self.FALSE_VALUES:
            return False
        raise ValueError(gettext("%(value)s is not a yes/no value (1 or 0).") % {"value": value})


# --- criteria: export only ---------------------------------------------------------------------------------


class CriterionResource(SpreadsheetResource):
    # The headers of the framework file (DESIGN §5), which import_framework reads back.
    export_labels = {
        "framework": gettext_lazy("Framework code"),
        "code": gettext_lazy("Code"),
        "title": gettext_lazy("Criterion"),
        "max_points": gettext_lazy("Max points"),
        "kind": gettext_lazy("Kind"),
        "source": gettext_lazy("Source"),
        "rule": gettext_lazy("Scoring rule"),
        "parent": gettext_lazy("Parent code"),
        "guidance": gettext_lazy("Guidance"),
    }

    framework = fields.Field(attribute="framework__code", column_name="framework", readonly=True)
    code = fields.Field(attribute="code", column_name="code", readonly=True)
    title = fields.Field(attribute="title", column_name="title", readonly=True)
    max_points = fields.Field(
        attribute="max_points", column_name="max_points", widget=PointsWidget(), readonly=True
    )
    kind = fields.Field(attribute="kind", column_name="kind", readonly=True)
    source = fields.Field(attribute="source", column_name="source", readonly=True)
    rule = fields.Field(attribute="rule", column_name="rule", readonly=True)
    parent = fields.Field(attribute="parent__code", column_name="parent", readonly=True)
    guidance = fields.Field(attribute="guidance", column_name="guidance", readonly=True)

    class Meta:
        model = Criterion
        fields = ["framework", "code", "title", "max_points", "kind", "source", "rule", "parent", "guidance"]
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("framework", "parent").order_by("framework__code", "order")


# --- scores ----------------------------------------------------------------------------------------------------

SCORE_KEYS = ("framework", "unit", "criterion")
KEEP_WHEN_BLANK = ("self_points", "not_applicable", "appraised_points")  # a file never clears a score
SCORE_HEADER_ALIASES = {
    "framework": "framework",
    "ma bo chi so": "framework",
    "bo chi so": "framework",
    "unit": "unit",
    "ma don vi": "unit",
    "don vi": "unit",
    "criterion": "criterion",
    "ma tieu chi": "criterion",
    "tieu chi": "criterion",
    "self points": "self_points",
    "diem tu cham": "self_points",
    "tu cham": "self_points",
    "not applicable": "not_applicable",
    "khong ap dung": "not_applicable",
    "kad": "not_applicable",
    "appraised points": "appraised_points",
    "diem tham dinh": "appraised_points",
    "tham dinh": "appraised_points",
    "appraisal reason": "appraisal_reason",
    "reason": "appraisal_reason",
    "ly do": "appraisal_reason",
    "note": "note",
    "ghi chu": "note",
    "giai trinh": "note",
    "evidence reference": "evidence_reference",
    "tai lieu kiem chung": "evidence_reference",
    "version": "version",
    "phien ban": "version",
}


class ScoreResource(SpreadsheetResource):
    export_labels = {
        "framework": gettext_lazy("Framework code"),
        "unit": gettext_lazy("Unit code"),
        "unit_name": gettext_lazy("Unit name"),
        "criterion": gettext_lazy("Criterion code"),
        "criterion_title": gettext_lazy("Criterion title"),
        "max_points": gettext_lazy("Max points"),
        "self_points": gettext_lazy("Self-assessed points"),
        "not_applicable": gettext_lazy("Not applicable"),
        "appraised_points": gettext_lazy("Appraised points"),
        "appraisal_reason": gettext_lazy("Appraisal reason"),
        "note": gettext_lazy("Note"),
        "evidence_reference": gettext_lazy("Evidence reference"),
        "version": gettext_lazy("Version"),
    }

    framework = fields.Field(attribute="assessment__framework__code", column_name="framework", readonly=True)
    unit = fields.Field(attribute="assessment__unit__code", column_name="unit", readonly=True)
    unit_name = fields.Field(attribute="assessment__unit__name", column_name="unit_name", readonly=True)
    criterion = fields.Field(attribute="criterion__code", column_name="criterion", readonly=True)
    criterion_title = fields.Field(attribute="criterion__title", column_name="criterion_title", readonly=True)
    max_points = fields.Field(
        attribute="criterion__max_points", column_name="max_points", widget=PointsWidget(), readonly=True
    )
    self_points = fields.Field(attribute="self_points", column_name="self_points", widget=PointsWidget())
    not_applicable = fields.Field(
        attribute="not_applicable", column_name="not_applicable", widget=YesNoWidget()
    )
    appraised_points = fields.Field(
        attribute="appraised_points", column_name="appraised_points", widget=PointsWidget()
    )
    appraisal_reason = fields.Field(
        attribute="appraisal_reason", column_name="appraisal_reason", widget=TextWidget()
    )
    note = fields.Field(attribute="note", column_name="note", widget=TextWidget())
    evidence_reference = fields.Field(
        attribute="evidence_reference", column_name="evidence_reference", widget=TextWidget()
    )
    # The row's version when exported (scoring.concurrency): a row changed since is refused, never
    # written over with the file's older values. A file without the column is not checked.
    version = fields.Field(
        attribute="version", column_name="version", widget=widgets.IntegerWidget(), readonly=True
    )

    class Meta:
        model = Score
        fields = [
            "framework",
            "unit",
            "unit_name",
            "criterion",
            "criterion_title",
            "max_points",
            "self_points",
            "not_applicable",
            "appraised_points",
            "appraisal_reason",
            "note",
            "evidence_reference",
            "version",
        ]
        export_order = fields
        import_id_fields = list(SCORE_KEYS)
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._frameworks: dict[str, Framework] = {}
        self._units: dict[str, Unit] = {}
        self._criteria: dict[tuple[int, str], Criterion] = {}
        self._user = None

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("assessment__framework", "assessment__unit", "criterion")

    def get_user_visible_fields(self):
        # What the import page lists: the keys and what can change, not the informative columns.
        return [f for f in self.get_import_fields() if not f.readonly or f.column_name in SCORE_KEYS]

    def before_import(self, dataset, **kwargs):
        rename_headers(dataset, {**self.header_aliases(), **SCORE_HEADER_ALIASES}, required=SCORE_KEYS)
        self._user = kwargs.get("user")

    def before_import_row(self, row, **kwargs):
        formulas = [name for name, value in row.items() if isinstance(value, FormulaCell)]
        if formulas:
            raise ValidationError({name: [gettext(FORMULA_REFUSED)] for name in formulas})
        # "Không áp dụng" / "KAD" typed in the points column means not applicable.
        if is_not_applicable_word(row.get("self_points")):
            row["self_points"] = None
            row["not_applicable"] = True
        # A blank cell is not an instruction: the stored value stays (the column is not imported).
        for name in KEEP_WHEN_BLANK:
            if name in row and (row[name] is None or (isinstance(row[name], str) and not row[name].strip())):
                del row[name]

    # Rows are found by (framework code, unit code, criterion code), not by id.

    def _key(self, row, name: str) -> str:
        return unescape_formula(str(row.get(name) or "").strip())

    def _lookup(self, row) -> tuple[Framework, Unit, Criterion]:
        codes = {name: self._key(row, name) for name in SCORE_KEYS}
        errors = {name: [gettext("This column is empty.")] for name, code in codes.items() if not code}
        if errors:
            raise ValidationError(errors)
        framework = self._frameworks.get(codes["framework"])
        if framework is None:
            framework = Framework.objects.filter(code=codes["framework"]).first()
            if framework is None:
                raise ValidationError(
                    {"framework": [gettext("Unknown framework %(code)s.") % {"code": codes["framework"]}]}
                )
            self._frameworks[framework.code] = framework
        unit = self._units.get(codes["unit"]) or Unit.objects.filter(code=codes["unit"]).first()
        if unit is None:
            raise ValidationError({"unit": [gettext("Unknown unit %(code)s.") % {"code": codes["unit"]}]})
        self._units[unit.code] = unit
        key = (framework.pk, codes["criterion"])
        criterion = (
            self._criteria.get(key)
            or Criterion.objects.filter(framework=framework, code=codes["criterion"]).first()
        )
        if criterion is None:
            raise ValidationError(
                {
                    "criterion": [
                        gettext("Framework %(framework)s has no criterion %(code)s.")
                        % {"framework": framework.code, "code": codes["criterion"]}
                    ]
                }
            )
        self._criteria[key] = criterion
        return framework, unit, criterion

    def get_or_init_instance(self, instance_loader, row):
        framework, unit, criterion = self._lookup(row)
        assessment = (
            Assessment.objects.select_related("framework", "unit")
            .filter(unit=unit, framework=framework)
            .first()
        )
        if assessment is None:
            # Created by save_instance, only if the row changes something.
            return Score(assessment=Assessment(unit=unit, framework=framework), criterion=criterion), True
        score = Score.objects.filter(assessment=assessment, criterion=criterion).first()
        if score is not None:
            score.assessment, score.criterion = assessment, criterion
            return score, False
        return Score(assessment=assessment, criterion=criterion), True

    def after_init_instance(self, instance, new, row, **kwargs):
        instance._import_original = {name: getattr(instance, name) for name in SELF_FIELDS + APPRAISAL_FIELDS}

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        # Only rows that change something get here (unchanged rows are skipped), so an exported file
        # that also lists scores of a published framework re-imports; a change to one is refused.
        if instance.assessment.pk is None:
            # A unit without an assessment gets one, as on the admin's assessment page (audited).
            instance.assessment = assessment_get_or_create(
                unit=instance.assessment.unit,
                framework=instance.assessment.framework,
                actor=self._user,
                via=Via.ADMIN,
            )
        original = instance._import_original
        changes = {
            name: getattr(instance, name) for name in original if getattr(instance, name) != original[name]
        }
        if changes:
            scores_apply_fields(
                assessment=instance.assessment,
                changes={instance.criterion.code: changes},
                actor=self._user,
                via=Via.ADMIN,
                versions={instance.criterion.code: version_of(row.get("version"))},
            )
            saved = Score.objects.get(assessment=instance.assessment, criterion=instance.criterion)
            instance.pk, instance.updated_at, instance.updated_by_id = (
                saved.pk,
                saved.updated_at,
                saved.updated_by_id,
            )
        self.after_save_instance(instance, row, **kwargs)

    def save_m2m(self, instance, row, **kwargs):
        pass
