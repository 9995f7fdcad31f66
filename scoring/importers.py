"""Importers for the scoring files of DESIGN §5: the framework file, the assessment workbook (self or
appraisal stage) and the survey file.

Each reads the whole file first and collects every problem with its cell or row; only a file
without problems reaches the services (framework_create, scores_apply_self/appraisal,
survey_apply), which then write everything in one transaction. A file with any problem changes
nothing; any unexpected error while reading becomes one clean problem (`_guarded`).

Formulas: a cell the importer stores (points, evidence, notes, reasons, survey points, framework
codes and titles) is refused when it holds a formula ("type the value itself"), even when Excel
cached a plausible value: the cached value is only what the file claims, and a formula written by
a program has none, so it would read as blank and silently clear a score. Formulas where nothing is
stored are ignored: subtotals on parent rows of the template, total columns of a survey file, and
=SUM(...) on a parent's max points in a framework file (counted as blank: the children's sum is used).

The template carries a fingerprint of its framework (`framework_version`) in its hidden sheet; a
workbook made before the criteria or maximum points changed is refused with a clear message.
"""

import functools
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from parindex.numbers import NOT_APPLICABLE, NotANumber, decimal_places, parse_score_cell
from parindex.spreadsheets import (
    N_,
    Column,
    Problem,
    SpreadsheetError,
    Table,
    cell_text,
    column_letter,
    file_label,
    find_table,
    normalize_name,
    open_spreadsheet,
    preamble_value,
    reading_guard,
)
from units.models import Membership, Role, Unit, UnitKind

from .models import (
    Assessment,
    Criterion,
    CriterionKind,
    CriterionSource,
    Framework,
    FrameworkStatus,
    Score,
    Via,
)
from .services import (
    SELF_STATUSES,
    ApplyResult,
    AppraisalEntry,
    CriterionRow,
    SelfEntry,
    assessment_get_or_create,
    framework_create,
    parse_bands,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)

CODE_RE = re.compile(r"^\d+(\.\d+)*$")
METADATA_SHEET = "_parindex"


def _guarded(read):
    """Any unexpected error while reading a file becomes one clean problem, never a traceback."""

    @functools.wraps(read)
    def wrapper(source, *args, **kwargs):
        with reading_guard(kwargs.get("name") or file_label(source)):
            return read(source, *args, **kwargs)

    return wrapper


def framework_version(framework: Framework) -> str:
    """A fingerprint of what a template depends on: each criterion's code, max points, kind, source
    and whether it may be not applicable. Written in the template's hidden sheet and compared on
    import. Deliberately not `updated_at`, which also moves when deadlines or the status change."""
    digest = hashlib.sha256()
    for code, max_points, kind, source, allows_na in (
        Criterion.objects.filter(framework=framework).order_by("order")
        .values_list("code", "max_points", "kind", "source", "allows_not_applicable")
    ):
        digest.update(f"{code}|{max_points.normalize():f}|{kind}|{source}|{int(allows_na)}\n".encode())
    return digest.hexdigest()[:16]


def _formula_problem(table: Table, row, key: str) -> Problem:
    return table.problem(
        N_("The cell holds a formula; formulas are not accepted here. Type the value itself."), cell=row.cell(key)
    )


def _literal_problems(error: ValidationError) -> list[Problem]:
    return [Problem(message, literal=True) for message in error.messages]


def criterion_code(value) -> str:
    """A code cell as text: 1 → "1", "1.2." → "1.2", " 1.2.3 " → "1.2.3"."""
    return cell_text(value).strip().rstrip(".")


def _locked_problem(framework: Framework) -> Problem:
    return Problem(
        N_("Framework %(code)s is published (decision %(decision)s); it can no longer be changed."),
        {"code": framework.code, "decision": framework.decision_number},
    )


def _number_problem(table: Table, cell: str, value, *, max_points: Decimal | None = None) -> tuple:
    """(Decimal or NOT_APPLICABLE or None, problem or None) for a points cell."""
    try:
        parsed = parse_score_cell(value)
    except NotANumber:
        return None, table.problem(N_("%(value)r is not a number."), cell=cell, value=cell_text(value))
    if parsed is None or parsed is NOT_APPLICABLE:
        return parsed, None
    if parsed < 0:
        return None, table.problem(N_("%(value)s is negative; points cannot be negative."), cell=cell, value=parsed)
    if decimal_places(parsed) > 2:
        return None, table.problem(
            N_("%(value)s has more than two decimals."), cell=cell, value=parsed.normalize()
        )
    if max_points is not None and parsed > max_points:
        return None, table.problem(
            N_("%(value)s is more than the maximum %(max)s"), cell=cell, value=parsed, max=max_points
        )
    return parsed, None


