"""Importers for the scoring files of DESIGN §5: the framework file, the assessment workbook (self or
appraisal stage) and the survey file.

Each reads the whole file first and collects every problem with its cell or row. Importers decide
only what is about the file (headers, a cell is a number or a mark, formulas, codes the file names
that do not exist); the rules of the domain are the services': each importer asks the service's own
check (tree_problems, scores_self_problems, scores_appraisal_problems, survey_problems) and places
every refusal on the cell of its criterion ("D14 (tiêu chí 2.3): …"). Only a file without problems
reaches the services (framework_create, scores_apply_self/appraisal, survey_apply), which write
everything in one transaction; a refusal they raise then is placed the same way. A file with any
problem changes nothing; any unexpected error while reading becomes one clean problem (`_guarded`).

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
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from parindex.errors import ServiceError
from parindex.numbers import (
    NOT_APPLICABLE,
    NotANumber,
    NotApplicable,
    decimal_places,
    format_decimal,
    is_not_applicable_word,
    parse_decimal,
    parse_score_cell,
)
from parindex.spreadsheets import (
    N_,
    Column,
    Problem,
    Sheet,
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
    service_problems,
)
from scoring.assessments.services import (
    NA_CONFIRM,
    NA_IMPOSE,
    NA_REFUSE,
    ApplyResult,
    AppraisalEntry,
    NotApplicableDecision,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    entry_points,
    not_applicable_apply,
    not_applicable_problems,
    scores_apply_appraisal,
    scores_apply_self,
    scores_appraisal_problems,
    scores_self_changes,
    scores_self_review,
    survey_apply,
    survey_problems,
)
from scoring.frameworks.groups import GroupSpec, framework_set_groups, parse_groups
from scoring.frameworks.rules import PERCENT, Rule, parse_rule
from scoring.frameworks.services import (
    CriterionRow,
    framework_code_problems,
    framework_create,
    framework_lock_error,
    parse_bands,
    tree_problems,
)
from scoring.models import (
    Assessment,
    Criterion,
    CriterionKind,
    CriterionSource,
    Evidence,
    Framework,
    Score,
    Via,
)
from units.models import Membership, Role, Unit, UnitKind

# A criterion code as decisions number them: dotted numbers (1, 1.2, 1.2.3) or their own numbering
# (I, II, a, a1), as the model's validator takes it. A code cell of this shape that names no criterion
# of the framework is an error, never a row skipped; text that is not a code (a title or a total line
# such as "Tổng cộng") is not a criterion row at all.
CODE_RE = re.compile(r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$")
FRAMEWORK_CODE_RE = CODE_RE
METADATA_SHEET = "_parindex"


def _guarded(read):
    """Any unexpected error while reading a file becomes one clean problem, never a traceback."""

    @functools.wraps(read)
    def wrapper(source, *args, **kwargs):
        with reading_guard(kwargs.get("name") or file_label(source)):
            return read(source, *args, **kwargs)

    return wrapper


def framework_version(framework: Framework, criteria: Iterable[Criterion] | None = None) -> str:
    """A fingerprint of what a template depends on: each criterion's code, max points, kind, source,
    whether it may be not applicable and its scoring rule (which decides whether it is entered by
    points or by `Số liệu`). Written in the template's hidden sheet and compared on import.
    Deliberately not `updated_at`, which also moves when deadlines or the status change. A leaf
    without a rule adds nothing for it, so fingerprints of frameworks without rules did not change.
    `criteria`: the framework's criteria in their order, when the caller has read them already."""
    digest = hashlib.sha256()
    rows = (
        Criterion.objects.filter(framework=framework)
        .order_by("order")
        .values_list("code", "max_points", "kind", "source", "allows_not_applicable", "rule")
        if criteria is None
        else [(c.code, c.max_points, c.kind, c.source, c.allows_not_applicable, c.rule) for c in criteria]
    )
    for code, max_points, kind, source, allows_na, rule in rows:
        line = f"{code}|{max_points.normalize():f}|{kind}|{source}|{int(allows_na)}"
        digest.update(f"{line}|{rule}\n".encode() if rule else f"{line}\n".encode())
    return digest.hexdigest()[:16]


def _formula_problem(table: Table, row, key: str) -> Problem:
    return table.problem(
        N_("The cell holds a formula; formulas are not accepted here. Type the value itself."),
        cell=row.cell(key),
    )


def _literal_problems(error: ValidationError) -> list[Problem]:
    if isinstance(error, ServiceError):
        return service_problems(error)
    return [Problem(message, literal=True) for message in error.messages]


def _placed(errors: list[ServiceError], locate, problems: list[Problem], *, sheet: str = "") -> list[Problem]:
    """A service's refusals as problems on the cell `locate(error)` returns ("" when it has none).
    A refusal on a cell that already has a problem of the file itself is left out (one per cell)."""
    taken = {p.cell for p in problems if p.cell}
    placed = []
    for error in errors:
        cell = locate(error)
        if cell and cell in taken:
            continue
        placed.append(Problem.from_service(error, cell=cell, sheet=sheet if cell else ""))
    return placed


def _raw_text(value) -> str:
    """A `Số liệu` cell as the raw figure's text: a number Excel stored is written with the decimal
    comma ("95,5"), as a person types it; text ("191/200", "có") as it is."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format_decimal(Decimal(str(value)), language="vi")
    return cell_text(value).strip()


def criterion_code(value) -> str:
    """A code cell as text: 1 → "1", "1.2." → "1.2", " 1.2.3 " → "1.2.3"."""
    return cell_text(value).strip().rstrip(".")


def _number_problem(table: Table, cell: str, value) -> tuple:
    """(Decimal or NOT_APPLICABLE or None, problem or None) for a points cell: whether it holds a
    number or the not-applicable mark. Whether the points are allowed is the services' to say."""
    try:
        return parse_score_cell(value), None
    except NotANumber:
        return None, table.problem(N_("%(value)r is not a number."), cell=cell, value=cell_text(value))


def _max_points_problem(table: Table, cell: str, value) -> tuple:
    """(Decimal or None, problem or None) for the max points cell of a framework file: a number of
    points, not negative and with at most two decimals (the model field's rules)."""
    parsed, problem = _number_problem(table, cell, value)
    if problem or parsed is None:
        return None, problem
    if parsed is NOT_APPLICABLE:
        return None, table.problem(N_("%(value)r is not a number."), cell=cell, value=cell_text(value))
    if parsed < 0:
        return None, table.problem(
            N_("%(value)s is negative; points cannot be negative."), cell=cell, value=parsed
        )
    if decimal_places(parsed) > 2:
        return None, table.problem(
            N_("%(value)s has more than two decimals."), cell=cell, value=parsed.normalize()
        )
    return parsed, None