# --- framework file ---------------------------------------------------------------------------------

FRAMEWORK_COLUMNS = (
    Column("code", ("Mã", "code", "Mã tiêu chí", "Mã số"), required=True, label="Mã"),
    Column("title", ("Tiêu chí", "title", "Tên tiêu chí", "Nội dung"), required=True, label="Tiêu chí"),
    Column("max_points", ("Điểm tối đa", "max_points", "max points", "max"), required=True, label="Điểm tối đa"),
    Column("kind", ("Loại", "kind"), label="Loại"),
    Column("source", ("Nguồn", "source"), label="Nguồn"),
    Column("guidance", ("Hướng dẫn", "guidance", "Hướng dẫn chấm điểm"), label="Hướng dẫn"),
)
FRAMEWORK_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Loại", "Nguồn", "Hướng dẫn"]

_KIND_NAMES = {
    "": CriterionKind.SCORE, "score": CriterionKind.SCORE, "diem": CriterionKind.SCORE,
    "bonus": CriterionKind.BONUS, "thuong": CriterionKind.BONUS, "diem thuong": CriterionKind.BONUS,
    "cong": CriterionKind.BONUS, "diem cong": CriterionKind.BONUS,
    "penalty": CriterionKind.PENALTY, "tru": CriterionKind.PENALTY, "diem tru": CriterionKind.PENALTY,
    "phat": CriterionKind.PENALTY, "diem phat": CriterionKind.PENALTY,
}
_SOURCE_NAMES = {
    "": CriterionSource.SELF, "self": CriterionSource.SELF, "tu danh gia": CriterionSource.SELF,
    "tu cham": CriterionSource.SELF,
    "survey": CriterionSource.SURVEY, "dieu tra": CriterionSource.SURVEY,
    "dieu tra xa hoi hoc": CriterionSource.SURVEY, "dtxhh": CriterionSource.SURVEY,
    "dieu tra xhh": CriterionSource.SURVEY, "xhh": CriterionSource.SURVEY,
}


@dataclass
class _FrameworkRow:
    row: int
    code: str
    title: str
    max_points: Decimal | None
    kind: str
    source: str
    guidance: str
    max_cell: str
    code_cell: str
    max_bad: bool = False
    max_formula: bool = False


@_guarded
def read_framework_rows(source, *, name: str | None = None) -> list[CriterionRow]:
    """Read and validate a framework file into rows in tree order. Raises SpreadsheetError."""
    with open_spreadsheet(source, name=name) as book:
        table = find_table(book.first_sheet(), FRAMEWORK_COLUMNS, file_name=book.name)
        problems: list[Problem] = []
        rows: list[_FrameworkRow] = []
        for row in table.rows():
            code = criterion_code(row.get("code"))
            title = row.text("title")
            if not code and not title and row.get("max_points") is None and not row.formulas:
                continue
            formulas = [key for key in ("code", "title", "kind", "source", "guidance") if row.has_formula(key)]
            if formulas:
                problems += [_formula_problem(table, row, key) for key in formulas]
                continue
            # A formula for max points (=SUM(...) on an area row) is never trusted: on a parent it counts
            # as blank, so the sum of the children is used; on a leaf it is refused.
            max_formula = row.has_formula("max_points")
            broken = False
            if not CODE_RE.match(code):
                problems.append(table.problem(
                    N_("%(code)r is not a criterion code; codes look like 1, 1.2 or 1.2.3."),
                    cell=row.cell("code"), code=code,
                ))
                broken = True
            if not title:
                problems.append(table.problem(N_("The title of the criterion is missing."), cell=row.cell("title")))
            max_points, problem = _number_problem(
                table, row.cell("max_points"), None if max_formula else row.get("max_points")
            )
            if max_points is NOT_APPLICABLE:
                max_points, problem = None, table.problem(
                    N_("%(value)r is not a number."), cell=row.cell("max_points"), value=row.text("max_points")
                )
            if problem:
                problems.append(problem)
            kind = _KIND_NAMES.get(normalize_name(row.text("kind")))
            if kind is None:
                problems.append(table.problem(
                    N_("Unknown kind %(value)r; use score, bonus or penalty."), cell=row.cell("kind"),
                    value=row.text("kind"),
                ))
            source_value = _SOURCE_NAMES.get(normalize_name(row.text("source")))
            if source_value is None:
                problems.append(table.problem(
                    N_("Unknown source %(value)r; use self or survey."), cell=row.cell("source"),
                    value=row.text("source"),
                ))
            if broken:
                continue
            rows.append(_FrameworkRow(
                row.number, code, title, max_points, kind or CriterionKind.SCORE, source_value or CriterionSource.SELF,
                row.text("guidance"), row.cell("max_points"), row.cell("code"), max_bad=problem is not None,
                max_formula=max_formula,
            ))
        problems += _framework_tree_problems(table, rows)
    if not rows and not problems:
        problems.append(Problem(N_("The file holds no criteria."), sheet=table.sheet))
    if problems:
        raise SpreadsheetError(problems, book.name)
    return [CriterionRow(r.code, r.title, r.max_points, r.kind, r.source, r.guidance) for r in rows]


def _framework_tree_problems(table: Table, rows: list[_FrameworkRow]) -> list[Problem]:
    """The rules of scoring.services.tree_problems, reported by row, plus blank parent maxima
    (which become the sum of the children)."""
    problems: list[Problem] = []
    seen: dict[str, _FrameworkRow] = {}
    for r in rows:
        if r.code in seen:
            problems.append(table.problem(
                N_("Code %(code)s appears twice (first in row %(first)s)."), cell=r.code_cell, code=r.code,
                first=seen[r.code].row,
            ))
            continue
        parent_code = r.code.rpartition(".")[0]
        if parent_code and parent_code not in seen:
            problems.append(table.problem(
                N_("Code %(code)s comes before or without its parent %(parent)s."), cell=r.code_cell,
                code=r.code, parent=parent_code,
            ))
        seen[r.code] = r
    children: dict[str, list[_FrameworkRow]] = {}
    for r in seen.values():
        parent_code = r.code.rpartition(".")[0]
        if parent_code in seen:
            children.setdefault(parent_code, []).append(r)
    for r in seen.values():
        if r.code not in children and r.max_formula:
            problems.append(table.problem(
                N_("The cell holds a formula; formulas are not accepted here. Type the value itself."), cell=r.max_cell
            ))
        elif r.code not in children and r.max_points is None and not r.max_bad:
            problems.append(table.problem(N_("The maximum points of a leaf criterion are missing."), cell=r.max_cell))
    # Deepest first, so that a blank parent gets the sum of children that are complete.
    for code in sorted(children, key=lambda c: c.count("."), reverse=True):
        parent, kids = seen[code], children[code]
        if any(k.max_points is None for k in kids):
            continue
        total = sum((k.max_points for k in kids), Decimal("0"))
        if parent.max_points is None:
            parent.max_points = total
        elif parent.max_points != total:
            problems.append(table.problem(
                N_("Criterion %(code)s has max points %(max)s but its children add up to %(sum)s."),
                cell=parent.max_cell, code=code, max=parent.max_points, sum=total,
            ))
        for kid in kids:
            if parent.kind != CriterionKind.SCORE and kid.kind != parent.kind:
                problems.append(table.problem(
                    N_("Criterion %(code)s is of kind %(kind)s but sits under %(parent)s of kind %(pkind)s."),
                    row=kid.row, code=kid.code, kind=kid.kind, parent=code, pkind=parent.kind,
                ))
            if kid.source != parent.source:
                problems.append(table.problem(
                    N_("Criterion %(code)s has source %(source)s but sits under %(parent)s with source %(psource)s."),
                    row=kid.row, code=kid.code, source=kid.source, parent=code, psource=parent.source,
                ))
    return problems


UNIT_KIND_NAMES = {
    "province": UnitKind.PROVINCE, "tinh": UnitKind.PROVINCE,
    "district": UnitKind.DISTRICT, "huyen": UnitKind.DISTRICT,
    "department": UnitKind.DEPARTMENT, "so": UnitKind.DEPARTMENT, "phong": UnitKind.DEPARTMENT,
    "commune": UnitKind.COMMUNE, "xa": UnitKind.COMMUNE,
}