# --- framework file ---------------------------------------------------------------------------------

FRAMEWORK_COLUMNS = (
    Column("code", ("Mã", "code", "Mã tiêu chí", "Mã số"), required=True, label="Mã"),
    Column("title", ("Tiêu chí", "title", "Tên tiêu chí", "Nội dung"), required=True, label="Tiêu chí"),
    Column(
        "max_points", ("Điểm tối đa", "max_points", "max points", "max"), required=True, label="Điểm tối đa"
    ),
    Column("kind", ("Loại", "kind"), label="Loại"),
    Column("source", ("Nguồn", "source"), label="Nguồn"),
    Column("rule", ("Cách chấm", "rule", "Cách chấm điểm", "Cách tính điểm"), label="Cách chấm"),
    Column("parent", ("Mã cấp trên", "parent", "Mã cha", "parent_code"), label="Mã cấp trên"),
    Column("guidance", ("Hướng dẫn", "guidance", "Hướng dẫn chấm điểm"), label="Hướng dẫn"),
)
FRAMEWORK_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Loại", "Nguồn", "Cách chấm", "Mã cấp trên", "Hướng dẫn"]

_KIND_NAMES = {
    "": CriterionKind.SCORE,
    "score": CriterionKind.SCORE,
    "diem": CriterionKind.SCORE,
    "bonus": CriterionKind.BONUS,
    "thuong": CriterionKind.BONUS,
    "diem thuong": CriterionKind.BONUS,
    "cong": CriterionKind.BONUS,
    "diem cong": CriterionKind.BONUS,
    "penalty": CriterionKind.PENALTY,
    "tru": CriterionKind.PENALTY,
    "diem tru": CriterionKind.PENALTY,
    "phat": CriterionKind.PENALTY,
    "diem phat": CriterionKind.PENALTY,
}


# The options as the command line and an exported workbook's hidden sheet write them.
INDEX_CAPPED, INDEX_UNCAPPED = "100", "none"
SURVEY_REQUIRED, SURVEY_OPTIONAL = "required", "optional"


def framework_options(framework: Framework) -> dict[str, str]:
    """{"index_cap": "100"|"none", "survey": "required"|"optional"} of a framework."""
    return {
        "index_cap": INDEX_CAPPED if framework.index_capped else INDEX_UNCAPPED,
        "survey": SURVEY_OPTIONAL if framework.survey_optional else SURVEY_REQUIRED,
    }


@dataclass
class _FrameworkRow:
    """Where a criterion of a framework file is: its row and the cells of its columns."""

    row: int
    cells: dict[str, str]
    max_formula: bool = False


def read_framework_rows(source, *, name: str | None = None) -> list[CriterionRow]:
    """Read a framework file into rows in tree order, checked by the tree rules of the services
    (tree_problems) and placed by cell. Raises SpreadsheetError."""
    return read_framework_file(source, name=name)[0]


@_guarded
def read_framework_file(source, *, name: str | None = None) -> tuple[list[CriterionRow], dict[str, str]]:
    """(the rows of read_framework_rows, the options an exported workbook carries in its hidden sheet:
    "index_cap" 100|none and "survey" required|optional; empty for any other file)."""
    with open_spreadsheet(source, name=name) as book:
        metadata = read_metadata(book)
        table = find_table(book.first_sheet(), FRAMEWORK_COLUMNS, file_name=book.name)
        problems: list[Problem] = []
        rows: list[CriterionRow] = []
        places: dict[int, _FrameworkRow] = {}
        for row in table.rows():
            code = criterion_code(row.get("code"))
            title = row.text("title")
            if not code and not title and row.get("max_points") is None and not row.formulas:
                continue
            formulas = [
                key
                for key in ("code", "title", "kind", "source", "rule", "parent", "guidance")
                if row.has_formula(key)
            ]
            if formulas:
                problems += [_formula_problem(table, row, key) for key in formulas]
                continue
            # A formula for max points (=SUM(...) on an area row) is never trusted: on a parent it counts
            # as blank, so the sum of the children is used; on a leaf it is refused.
            max_formula = row.has_formula("max_points")
            broken = False
            if not FRAMEWORK_CODE_RE.match(code):
                problems.append(
                    table.problem(
                        N_(
                            "%(code)r is not a criterion code; codes look like 1, 1.2, 1.2.3 or, with a "
                            "parent column, I, II, a, a1."
                        ),
                        cell=row.cell("code"),
                        code=code,
                    )
                )
                broken = True
            parent = criterion_code(row.get("parent"))
            if parent and not FRAMEWORK_CODE_RE.match(parent):
                problems.append(
                    table.problem(
                        N_(
                            "%(code)r is not a criterion code; codes look like 1, 1.2, 1.2.3 or I, II, a, a1."
                        ),
                        cell=row.cell("parent"),
                        code=parent,
                    )
                )
                broken = True
            if not title:
                problems.append(
                    table.problem(N_("The title of the criterion is missing."), cell=row.cell("title"))
                )
            max_points, problem = _max_points_problem(
                table, row.cell("max_points"), None if max_formula else row.get("max_points")
            )
            if problem:
                problems.append(problem)
            kind = _KIND_NAMES.get(normalize_name(row.text("kind")))
            if kind is None:
                problems.append(
                    table.problem(
                        N_("Unknown kind %(value)r; use score, bonus or penalty."),
                        cell=row.cell("kind"),
                        value=row.text("kind"),
                    )
                )
            source_value = CriterionSource.parse(row.text("source"))
            if source_value is None:
                problems.append(
                    table.problem(
                        N_("Unknown source %(value)r; use self, survey or office."),
                        cell=row.cell("source"),
                        value=row.text("source"),
                    )
                )
            if broken:
                continue
            criterion_row = CriterionRow(
                code,
                title,
                max_points,
                kind or CriterionKind.SCORE,
                source_value or CriterionSource.SELF,
                row.text("guidance"),
                rule=row.text("rule"),
                parent=parent,
            )
            rows.append(criterion_row)
            places[id(criterion_row)] = _FrameworkRow(
                row.number, {key: row.cell(key) for key in table.columns}, max_formula=max_formula
            )
        parents = {r.parent_code for r in rows}
        for r in rows:
            if r.code not in parents and places[id(r)].max_formula:
                problems.append(
                    table.problem(
                        N_(
                            "The cell holds a formula; formulas are not accepted here. Type the value itself."
                        ),
                        cell=places[id(r)].cells["max_points"],
                    )
                )

        def locate(error: ServiceError) -> str:
            place = places[id(error.obj)]
            return place.cells.get(error.field or "code", place.cells["code"])

        problems += _placed(tree_problems(rows), locate, problems, sheet=table.sheet)
    if not rows and not problems:
        problems.append(Problem(N_("The file holds no criteria."), sheet=table.sheet))
    if problems:
        raise SpreadsheetError(problems, book.name)
    return rows, metadata