def import_framework_file(
    source, *, code: str, authority: str, unit_kind: str, year: int, name: str, bands: str | None = None,
    decimals: int = 2, legal_basis: str = "", actor=None, via: str = Via.COMMAND, file_name: str | None = None,
) -> Framework:
    """Validate the options and the file, then create the framework. Raises SpreadsheetError."""
    label = file_name or file_label(source)
    problems: list[Problem] = []
    existing = Framework.objects.filter(code=code).first()
    if existing is not None:
        if existing.status == FrameworkStatus.PUBLISHED:
            problems.append(_locked_problem(existing))
        else:
            problems.append(Problem(N_("A framework with code %(code)s exists already; choose another code."),
                                    {"code": code}))
    authority_unit = Unit.objects.filter(code=authority).first()
    if authority_unit is None:
        problems.append(Problem(N_("Unknown authority unit %(code)s."), {"code": authority}))
    kind = UNIT_KIND_NAMES.get(normalize_name(unit_kind))
    if kind is None:
        problems.append(Problem(N_("Unknown unit kind %(kind)r; use province, district, department or commune."),
                                {"kind": unit_kind}))
    parsed_bands = []
    if bands:
        try:
            parsed_bands = parse_bands(bands)
        except ValidationError as error:
            problems += _literal_problems(error)
    try:
        rows = read_framework_rows(source, name=label)
    except SpreadsheetError as error:
        problems += error.problems
        rows = []
    if problems:
        raise SpreadsheetError(problems, label)
    try:
        return framework_create(
            code=code, authority=authority_unit, unit_kind=kind, year=year, name=name, rows=rows,
            bands=parsed_bands, index_decimals=decimals, legal_basis=legal_basis, actor=actor, via=via,
        )
    except ValidationError as error:
        raise SpreadsheetError(_literal_problems(error), label) from error


# --- assessment workbook ------------------------------------------------------------------------------

SELF, APPRAISAL = "self", "appraisal"

ASSESSMENT_COLUMNS = {
    SELF: (
        Column("code", ("Mã", "code", "Mã tiêu chí", "Mã số"), required=True, label="Mã"),
        Column("points", ("Điểm tự đánh giá", "self_points", "self points", "Điểm tự chấm"), required=True,
               label="Điểm tự đánh giá"),
        Column("evidence", ("Tài liệu kiểm chứng", "evidence", "evidence_reference", "TLKC"),
               label="Tài liệu kiểm chứng"),
        Column("note", ("Ghi chú", "note"), label="Ghi chú"),
    ),
    APPRAISAL: (
        Column("code", ("Mã", "code", "Mã tiêu chí", "Mã số"), required=True, label="Mã"),
        Column("points", ("Điểm thẩm định", "appraised_points", "appraised points"), required=True,
               label="Điểm thẩm định"),
        Column("reason", ("Lý do", "reason", "Lý do điều chỉnh", "appraisal_reason"), label="Lý do"),
    ),
}


@dataclass
class AssessmentImport:
    """A validated assessment file, ready to apply."""

    framework: Framework
    unit: Unit
    stage: str
    self_entries: dict[str, SelfEntry] = field(default_factory=dict)
    appraisal_entries: dict[str, AppraisalEntry] = field(default_factory=dict)
    file_name: str = ""
    ignored_rows: int = 0

    @property
    def count(self) -> int:
        return len(self.self_entries) + len(self.appraisal_entries)


def read_metadata(book) -> dict[str, str]:
    """Key/value rows of the hidden "_parindex" sheet written by the template, if any."""
    sheet = book.sheet(METADATA_SHEET)
    if sheet is None:
        return {}
    return {cell_text(values[0]): cell_text(values[1]) if len(values) > 1 else ""
            for _number, values in sheet.rows() if values and values[0] is not None}


@_guarded
def read_assessment(
    source, *, framework: Framework, stage: str = SELF, unit_code: str | None = None, name: str | None = None
) -> AssessmentImport:
    """Read and validate an assessment workbook; raises SpreadsheetError listing every problem."""
    if stage not in (SELF, APPRAISAL):
        raise ValueError(stage)
    with open_spreadsheet(source, name=name) as book:
        metadata = read_metadata(book)
        table = find_table(book.first_sheet(), ASSESSMENT_COLUMNS[stage], file_name=book.name)
        problems: list[Problem] = []
        if framework.status == FrameworkStatus.PUBLISHED:
            problems.append(_locked_problem(framework))
        unit = _resolve_unit(table, metadata, framework, unit_code, problems)
        made_for = metadata.get("framework_version")
        if made_for and metadata.get("framework", framework.code) == framework.code and (
            made_for != framework_version(framework)
        ):
            problems.append(Problem(
                N_("Framework %(framework)s has changed since this workbook was made (criteria or maximum points "
                   "were edited). Download a new template and copy your entries into it."),
                {"framework": framework.code},
            ))
        assessment = Assessment.objects.filter(unit=unit, framework=framework).first() if unit else None
        if stage == SELF and assessment and assessment.status not in SELF_STATUSES:
            problems.append(Problem(
                N_("The self-assessment of %(unit)s is %(status)s; it can be changed only before submission or "
                   "when returned for explanation."),
                {"unit": unit.code, "status": assessment.get_status_display()},
            ))
        current = {}
        if assessment is not None:
            current = {s.criterion.code: s for s in Score.objects.filter(assessment=assessment).select_related("criterion")}
        criteria = {c.code: c for c in Criterion.objects.filter(framework=framework)}
        result = AssessmentImport(framework=framework, unit=unit, stage=stage, file_name=book.name)
        seen: dict[str, int] = {}
        for row in table.rows():
            code = criterion_code(row.get("code"))
            if not CODE_RE.match(code):
                continue  # a title, a total line or a note under the table
            criterion = criteria.get(code)
            if criterion is None:
                problems.append(table.problem(
                    N_("Criterion %(code)s is not in framework %(framework)s."), cell=row.cell("code"), code=code,
                    framework=framework.code,
                ))
                continue
            if code in seen:
                problems.append(table.problem(
                    N_("Code %(code)s appears twice (first in row %(first)s)."), cell=row.cell("code"), code=code,
                    first=seen[code],
                ))
                continue
            seen[code] = row.number
            if not criterion.is_leaf or criterion.source != CriterionSource.SELF:
                result.ignored_rows += 1  # subtotals (often formulas) and survey leaves scored by the office
                continue
            formulas = [key for key in ("points", "evidence", "note", "reason") if row.has_formula(key)]
            if formulas:
                problems += [_formula_problem(table, row, key) for key in formulas]
                continue
            value, problem = _number_problem(table, row.cell("points"), row.get("points"),
                                             max_points=criterion.max_points)
            if problem:
                problems.append(problem)
                continue
            if stage == SELF:
                if value is NOT_APPLICABLE and not criterion.allows_not_applicable:
                    problems.append(table.problem(N_("Criterion %(code)s cannot be marked not applicable."),
                                                  cell=row.cell("points"), code=code))
                    continue
                result.self_entries[code] = SelfEntry(
                    points=None if value is NOT_APPLICABLE else value,
                    not_applicable=value is NOT_APPLICABLE,
                    note=row.text("note") if table.has("note") else None,
                    evidence_reference=row.text("evidence") if table.has("evidence") else None,
                )
            else:
                score = current.get(code)
                if value is NOT_APPLICABLE:
                    if score is None or not score.not_applicable:
                        problems.append(table.problem(
                            N_("Criterion %(code)s is not marked not applicable by the unit; give appraised points."),
                            cell=row.cell("points"), code=code,
                        ))
                    continue
                reason = row.text("reason")
                self_points = score.self_points if score else None
                if value is not None and value != self_points and not reason:
                    problems.append(table.problem(
                        N_("The appraised points %(new)s differ from the self-assessed %(old)s; a reason is required."),
                        cell=row.cell("reason") if table.has("reason") else row.cell("points"),
                        new=value, old=self_points if self_points is not None else "—",
                    ))
                    continue
                result.appraisal_entries[code] = AppraisalEntry(points=value, reason=reason)
    if problems:
        raise SpreadsheetError(problems, book.name)
    return result


@dataclass(frozen=True)
class PreviewLine:
    """One leaf whose points would change: old → new (Decimal, None, or NOT_APPLICABLE)."""

    code: str
    title: str
    old: object
    new: object