def import_framework_file(
    source,
    *,
    code: str,
    authority: str,
    unit_kind: str,
    year: int,
    name: str,
    bands: str | None = None,
    decimals: int = 2,
    legal_basis: str = "",
    index_capped: bool | None = None,
    survey_optional: bool | None = None,
    groups: str = "",
    actor=None,
    via: str = Via.COMMAND,
    file_name: str | None = None,
) -> Framework:
    """Read the options and the file, then create the framework through framework_create (whose
    refusals are reported with the file's). Raises SpreadsheetError.

    An option left None takes what an exported workbook says (so that export → import gives the same
    framework), else the default: index capped at 100, survey required."""
    label = file_name or file_label(source)
    problems: list[Problem] = [Problem.from_service(error) for error in framework_code_problems(code)]
    authority_unit = Unit.objects.filter(code=authority).first()
    if authority_unit is None:
        problems.append(Problem(N_("Unknown authority unit %(code)s."), {"code": authority}))
    kinds, unknown_kinds = UnitKind.parse_list(unit_kind)
    if unknown_kinds or not kinds:
        problems.append(
            Problem(
                N_(
                    "Unknown unit kind %(kind)r; use province, district, department, commune, ward, "
                    "special_zone or township (several separated by commas)."
                ),
                {"kind": ", ".join(unknown_kinds) if unknown_kinds else unit_kind},
            )
        )
    group_specs: list[GroupSpec] = []
    if groups:
        try:
            group_specs = parse_groups(groups)
        except ValidationError as error:
            problems += _literal_problems(error)
    parsed_bands = []
    if bands:
        try:
            parsed_bands = parse_bands(bands)
        except ValidationError as error:
            problems += _literal_problems(error)
    try:
        rows, metadata = read_framework_file(source, name=label)
    except SpreadsheetError as error:
        problems += error.problems
        rows, metadata = [], {}
    if problems:
        raise SpreadsheetError(problems, label)
    if index_capped is None:
        index_capped = metadata.get("index_cap") != INDEX_UNCAPPED
    if survey_optional is None:
        survey_optional = metadata.get("survey") == SURVEY_OPTIONAL
    try:
        with transaction.atomic():
            framework = framework_create(
                code=code,
                authority=authority_unit,
                unit_kind=kinds[0],
                unit_kinds=kinds,
                year=year,
                name=name,
                rows=rows,
                bands=parsed_bands,
                index_decimals=decimals,
                legal_basis=legal_basis,
                index_capped=index_capped,
                survey_optional=survey_optional,
                actor=actor,
                via=via,
            )
            if group_specs:
                framework_set_groups(framework=framework, groups=group_specs, actor=actor, via=via)
            return framework
    except ValidationError as error:
        raise SpreadsheetError(_literal_problems(error), label) from error


# --- assessment workbook ------------------------------------------------------------------------------

SELF, APPRAISAL = "self", "appraisal"

ASSESSMENT_COLUMNS = {
    SELF: (
        Column("code", ("Mã", "code", "Mã tiêu chí", "Mã số"), required=True, label="Mã"),
        Column(
            "points",
            ("Điểm tự đánh giá", "self_points", "self points", "Điểm tự chấm"),
            required=True,
            label="Điểm tự đánh giá",
        ),
        Column(
            "evidence",
            ("Tài liệu kiểm chứng", "evidence", "evidence_reference", "TLKC"),
            label="Tài liệu kiểm chứng",
        ),
        Column("note", ("Ghi chú", "note"), label="Ghi chú"),
        Column("raw", ("Số liệu", "raw", "raw figure", "self_raw"), label="Số liệu"),
        Column(
            "na_reason",
            ("Lý do không áp dụng", "not_applicable_reason", "not applicable reason"),
            label="Lý do không áp dụng",
        ),
    ),
    APPRAISAL: (
        Column("code", ("Mã", "code", "Mã tiêu chí", "Mã số"), required=True, label="Mã"),
        Column(
            "points",
            ("Điểm thẩm định", "appraised_points", "appraised points"),
            required=True,
            label="Điểm thẩm định",
        ),
        Column("reason", ("Lý do", "reason", "Lý do điều chỉnh", "appraisal_reason"), label="Lý do"),
        Column(
            "na_decision",
            (
                "Không áp dụng (thẩm định)",
                "not applicable (appraisal)",
                "appraised_not_applicable",
                "Quyết định không áp dụng",
            ),
            label="Không áp dụng (thẩm định)",
        ),
        Column("raw", ("Số liệu thẩm định", "Số liệu", "appraised_raw", "raw"), label="Số liệu"),
    ),
}

# Words of the appraisal workbook's "Không áp dụng (thẩm định)" column (compared without case or
# accents): confirm the unit's proposal, refuse it (the row's points are then the appraised points),
# or impose not applicable on a leaf the unit scored. The reason is the row's "Lý do".
NA_DECISION_WORDS = {
    **dict.fromkeys(map(normalize_name, ("xác nhận", "đồng ý", "confirm", "confirmed")), NA_CONFIRM),
    **dict.fromkeys(
        map(normalize_name, ("không chấp nhận", "không đồng ý", "từ chối", "refuse", "refused")), NA_REFUSE
    ),
    **dict.fromkeys(
        map(normalize_name, ("xác định không áp dụng", "áp đặt", "impose", "imposed")), NA_IMPOSE
    ),
}