def assessment_preview(data: AssessmentImport) -> list[PreviewLine]:
    """The points an import would change, in tree order, for a confirmation page (old → new)."""
    criteria = {c.code: c for c in Criterion.objects.filter(framework=data.framework).order_by("order")}
    current = {
        s.criterion.code: s
        for s in Score.objects.filter(assessment__unit=data.unit, assessment__framework=data.framework)
        .select_related("criterion")
    }
    lines = []
    for code, criterion in criteria.items():
        score = current.get(code)
        if data.stage == SELF and code in data.self_entries:
            entry = data.self_entries[code]
            new = NOT_APPLICABLE if entry.not_applicable else entry.points
            old = None if score is None else NOT_APPLICABLE if score.not_applicable else score.self_points
        elif data.stage == APPRAISAL and code in data.appraisal_entries:
            new = data.appraisal_entries[code].points
            old = score.appraised_points if score else None
        else:
            continue
        if old != new:
            lines.append(PreviewLine(code, criterion.title, old, new))
    return lines


def _resolve_unit(table: Table, metadata: dict, framework: Framework, unit_code: str | None,
                  problems: list[Problem]) -> Unit | None:
    """The unit of the workbook from --unit and/or the metadata; mismatches are problems."""
    meta_unit = metadata.get("unit") or cell_text(preamble_value(table, "Mã đơn vị", "unit code", "unit"))
    meta_framework = metadata.get("framework") or cell_text(preamble_value(table, "Mã bộ chỉ số", "framework"))
    meta_year = metadata.get("year") or cell_text(preamble_value(table, "Năm", "year"))
    if meta_framework and meta_framework != framework.code:
        problems.append(Problem(
            N_("This workbook is for framework %(file)s, not %(framework)s."),
            {"file": meta_framework, "framework": framework.code},
        ))
    if meta_year and meta_year != str(framework.year):
        problems.append(Problem(
            N_("This workbook is for the year %(file)s, but framework %(framework)s is of %(year)s."),
            {"file": meta_year, "framework": framework.code, "year": framework.year},
        ))
    if unit_code and meta_unit and unit_code != meta_unit:
        problems.append(Problem(
            N_("This workbook belongs to unit %(file)s, not %(unit)s."), {"file": meta_unit, "unit": unit_code}
        ))
        return None
    code = unit_code or meta_unit
    if not code:
        problems.append(Problem(N_("The workbook does not name its unit; give the unit code (--unit).")))
        return None
    unit = Unit.objects.filter(code=code).first()
    if unit is None:
        problems.append(Problem(N_("Unknown unit %(code)s."), {"code": code}))
        return None
    if unit.kind != framework.unit_kind:
        problems.append(Problem(
            N_("Unit %(unit)s is a %(kind)s; framework %(code)s assesses units of kind %(fkind)s."),
            {"unit": unit.code, "kind": unit.get_kind_display(), "code": framework.code,
             "fkind": framework.get_unit_kind_display()},
        ))
        return None
    return unit


def apply_assessment(data: AssessmentImport, *, actor=None, via: str = Via.COMMAND) -> ApplyResult:
    """Write a validated assessment file: all or nothing."""
    try:
        with transaction.atomic():
            assessment = assessment_get_or_create(unit=data.unit, framework=data.framework, actor=actor, via=via)
            if data.stage == SELF:
                on_behalf = actor is not None and not Membership.objects.filter(
                    user=actor, unit=data.unit, role=Role.OFFICER
                ).exists()
                return scores_apply_self(assessment=assessment, entries=data.self_entries, actor=actor, via=via,
                                         on_behalf=on_behalf)
            return scores_apply_appraisal(assessment=assessment, entries=data.appraisal_entries, actor=actor, via=via)
    except ValidationError as error:
        raise SpreadsheetError(_literal_problems(error), data.file_name) from error


def import_assessment_file(source, *, framework: Framework, stage: str = SELF, unit_code: str | None = None,
                           actor=None, via: str = Via.COMMAND, name: str | None = None):
    data = read_assessment(source, framework=framework, stage=stage, unit_code=unit_code, name=name)
    return data, apply_assessment(data, actor=actor, via=via)


# --- survey file ------------------------------------------------------------------------------------

SURVEY_UNIT_COLUMN = Column("unit", ("Mã đơn vị", "unit", "unit code", "unit_code"), required=True, label="Mã đơn vị")
SURVEY_IGNORED_HEADERS = {normalize_name(n) for n in (
    "Tên đơn vị", "name", "unit name", "STT", "TT", "Ghi chú", "note", "Tổng", "Tổng điểm", "Tổng cộng", "total",
)}
_HEADER_CODE = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")


@dataclass
class SurveyImport:
    framework: Framework
    entries: dict[str, dict[str, Decimal | None]]
    file_name: str = ""


@_guarded
def read_survey(source, *, framework: Framework, name: str | None = None) -> SurveyImport:
    with open_spreadsheet(source, name=name) as book:
        table = find_table(book.first_sheet(), (SURVEY_UNIT_COLUMN,), file_name=book.name)
        problems: list[Problem] = []
        if framework.status == FrameworkStatus.PUBLISHED:
            problems.append(_locked_problem(framework))
        criteria = {c.code: c for c in Criterion.objects.filter(framework=framework)}
        code_columns: dict[int, Criterion] = {}
        unit_index = table.columns["unit"]
        for index, value in table.headers:
            if index == unit_index:
                continue
            text = cell_text(value)
            match = _HEADER_CODE.match(text)
            cell = f"{column_letter(index)}{table.header_row}"
            if not match:
                if normalize_name(text) not in SURVEY_IGNORED_HEADERS:
                    problems.append(table.problem(
                        N_("Column %(name)r is neither a survey criterion code nor a known column."), cell=cell,
                        name=text,
                    ))
                continue
            criterion = criteria.get(match.group(1))
            if criterion is None:
                problems.append(table.problem(N_("Criterion %(code)s is not in framework %(framework)s."),
                                              cell=cell, code=match.group(1), framework=framework.code))
            elif not criterion.is_leaf or criterion.source != CriterionSource.SURVEY:
                problems.append(table.problem(N_("Criterion %(code)s is not a survey criterion."), cell=cell,
                                              code=criterion.code))
            elif criterion in code_columns.values():
                problems.append(table.problem(N_("Criterion %(code)s has two columns."), cell=cell,
                                              code=criterion.code))
            else:
                code_columns[index] = criterion
        if not code_columns and not problems:
            problems.append(Problem(N_("The file has no survey criterion columns."), sheet=table.sheet))
        rows = list(table.rows())
        unit_codes = {row.text("unit") for row in rows}
        units = {u.code: u for u in Unit.objects.filter(code__in=unit_codes)}
        entries: dict[str, dict[str, Decimal | None]] = {}
        first_row: dict[str, int] = {}
        for row in rows:
            code = row.text("unit")
            if not code:
                if any(row.at(i) is not None for i in code_columns):
                    problems.append(table.problem(N_("The unit code is missing."), cell=row.cell("unit")))
                continue
            unit = units.get(code)
            if unit is None:
                problems.append(table.problem(N_("Unknown unit %(code)s."), cell=row.cell("unit"), code=code))
                continue
            if unit.kind != framework.unit_kind:
                problems.append(table.problem(
                    N_("Unit %(unit)s is a %(kind)s; framework %(code)s assesses units of kind %(fkind)s."),
                    cell=row.cell("unit"), unit=code, kind=unit.get_kind_display(), code=framework.code,
                    fkind=framework.get_unit_kind_display(),
                ))
                continue
            if code in first_row:
                problems.append(table.problem(N_("Unit %(code)s appears twice (first in row %(first)s)."),
                                              cell=row.cell("unit"), code=code, first=first_row[code]))
                continue
            first_row[code] = row.number
            values: dict[str, Decimal | None] = {}
            for index, criterion in code_columns.items():
                cell = f"{column_letter(index)}{row.number}"
                if index in row.formulas:
                    problems.append(table.problem(
                        N_("The cell holds a formula; formulas are not accepted here. Type the value itself."),
                        cell=cell,
                    ))
                    continue
                value, problem = _number_problem(table, cell, row.at(index), max_points=criterion.max_points)
                if problem:
                    problems.append(problem)
                elif value is NOT_APPLICABLE:
                    problems.append(table.problem(N_("Survey points cannot be marked not applicable."), cell=cell))
                else:
                    values[criterion.code] = value
            entries[code] = values
    if problems:
        raise SpreadsheetError(problems, book.name)
    return SurveyImport(framework, entries, book.name)


def import_survey_file(source, *, framework: Framework, actor=None, via: str = Via.COMMAND,
                       name: str | None = None) -> tuple[SurveyImport, ApplyResult]:
    data = read_survey(source, framework=framework, name=name)
    try:
        result = survey_apply(framework=framework, entries=data.entries, actor=actor, via=via)
    except ValidationError as error:
        raise SpreadsheetError(_literal_problems(error), data.file_name) from error
    return data, result