def _raw_only(columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """The columns of a file that carries raw figures instead of points (`Mã` and `Số liệu`)."""
    return tuple(
        Column(c.key, c.names, required=c.key in ("code", "raw"), label=c.label)
        if c.key in ("points", "raw")
        else c
        for c in columns
    )


def _assessment_table(book, stage: str) -> Table:
    """The table of an assessment workbook: found by `Mã` and the points column, or, for a file that
    fills only raw figures, by `Mã` and `Số liệu`. The sheet's rows are read once: the second search
    reads the few rows the first one buffered (itertools.tee)."""
    sheet = book.first_sheet()
    rows, rows_again = itertools.tee(sheet._rows)
    formulas, formulas_again = (None, None) if sheet._formulas is None else itertools.tee(sheet._formulas)
    try:
        return find_table(
            Sheet(sheet.name, rows, sheet.hidden, formulas), ASSESSMENT_COLUMNS[stage], file_name=book.name
        )
    except SpreadsheetError as error:
        try:
            return find_table(
                Sheet(sheet.name, rows_again, sheet.hidden, formulas_again),
                _raw_only(ASSESSMENT_COLUMNS[stage]),
                file_name=book.name,
            )
        except SpreadsheetError:
            raise error from None


@dataclass
class AssessmentImport:
    """A validated assessment file, ready to apply."""

    framework: Framework
    unit: Unit
    stage: str
    self_entries: dict[str, SelfEntry] = field(default_factory=dict)
    appraisal_entries: dict[str, AppraisalEntry] = field(default_factory=dict)
    na_decisions: dict[str, NotApplicableDecision] = field(default_factory=dict)
    file_name: str = ""
    ignored_rows: int = 0
    sheet: str = ""
    cells: dict[tuple[str, str], str] = field(default_factory=dict)  # (criterion code, column key) → cell
    # What the check read once, for the preview to use rather than read again: the framework's
    # criteria by code in tree order, the unit's stored scores by code, and (self-assessment) the
    # changes scores_self_review found. Empty / None when the import was built some other way.
    criteria: dict[str, Criterion] = field(default_factory=dict, repr=False)
    scores: dict[str, Score] | None = field(default=None, repr=False)
    self_changes: list[tuple[str, str, object, object]] | None = field(default=None, repr=False)

    @property
    def count(self) -> int:
        return len(self.self_entries) + len(self.appraisal_entries) + len(self.na_decisions)

    def problems(self, error: ServiceError, known: list[Problem] = ()) -> list[Problem]:
        """A service's refusals placed on the cells of their criteria in this workbook."""
        return _placed(error.all(), self._locate, list(known), sheet=self.sheet)

    def _locate(self, error: ServiceError) -> str:
        if not error.criterion:
            return ""
        column = _FIELD_COLUMNS.get(error.field or "", "code")
        return (
            self.cells.get((error.criterion, column))
            or (self.cells.get((error.criterion, "note")) if column == "na_reason" else "")
            or self.cells.get((error.criterion, "points"))
            or self.cells.get((error.criterion, "raw"))
            or (self.cells.get((error.criterion, "code"), ""))
        )


# The column of the assessment workbook that holds each field a service may refuse.
_FIELD_COLUMNS = {
    "self_points": "points",
    "not_applicable": "points",
    "not_applicable_reason": "na_reason",
    "appraised_points": "points",
    "appraisal_reason": "reason",
    "appraised_not_applicable": "na_decision",
    "note": "note",
    "evidence_reference": "evidence",
    "raw": "raw",
}


def evidence_line(evidence: Evidence) -> str:
    """One piece of evidence attached on the web as a line of the template's evidence cell: "số
    12/QĐ-UBND, 05/03/2025, tr. 3, description", or "tệp bao-cao.pdf, description" for a file. The
    import knows these lines again (`typed_references`) and leaves that evidence as it is."""
    parts = []
    if evidence.file:
        parts.append(f"tệp {evidence.file.name.rsplit('/', 1)[-1]}")
    if evidence.document_number:
        parts.append(f"số {evidence.document_number}")
    if evidence.document_date:
        parts.append(evidence.document_date.strftime("%d/%m/%Y"))
    if evidence.page:
        parts.append(f"tr. {evidence.page}")
    if evidence.description:
        parts.append(evidence.description)
    return ", ".join(parts)


def evidence_lines(assessment: Assessment | None) -> dict[str, list[str]]:
    """By criterion code, the lines of the evidence attached on the web (one query)."""
    lines: dict[str, list[str]] = {}
    if assessment is None or not assessment.pk:
        return lines
    for evidence in (
        Evidence.objects.filter(score__assessment=assessment)
        .select_related("score__criterion")
        .order_by("created_at", "pk")
    ):
        lines.setdefault(evidence.score.criterion.code, []).append(evidence_line(evidence))
    return lines


def evidence_cell(reference: str, attached: list[str]) -> str:
    """The template's evidence cell: the references typed by the unit, then one line per piece of
    evidence attached on the web."""
    return "\n".join([reference, *attached] if reference else attached)


def typed_references(cell: str, attached: list[str]) -> str:
    """The references typed in an evidence cell: its lines without those of the evidence attached on
    the web (kept as they are: a file cannot travel in a cell, and it is removed on the web)."""
    known = {line.strip() for line in attached}
    return "\n".join(line for line in cell.splitlines() if line.strip() not in known).strip()


def read_metadata(book) -> dict[str, str]:
    """Key/value rows of the hidden "_parindex" sheet written by the template, if any."""
    sheet = book.sheet(METADATA_SHEET)
    if sheet is None:
        return {}
    return {
        cell_text(values[0]): cell_text(values[1]) if len(values) > 1 else ""
        for _number, values in sheet.rows()
        if values and values[0] is not None
    }


@_guarded
def read_assessment(
    source,
    *,
    framework: Framework,
    stage: str = SELF,
    unit_code: str | None = None,
    name: str | None = None,
    actor=None,
    for_assessment: Assessment | None = None,
) -> AssessmentImport:
    """Read and validate an assessment workbook; raises SpreadsheetError listing every problem.
    `actor`, when known, is checked as the services will check it (the unit's own officer must give
    a reason for each not-applicable mark). `for_assessment`: the assessment an upload is for, already
    read with its unit (the file must still name that unit); it is not looked up again."""
    if stage not in (SELF, APPRAISAL):
        raise ValueError(stage)
    with open_spreadsheet(source, name=name) as book:
        metadata = read_metadata(book)
        table = _assessment_table(book, stage)
        problems: list[Problem] = []
        known = for_assessment.unit if for_assessment is not None else None
        unit = _resolve_unit(table, metadata, framework, unit_code, problems, known=known)
        # The criteria and the unit's scores are read once here; the checks and the preview use them.
        ordered = list(Criterion.objects.filter(framework=framework).order_by("order"))
        criteria = {c.code: c for c in ordered}
        made_for = metadata.get("framework_version")
        if (
            made_for
            and metadata.get("framework", framework.code) == framework.code
            and (made_for != framework_version(framework, ordered))
        ):
            problems.append(
                Problem(
                    N_(
                        "Framework %(framework)s has changed since this workbook was made (criteria or maximum points "
                        "were edited). Download a new template and copy your entries into it."
                    ),
                    {"framework": framework.code},
                )
            )
        if for_assessment is not None and unit is not None and for_assessment.unit_id == unit.pk:
            assessment: Assessment | None = for_assessment
        else:
            assessment = Assessment.objects.filter(unit=unit, framework=framework).first() if unit else None
        current: dict[str, Score] = {}
        by_id: dict[int, Score] = {}
        if assessment is not None and unit is not None:
            assessment.unit, assessment.framework = unit, framework  # the same rows, already read
            by_pk = {c.pk: c for c in ordered}
            for stored in Score.objects.filter(assessment=assessment):
                stored.criterion = by_pk[stored.criterion_id]
                current[stored.criterion.code] = by_id[stored.criterion_id] = stored
        attached = evidence_lines(assessment)
        result = AssessmentImport(
            framework=framework,
            unit=unit,
            stage=stage,
            file_name=book.name,
            sheet=table.sheet,
            criteria=criteria,
            scores=current,
        )
        seen: dict[str, int] = {}
        for row in table.rows():
            code = criterion_code(row.get("code"))
            if not CODE_RE.match(code):
                continue  # empty, or a title, a total line or a note under the table: not a code
            criterion = criteria.get(code)
            if criterion is None:
                problems.append(
                    table.problem(
                        N_("Criterion %(code)s is not in framework %(framework)s."),
                        cell=row.cell("code"),
                        code=code,
                        framework=framework.code,
                    )
                )
                continue
            if code in seen:
                problems.append(
                    table.problem(
                        N_("Code %(code)s appears twice (first in row %(first)s)."),
                        cell=row.cell("code"),
                        code=code,
                        first=seen[code],
                    )
                )
                continue
            seen[code] = row.number
            scored_here = (
                (CriterionSource.SELF,) if stage == SELF else (CriterionSource.SELF, CriterionSource.OFFICE)
            )
            if not criterion.is_leaf or criterion.source not in scored_here:
                # Subtotals (often formulas), survey leaves, and office leaves in the unit's own file.
                result.ignored_rows += 1
                continue
            result.cells.update({(code, key): row.cell(key) for key in table.columns})
            # A leaf scored from its raw figure: the points cell is the template's computed display
            # (locked) and is not read when the file carries `Số liệu`, except for the N/A mark.
            by_raw = parse_rule(criterion.rule).takes_raw and table.has("raw")
            stored_keys = ("evidence", "note", "reason", "raw", "na_reason") + (() if by_raw else ("points",))
            formulas = [key for key in stored_keys if row.has_formula(key)]
            if formulas:
                problems += [_formula_problem(table, row, key) for key in formulas]
                continue
            raw = _raw_text(row.get("raw")) if table.has("raw") else ""
            if by_raw:
                points_value = row.get("points")
                value = (
                    NOT_APPLICABLE
                    if is_not_applicable_word(raw) or is_not_applicable_word(points_value)
                    else None
                )
            else:
                value, problem = (
                    _number_problem(table, row.cell("points"), row.get("points"))
                    if table.has("points")
                    else (None, None)
                )
                if problem:
                    problems.append(problem)
                    continue
                if is_not_applicable_word(raw):
                    value, raw = NOT_APPLICABLE, ""
            if value is NOT_APPLICABLE:
                raw = ""
            if stage == SELF:
                result.self_entries[code] = SelfEntry(
                    points=None if value is NOT_APPLICABLE else value,
                    not_applicable=value is NOT_APPLICABLE,
                    note=row.text("note") if table.has("note") else None,
                    evidence_reference=typed_references(row.text("evidence"), attached.get(code, []))
                    if table.has("evidence")
                    else None,
                    raw=raw or None,
                    not_applicable_reason=(row.text("na_reason") or None) if table.has("na_reason") else None,
                )
            else:
                decision_text = row.text("na_decision") if table.has("na_decision") else ""
                if decision_text:
                    decision = NA_DECISION_WORDS.get(normalize_name(decision_text))
                    if decision is None:
                        problems.append(
                            table.problem(
                                N_(
                                    "%(value)r is not a decision on not applicable; write xác nhận, "
                                    "không chấp nhận or xác định không áp dụng."
                                ),
                                cell=row.cell("na_decision"),
                                value=decision_text,
                            )
                        )
                    elif decision != NA_REFUSE and isinstance(value, Decimal):
                        problems.append(
                            table.problem(
                                N_(
                                    "Criterion %(code)s is decided not applicable; leave its appraised points empty."
                                ),
                                cell=row.cell("points"),
                                code=code,
                            )
                        )
                    else:
                        result.na_decisions[code] = NotApplicableDecision(
                            decision,
                            reason=row.text("reason"),
                            points=value if isinstance(value, Decimal) else None,
                        )
                    continue
                if value is NOT_APPLICABLE:
                    # The mark repeats what stands (the unit's proposal, or the appraiser's decision);
                    # deciding it takes the decision column.
                    score = current.get(code)
                    if score is not None and score.not_applicable and score.appraised_not_applicable is False:
                        problems.append(
                            table.problem(
                                N_(
                                    "The proposal to mark %(code)s not applicable was refused; give appraised points."
                                ),
                                cell=row.cell("points") if table.has("points") else row.cell("raw"),
                                code=code,
                            )
                        )
                    elif score is None or not score.is_not_applicable:
                        problems.append(
                            table.problem(
                                N_(
                                    "Criterion %(code)s is not marked not applicable by the unit; give appraised points."
                                ),
                                cell=row.cell("points") if table.has("points") else row.cell("raw"),
                                code=code,
                            )
                        )
                    continue
                result.appraisal_entries[code] = AppraisalEntry(
                    points=value, reason=row.text("reason"), raw=raw or None
                )
        if unit is None:
            refusals = [error for error in [framework_lock_error(framework)] if error]
        else:
            if stage == SELF:
                refusals, result.self_changes = scores_self_review(
                    unit=unit,
                    framework=framework,
                    entries=result.self_entries,
                    by_unit=_by_unit(actor, unit),
                    assessment=assessment,
                    criteria=criteria,
                    scores=by_id,
                )
            else:
                refusals = scores_appraisal_problems(
                    unit=unit, framework=framework, entries=result.appraisal_entries, actor=actor
                )
                if result.na_decisions:
                    refusals += not_applicable_problems(
                        unit=unit, framework=framework, decisions=result.na_decisions, actor=actor
                    )
            problems += _placed(refusals, result._locate, problems, sheet=table.sheet)
    if problems:
        raise SpreadsheetError(problems, book.name)
    return result


@dataclass(frozen=True)
class PreviewLine:
    """One change an import would make to a leaf: old → new. `field` "points" (Decimal, None, or
    NOT_APPLICABLE), or a text field of the self-assessment: "raw", "note", "evidence",
    "not_applicable_reason" (old and new are text)."""

    code: str
    title: str
    old: object
    new: object
    field: str = "points"


# The text fields of a self row as the preview names them (the service's field → preview field).
PREVIEW_TEXT_FIELDS = {
    "self_raw": "raw",
    "note": "note",
    "evidence_reference": "evidence",
    "not_applicable_reason": "not_applicable_reason",
}


def _current_scores(data: AssessmentImport) -> dict[str, Score]:
    """The unit's stored scores by criterion code: as the check read them, else read now."""
    if data.scores is not None:
        return data.scores
    return {
        s.criterion.code: s
        for s in Score.objects.filter(
            assessment__unit=data.unit, assessment__framework=data.framework
        ).select_related("criterion")
    }


def _self_preview(data: AssessmentImport, criteria: dict[str, Criterion]) -> list[PreviewLine]:
    """Every field saving a self-assessment file would change (scores_self_changes: the service's own
    answer), in tree order: the points (or the not-applicable mark), then each text field."""
    by_code: dict[str, dict[str, tuple[object, object]]] = {}
    changes = data.self_changes
    if changes is None:
        changes = scores_self_changes(unit=data.unit, framework=data.framework, entries=data.self_entries)
    for code, name, old, new in changes:
        by_code.setdefault(code, {})[name] = (old, new)
    current = _current_scores(data)
    lines = []
    for code, criterion in criteria.items():
        changed = by_code.get(code)
        if not changed:
            continue
        score = current.get(code) or Score()

        def shown(which: int, changed=changed, score=score) -> object:
            """The points as the row shows them before (0) or after (1): the mark, or the points."""
            na = changed["not_applicable"][which] if "not_applicable" in changed else score.not_applicable
            points = changed["self_points"][which] if "self_points" in changed else score.self_points
            return NOT_APPLICABLE if na else points

        if {"self_points", "not_applicable"} & set(changed) and shown(0) != shown(1):
            lines.append(PreviewLine(code, criterion.title, shown(0), shown(1)))
        for name, label in PREVIEW_TEXT_FIELDS.items():
            if name in changed:
                old, new = changed[name]
                lines.append(PreviewLine(code, criterion.title, old or "", new or "", label))
    return lines


def assessment_preview(data: AssessmentImport) -> list[PreviewLine]:
    """What an import would change, in tree order, for a confirmation page (old → new): for a
    self-assessment every field (points, raw figure, note, evidence, not-applicable mark and reason);
    for an appraisal the appraised points and decisions on not applicable."""
    criteria = data.criteria or {
        c.code: c for c in Criterion.objects.filter(framework=data.framework).order_by("order")
    }
    if data.stage == SELF:
        return _self_preview(data, criteria)
    current = _current_scores(data)
    lines = []
    for code, criterion in criteria.items():
        score = current.get(code)
        old: object
        new: object
        if data.stage == APPRAISAL and code in data.appraisal_entries:
            appraisal = data.appraisal_entries[code]
            new = entry_points(criterion, appraisal.points, appraisal.raw, points_field="appraised_points")[0]
            old = score.appraised_points if score else None
            # The reason is written with the points: the preview shows it whenever it changes.
            old_reason, new_reason = (
                (score.appraisal_reason if score else ""),
                (appraisal.reason or "").strip(),
            )
            if old != new:
                lines.append(PreviewLine(code, criterion.title, old, new))
            if old_reason != new_reason:
                lines.append(PreviewLine(code, criterion.title, old_reason, new_reason, "reason"))
            continue
        elif data.stage == APPRAISAL and code in data.na_decisions:
            decision = data.na_decisions[code]
            new = decision.points if decision.decision == NA_REFUSE else NOT_APPLICABLE
            old = (
                None
                if score is None
                else NOT_APPLICABLE
                if score.is_not_applicable
                else score.appraised_points
            )
        else:
            continue
        if old != new:
            lines.append(PreviewLine(code, criterion.title, old, new))
    return lines


def _resolve_unit(
    table: Table,
    metadata: dict,
    framework: Framework,
    unit_code: str | None,
    problems: list[Problem],
    known: Unit | None = None,
) -> Unit | None:
    """The unit of the workbook from --unit and/or the metadata; mismatches are problems. `known`: the
    unit the caller has already read (used when it is the one named)."""
    meta_unit = metadata.get("unit") or cell_text(preamble_value(table, "Mã đơn vị", "unit code", "unit"))
    meta_framework = metadata.get("framework") or cell_text(
        preamble_value(table, "Mã bộ chỉ số", "framework")
    )
    meta_year = metadata.get("year") or cell_text(preamble_value(table, "Năm", "year"))
    if meta_framework and meta_framework != framework.code:
        problems.append(
            Problem(
                N_("This workbook is for framework %(file)s, not %(framework)s."),
                {"file": meta_framework, "framework": framework.code},
            )
        )
    if meta_year and meta_year != str(framework.year):
        problems.append(
            Problem(
                N_("This workbook is for the year %(file)s, but framework %(framework)s is of %(year)s."),
                {"file": meta_year, "framework": framework.code, "year": framework.year},
            )
        )
    if unit_code and meta_unit and unit_code != meta_unit:
        problems.append(
            Problem(
                N_("This workbook belongs to unit %(file)s, not %(unit)s."),
                {"file": meta_unit, "unit": unit_code},
            )
        )
        return None
    code = unit_code or meta_unit
    if not code:
        problems.append(Problem(N_("The workbook does not name its unit; give the unit code (--unit).")))
        return None
    unit = known if known is not None and known.code == code else Unit.objects.filter(code=code).first()
    if unit is None:
        problems.append(Problem(N_("Unknown unit %(code)s."), {"code": code}))
        return None
    return unit


def _by_unit(actor, unit: Unit) -> bool:
    """Whether the actor enters the self-assessment as the unit's own officer (not on its behalf)."""
    return actor is not None and Membership.objects.filter(user=actor, unit=unit, role=Role.OFFICER).exists()


def apply_assessment(
    data: AssessmentImport,
    *,
    actor=None,
    via: str = Via.COMMAND,
    submit: bool = False,
    versions: Mapping[str, int | None] | None = None,
    expected: Mapping[str, Mapping[str, Any]] | None = None,
) -> ApplyResult:
    """Write a read assessment file through the services: all or nothing; their refusals are placed
    on the workbook's cells. With `submit` (self stage), the assessment is then submitted as the
    Submit button does (assessment_submit), in the same transaction: a refused submission keeps
    nothing of the import either. `versions` {code: the row's version when the file was previewed}:
    a row changed since is refused (scoring.concurrency.StaleEdit), nothing written. `expected` {code:
    the row's fields when the file was previewed (scoring.concurrency.row_snapshot)}: a row whose
    write would change a field changed since is refused, nothing written (an upload's confirm)."""
    versions = versions or {}
    expected = expected or {}
    if submit and data.stage != SELF:
        raise ValueError("only a self-assessment is submitted")
    try:
        with transaction.atomic():
            assessment = assessment_get_or_create(
                unit=data.unit, framework=data.framework, actor=actor, via=via
            )
            if data.stage == SELF:
                on_behalf = actor is not None and not _by_unit(actor, data.unit)
                result = scores_apply_self(
                    assessment=assessment,
                    entries=data.self_entries,
                    actor=actor,
                    via=via,
                    on_behalf=on_behalf,
                    versions={code: versions.get(code) for code in data.self_entries},
                    expected={code: expected[code] for code in data.self_entries if code in expected},
                )
                if submit:
                    assessment_submit(assessment=assessment, actor=actor, via=via)
                return result
            # Each row's version is checked by the one service that writes it first (each adds one).
            result = scores_apply_appraisal(
                assessment=assessment,
                entries=data.appraisal_entries,
                actor=actor,
                via=via,
                versions={code: versions.get(code) for code in data.appraisal_entries},
                expected={code: expected[code] for code in data.appraisal_entries if code in expected},
            )
            if data.na_decisions:
                decided = not_applicable_apply(
                    assessment=assessment,
                    decisions=data.na_decisions,
                    actor=actor,
                    via=via,
                    versions={
                        code: versions.get(code)
                        for code in data.na_decisions
                        if code not in data.appraisal_entries
                    },
                    expected={
                        code: expected[code]
                        for code in data.na_decisions
                        if code in expected and code not in data.appraisal_entries
                    },
                )
                result.changed += decided.changed
                result.unchanged += decided.unchanged
                result.changes += decided.changes
            return result
    except ServiceError as error:
        raise SpreadsheetError(data.problems(error), data.file_name) from error
    except ValidationError as error:
        raise SpreadsheetError(_literal_problems(error), data.file_name) from error


def import_assessment_file(
    source,
    *,
    framework: Framework,
    stage: str = SELF,
    unit_code: str | None = None,
    actor=None,
    via: str = Via.COMMAND,
    name: str | None = None,
):
    data = read_assessment(
        source, framework=framework, stage=stage, unit_code=unit_code, name=name, actor=actor
    )
    return data, apply_assessment(data, actor=actor, via=via)


# --- survey file ------------------------------------------------------------------------------------

SURVEY_UNIT_COLUMN = Column(
    "unit", ("Mã đơn vị", "unit", "unit code", "unit_code"), required=True, label="Mã đơn vị"
)
SURVEY_IGNORED_HEADERS = {
    normalize_name(n)
    for n in (
        "Tên đơn vị",
        "name",
        "unit name",
        "STT",
        "TT",
        "Ghi chú",
        "note",
        "Tổng",
        "Tổng điểm",
        "Tổng cộng",
        "total",
    )
}
_HEADER_CODE = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")
_OFFICIAL_HEADER_CODE = re.compile(r"^([A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*)\.?(?:\s|$)")
# How the file's values are written, in the rows above the header ("Cách nhập | phần trăm").
SURVEY_MODE_LABELS = ("Cách nhập", "Đơn vị tính", "mode", "as")
SURVEY_MODES = {
    **dict.fromkeys(
        map(normalize_name, ("phần trăm", "tỷ lệ", "tỷ lệ %", "%", "percent", "percentage")), True
    ),
    **dict.fromkeys(map(normalize_name, ("điểm", "points", "point")), False),
}


@dataclass
class SurveyImport:
    framework: Framework
    entries: dict[str, dict[str, Decimal | None | NotApplicable]]
    file_name: str = ""
    sheet: str = ""
    # (unit code, criterion code) → cell; ("", code) is the criterion's header, (unit, "") the unit's code
    cells: dict[tuple[str, str], str] = field(default_factory=dict)
    as_percent: bool = False  # the values are percentages satisfied, converted by the `percent` rule
    samples: dict[str, dict[str, int | None]] = field(default_factory=dict)  # unit → code → sample size
    sample_cells: dict[tuple[str, str], str] = field(default_factory=dict)

    def problems(self, error: ServiceError, known: list[Problem] = ()) -> list[Problem]:
        """A service's refusals placed on the cells of their unit and criterion in this file."""
        return _placed(error.all(), self._locate, list(known), sheet=self.sheet)

    def stored_values(self) -> dict[str, dict[str, object]]:
        """The values as they will be stored (percentages converted to points), for a preview."""
        if not self.as_percent:
            return dict(self.entries)
        maxima = dict(
            Criterion.objects.filter(
                framework=self.framework, code__in={c for values in self.entries.values() for c in values}
            ).values_list("code", "max_points")
        )
        percent = Rule(kind=PERCENT)
        return {
            unit: {
                code: percent.points(str(value), maxima[code]) if isinstance(value, Decimal) else value
                for code, value in values.items()
            }
            for unit, values in self.entries.items()
        }

    def _locate(self, error: ServiceError) -> str:
        unit = str(error.message_params.get("unit", ""))
        if error.field == "survey_sample":
            return self.sample_cells.get((unit, error.criterion or ""), "")
        return self.cells.get((unit, error.criterion or ""), "")


def _survey_mode(table: Table, as_percent: bool | None, problems: list[Problem]) -> bool:
    """Points or percentages: as the command or form says, else as the file says (points by default);
    a file that says otherwise than the command is refused rather than read the wrong way."""
    declared = preamble_value(table, *SURVEY_MODE_LABELS)
    in_file = None
    if declared is not None:
        in_file = SURVEY_MODES.get(normalize_name(cell_text(declared)))
        if in_file is None:
            problems.append(
                Problem(
                    N_("%(value)r is not a way of writing survey results; write điểm or phần trăm."),
                    {"value": cell_text(declared)},
                    sheet=table.sheet,
                )
            )
    if as_percent is not None and in_file is not None and in_file != as_percent:
        problems.append(
            Problem(
                N_("The file says its values are percentages, but they are imported as points.")
                if in_file
                else N_("The file says its values are points, but they are imported as percentages."),
                sheet=table.sheet,
            )
        )
    if as_percent is not None:
        return as_percent
    return bool(in_file)


def _sample_problem(table: Table, cell: str, value) -> tuple[int | None, Problem | None]:
    try:
        number = parse_decimal(value)
    except NotANumber:
        number = Decimal(-1)
    if number is None:
        return None, None
    if number < 1 or number != number.to_integral_value():
        return None, table.problem(
            N_("%(value)r is not a sample size (a whole number of people surveyed)."),
            cell=cell,
            value=cell_text(value),
        )
    return int(number), None


@_guarded
def read_survey(
    source, *, framework: Framework, name: str | None = None, as_percent: bool | None = None
) -> SurveyImport:
    """Read and validate a survey file: points, or percentages satisfied (`as_percent`, or the file's
    own "Cách nhập | phần trăm"), a not-applicable mark per unit and criterion, and optional sample
    sizes ("Cỡ mẫu" for the row, "Cỡ mẫu <code>" for one criterion)."""
    with open_spreadsheet(source, name=name) as book:
        table = find_table(book.first_sheet(), (SURVEY_UNIT_COLUMN,), file_name=book.name)
        problems: list[Problem] = []
        criteria = {c.code: c for c in Criterion.objects.filter(framework=framework)}
        code_columns: dict[int, Criterion] = {}
        sample_columns: dict[int, Criterion | None] = {}  # None: the row's sample size
        unit_index = table.columns["unit"]
        data = SurveyImport(framework, {}, book.name, sheet=table.sheet)
        data.as_percent = _survey_mode(table, as_percent, problems)
        for index, value in table.headers:
            if index == unit_index:
                continue
            text = cell_text(value)
            cell = f"{column_letter(index)}{table.header_row}"
            sample_code = _sample_code(text)
            if sample_code is not None:
                if sample_code == "":
                    sample_columns[index] = None
                    continue
                criterion = criteria.get(sample_code)
                if criterion is None or not criterion.is_leaf or criterion.source != CriterionSource.SURVEY:
                    problems.append(
                        table.problem(
                            N_("Criterion %(code)s is not a survey criterion."), cell=cell, code=sample_code
                        )
                    )
                else:
                    sample_columns[index] = criterion
                continue
            match = _HEADER_CODE.match(text) or _official_header_code(text, criteria)
            if not match:
                if normalize_name(text) not in SURVEY_IGNORED_HEADERS:
                    problems.append(
                        table.problem(
                            N_("Column %(name)r is neither a survey criterion code nor a known column."),
                            cell=cell,
                            name=text,
                        )
                    )
                continue
            criterion = criteria.get(match.group(1))
            if criterion is None:
                problems.append(
                    table.problem(
                        N_("Criterion %(code)s is not in framework %(framework)s."),
                        cell=cell,
                        code=match.group(1),
                        framework=framework.code,
                    )
                )
            elif criterion in code_columns.values():
                problems.append(
                    table.problem(N_("Criterion %(code)s has two columns."), cell=cell, code=criterion.code)
                )
            else:
                code_columns[index] = criterion
                data.cells[("", criterion.code)] = cell
        if not code_columns and not problems:
            problems.append(Problem(N_("The file has no survey criterion columns."), sheet=table.sheet))
        rows = list(table.rows())
        unit_codes = {row.text("unit") for row in rows}
        known_units = set(Unit.objects.filter(code__in=unit_codes).values_list("code", flat=True))
        first_row: dict[str, int] = {}
        for row in rows:
            code = row.text("unit")
            if not code:
                if any(row.at(i) is not None for i in code_columns):
                    problems.append(table.problem(N_("The unit code is missing."), cell=row.cell("unit")))
                continue
            if code not in known_units:
                problems.append(table.problem(N_("Unknown unit %(code)s."), cell=row.cell("unit"), code=code))
                continue
            if code in first_row:
                problems.append(
                    table.problem(
                        N_("Unit %(code)s appears twice (first in row %(first)s)."),
                        cell=row.cell("unit"),
                        code=code,
                        first=first_row[code],
                    )
                )
                continue
            first_row[code] = row.number
            data.cells[(code, "")] = row.cell("unit")
            values: dict[str, Decimal | None | NotApplicable] = {}
            for index, criterion in code_columns.items():
                cell = f"{column_letter(index)}{row.number}"
                data.cells[(code, criterion.code)] = cell
                if index in row.formulas:
                    problems.append(
                        table.problem(
                            N_(
                                "The cell holds a formula; formulas are not accepted here. Type the value itself."
                            ),
                            cell=cell,
                        )
                    )
                    continue
                raw = row.at(index)
                if data.as_percent and isinstance(raw, str) and raw.strip().endswith("%"):
                    raw = raw.strip()[:-1]  # "85,5%" is 85,5 when the file holds percentages
                value, problem = _number_problem(table, cell, raw)
                if problem:
                    problems.append(problem)
                else:
                    values[criterion.code] = value
            data.entries[code] = values
            samples: dict[str, int | None] = {}
            # The row's own "Cỡ mẫu" first; a column of one criterion overrides it for that criterion.
            for index, criterion in sorted(sample_columns.items(), key=lambda item: item[1] is not None):
                cell = f"{column_letter(index)}{row.number}"
                size, problem = _sample_problem(table, cell, row.at(index))
                if problem:
                    problems.append(problem)
                    continue
                if size is None:
                    continue
                for leaf in [criterion] if criterion is not None else list(code_columns.values()):
                    samples[leaf.code] = size
                    data.sample_cells[(code, leaf.code)] = cell
            if samples:
                data.samples[code] = samples
        problems += _placed(
            survey_problems(
                framework=framework, entries=data.entries, as_percent=data.as_percent, samples=data.samples
            ),
            data._locate,
            problems,
            sheet=table.sheet,
        )
    if problems:
        raise SpreadsheetError(problems, book.name)
    return data


def _official_header_code(header: str, criteria: dict[str, Criterion]) -> re.Match | None:
    """The code at the start of a survey column's header when the framework numbers its criteria
    its own way ("a1", "a1. Hài lòng …"): only a code of the framework counts, so that a header word
    such as "Ghi chú" is never taken for one."""
    match = _OFFICIAL_HEADER_CODE.match(header.strip())
    return match if match and match.group(1) in criteria else None


def _sample_code(header: str) -> str | None:
    """ "" for a "Cỡ mẫu" column, the criterion code for "Cỡ mẫu 8.1", None for any other header."""
    words = header.strip().split()
    for label in (("cỡ", "mẫu"), ("sample", "size"), ("sample",)):
        n = len(label)
        if tuple(normalize_name(w) for w in words[:n]) == tuple(normalize_name(w) for w in label):
            rest = " ".join(words[n:]).strip().rstrip(".")
            if not rest:
                return ""
            return rest if CODE_RE.match(rest) else None
    return None


def apply_survey(
    data: SurveyImport,
    *,
    actor=None,
    via: str = Via.COMMAND,
    versions: Mapping[str, Mapping[str, int | None]] | None = None,
    expected: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> ApplyResult:
    """Write a read survey file through survey_apply: all or nothing; its refusals are placed on the
    file's cells. `versions` {unit code: {code: version when previewed}} and `expected` {unit code:
    {code: the row's fields when previewed}} as survey_apply takes them."""
    try:
        return survey_apply(
            framework=data.framework,
            entries=data.entries,
            as_percent=data.as_percent,
            samples=data.samples,
            actor=actor,
            via=via,
            versions=versions,
            expected=expected,
        )
    except ServiceError as error:
        raise SpreadsheetError(data.problems(error), data.file_name) from error


def import_survey_file(
    source,
    *,
    framework: Framework,
    actor=None,
    via: str = Via.COMMAND,
    name: str | None = None,
    as_percent: bool | None = None,
) -> tuple[SurveyImport, ApplyResult]:
    data = read_survey(source, framework=framework, name=name, as_percent=as_percent)
    return data, apply_survey(data, actor=actor, via=via)
