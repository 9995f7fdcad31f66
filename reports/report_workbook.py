"""The comparative report workbook: cover, ranking with a bar chart of the index, areas,
year on year, points lost per criterion and appraisal differences.

Every figure comes from the stored results through the selectors the dashboard reads
(scoring.results.selectors.ranking and criteria_tree), so the workbook and the dashboard always agree. The
reads are a fixed handful of queries whatever the number of units (`report_data`); the sheets are then
written from memory.

The ranking says what the annexes say (reports.annex.content, whose rules it reuses): the parts of the
points with their maxima in the headers, one section per ranking group closed by its "Giá trị trung
bình" row, the change columns of whatever framework it is compared with, merged units named by their
predecessors' names, and no "provisional" column once the framework is published.

Written with openpyxl in write-only mode: each sheet is a list of columns (title, width, number
format) and rows of values; the styles of a column are built once, and every row is streamed out
once with them (no cell objects kept, no second pass for number formats). Text goes through
parindex.csv_export.protect_text_cells, so a name never turns into a formula.
"""

from collections import defaultdict
from collections.abc import Iterable
from copy import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from parindex.csv_export import is_formula_like, protect_text_cells
from parindex.numbers import round_half_up
from scoring.frameworks.selectors import CriteriaTree, criteria_tree
from scoring.models import (
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Framework,
    Score,
    appraisal_difference,
)
from scoring.results.engine import previous_framework
from scoring.results.selectors import Ranking, RankingLine, ranking, survey_left_out

SHEET_COVER = "Thông tin"
SHEET_RANKING = "Xếp hạng"
SHEET_AREAS = "Theo lĩnh vực"
SHEET_YEARS = "So sánh năm"
SHEET_LOST = "Điểm bị trừ"
SHEET_APPRAISAL = "Thẩm định"

POINTS_FORMAT = "0.00"
PERCENT_FORMAT = "0.0"
ZERO = Decimal("0")
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE7F0")
WRAP = Alignment(wrap_text=True, vertical="top")


def index_format(decimals: int) -> str:
    return "0" if decimals <= 0 else "0." + "0" * decimals


# --- reads --------------------------------------------------------------------------------------------


@dataclass
class LostLine:
    code: str
    title: str
    area: str
    max_points: Decimal
    counted: int
    losing: int
    lost: Decimal

    @property
    def average(self) -> Decimal:
        return (self.lost / self.counted).quantize(Decimal("0.01")) if self.counted else ZERO

    @property
    def share(self) -> Decimal | None:
        """Percent of the possible points (max × units counted) that were lost."""
        possible = self.max_points * self.counted
        return (self.lost * 100 / possible).quantize(Decimal("0.1")) if possible else None


@dataclass
class DifferenceLine:
    unit_code: str
    unit_name: str
    code: str
    title: str
    kind: str
    self_points: Decimal | None
    appraised_points: Decimal
    reason: str

    @property
    def difference(self) -> Decimal:
        return appraisal_difference(self.self_points, self.appraised_points) or ZERO


@dataclass
class ReportData:
    framework: Framework
    compare: Framework | None
    ranking: Ranking
    areas: list[Criterion]
    years: list  # reports.annex.content.YearRow, one per line
    lost: list[LostLine]
    differences: list[DifferenceLine]
    # The framework compared with: the one asked for, else the previous year's (whose figures the
    # results store; `years` then holds them, also for units whose predecessors were assessed).
    compared: Framework | None = None
    parts: list = field(default_factory=list)  # reports.annex.content.PartColumn: the parts it has
    total_max: Decimal = ZERO  # the maximum of the score leaves ("Tổng điểm (100)")

    @property
    def lines(self) -> list[RankingLine]:
        return self.ranking.lines

    @property
    def ranked(self) -> int:
        return self.ranking.ranked


def report_data(framework: Framework, compare: Framework | None) -> ReportData:
    """Everything the workbook shows, in a fixed number of queries whatever the number of units.
    The parts, their maxima and the year on year (names of predecessors) are the annexes' own
    (reports.annex.content), so the workbook and the annexes cannot disagree."""
    from reports.annex import content

    lines = ranking(framework)  # 2 queries
    tree = criteria_tree(framework)  # 1 query
    compared = compare if compare is not None else previous_framework(framework)
    return ReportData(
        framework=framework,
        compare=compare,
        ranking=lines,
        areas=tree.scored_areas,  # bonus and penalty areas have no area result
        # Against the framework asked for, else the stored previous-year figures (the dashboard's).
        years=content.year_rows(framework, compare, lines.lines),
        lost=_points_lost(framework, tree, len(lines)),
        differences=_differences(framework),
        compared=compared,
        parts=content.part_columns(tree),
        total_max=content.score_maximum(tree),
    )


def _points_lost(framework: Framework, tree: CriteriaTree, units: int) -> list[LostLine]:
    """Points lost per scored criterion across all units: Σ (max − final points) over the units for
    which the leaf is applicable; a leaf left without a score counts as 0 points. The survey leaves of
    a unit whose optional survey the engine left out are not applicable to it either. Two queries."""
    leaves = [leaf for leaf in tree.leaves if leaf.kind == CriterionKind.SCORE]
    left_out = survey_left_out(framework)
    final = Coalesce("appraised_points", "self_points", Value(ZERO))
    # Not applicable as the results count it (Score.is_not_applicable): the appraiser's decision, else
    # the unit's proposal.
    counted = Q(effective_na=False)
    full = counted & (
        Q(appraised_points__gte=F("criterion__max_points"))
        | Q(appraised_points=None, self_points__gte=F("criterion__max_points"))
    )
    sums = {
        row["criterion_id"]: row
        for row in Score.objects.filter(assessment__framework=framework, criterion__in=[c.pk for c in leaves])
        .exclude(criterion__source=CriterionSource.SURVEY, assessment_id__in=left_out)
        .alias(effective_na=Score.is_not_applicable_expression())
        .values("criterion_id")
        .annotate(
            rows=Count("id"),
            na=Count("id", filter=Q(effective_na=True)),
            full=Count("id", filter=full),
            final=Sum(final, filter=counted),
        )
        .order_by()
    }
    lines = []
    for leaf in leaves:
        row = sums.get(leaf.pk, {"rows": 0, "na": 0, "full": 0, "final": None})
        applicable = units - row["na"] - (len(left_out) if leaf.source == CriterionSource.SURVEY else 0)
        lost = leaf.max_points * applicable - (row["final"] or ZERO)
        area = tree.area_of(leaf) if leaf.area_id and leaf.area_id != leaf.pk else None
        lines.append(
            LostLine(
                code=leaf.code,
                title=leaf.title,
                area=f"{area.code}. {area.title}" if area else "",
                max_points=leaf.max_points,
                counted=applicable,
                losing=applicable - row["full"],
                lost=Decimal(lost).quantize(Decimal("0.01")),
            )
        )
    lines.sort(key=lambda item: (-item.lost, _code_key(item.code)))
    return lines


def _differences(framework: Framework) -> list[DifferenceLine]:
    """Self-assessed leaves whose appraised points differ from the unit's own (one query)."""
    rows = (
        Score.objects.alias(effective_na=Score.is_not_applicable_expression())
        .filter(
            assessment__framework=framework,
            criterion__source=CriterionSource.SELF,
            effective_na=False,
            appraised_points__isnull=False,
        )
        .filter(Q(self_points__isnull=True) | ~Q(self_points=F("appraised_points")))
        .order_by("assessment__unit__code", "criterion__order")
        .values_list(
            "assessment__unit__code",
            "assessment__unit__name",
            "criterion__code",
            "criterion__title",
            "criterion__kind",
            "self_points",
            "appraised_points",
            "appraisal_reason",
        )
    )
    return [DifferenceLine(*row) for row in rows]


def _code_key(code: str) -> tuple:
    return tuple(int(part) for part in code.split(".") if part.isdigit())


# --- writing --------------------------------------------------------------------------------------------


SIGNED_POINTS = "+0.00;-0.00;0.00"
HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _signed(number_format: str) -> str:
    return f"+{number_format};-{number_format};{number_format}"


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    number_format: str | None = None
    wrap: bool = False


class Bold(list):
    """A row written in bold: a ranking group's caption, its average row."""


@dataclass
class SheetSpec:
    """One sheet: its columns and its rows of values, and how it is laid out. `above`: rows over the
    header (written like it, e.g. the areas' titles, merged across their columns with `merged`)."""

    title: str
    columns: list[Column]
    rows: Iterable[list]
    above: list[list] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    header: bool = True
    table: bool = True  # frozen header, autofilter, header printed on every page
    heights: dict[int, float] = field(default_factory=dict)
    filter_columns: int | None = None  # the autofilter's width (default: every column)


class _StyledCell(Cell):
    """A write-only cell carrying a column's style. openpyxl tells such a cell from a plain value by
    trying it as a value and catching the ValueError, whose message formats the cell's repr: a
    constant repr keeps that to the exception alone (a third of the writing time otherwise)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<Cell>"


def _styled_cell(ws, value=None) -> Cell:
    return _StyledCell(worksheet=ws, column=1, row=1, value=value)


class _Styles:
    """The styles of a sheet's columns, built once per column: one reusable cell per column for the
    body and one for bold rows (openpyxl writes a write-only row as soon as it is appended, so the
    same cell object can carry the next row's value), and the header's."""

    def __init__(self, ws, columns: list[Column]):
        self.ws = ws
        self.body = [self._cell(column.number_format, column.wrap, bold=False) for column in columns]
        self.bold = [self._cell(column.number_format, column.wrap, bold=True) for column in columns]
        self.headers = [self._header() for _column in columns]

    def _cell(self, number_format: str | None, wrap: bool, *, bold: bool) -> Cell | None:
        if not (number_format or wrap or bold):
            return None  # a plain value: openpyxl's own unstyled cell
        cell = _styled_cell(self.ws)
        if number_format:
            cell.number_format = number_format
        if wrap:
            cell.alignment = WRAP
        if bold:
            cell.font = HEADER_FONT
        return cell

    def _header(self) -> Cell:
        cell = _styled_cell(self.ws)
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGNMENT
        return cell

    def row(self, values: list, styles: list) -> list:
        """The row as ws.append takes it: plain values where the column has no style, the column's
        styled cell carrying the value otherwise."""
        out = list(values)
        if len(values) > len(styles):
            styles = [*styles, *[None] * (len(values) - len(styles))]
        for index, (value, style) in enumerate(zip(values, styles, strict=False)):
            if value is None:
                continue
            if type(value) is str and is_formula_like(value):
                # Text Excel would take for a formula: its own cell, through the one guard on text.
                cell = _styled_cell(self.ws, value)
                if style is not None:
                    cell._style = copy(style._style)
                protect_text_cells((cell,))
                out[index] = cell
            elif style is not None:
                style.value = value
                out[index] = style
        return out

    def header_row(self, titles: list) -> list:
        return self.row(titles, self.headers)


def _write(wb: Workbook, spec: SheetSpec) -> tuple:
    """Write one sheet in a single pass. Layout that openpyxl writes before the rows (column widths,
    frozen panes) is set first; the autofilter and the print setup after, knowing the last row."""
    ws = wb.create_sheet(spec.title)
    header_rows = len(spec.above) + (1 if spec.header else 0)
    for number, column in enumerate(spec.columns, start=1):
        ws.column_dimensions[get_column_letter(number)].width = column.width
    for row, height in spec.heights.items():
        ws.row_dimensions[row].height = height
    if spec.table and header_rows:
        ws.freeze_panes = f"{'C' if len(spec.columns) > 3 else 'A'}{header_rows + 1}"
    styles = _Styles(ws, spec.columns)
    for values in spec.above:
        ws.append(styles.header_row(values))
    if spec.header:
        ws.append(styles.header_row([column.title for column in spec.columns]))
    last = header_rows
    for values in spec.rows:
        ws.append(styles.row(values, styles.bold if isinstance(values, Bold) else styles.body))
        last += 1
    for ref in spec.merged:
        ws.merged_cells.add(ref)
    if spec.table and header_rows:
        width = spec.filter_columns or len(spec.columns)
        ws.auto_filter.ref = f"A{header_rows}:{get_column_letter(width)}{max(last, header_rows)}"
    _print_setup(ws, header_rows if spec.table else 0)
    return ws, last


def _print_setup(ws, header_rows: int = 0) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"


def _when(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def _cover(data: ReportData, generated_by: str, generated_at) -> SheetSpec:
    fw = data.framework
    provisional = sum(1 for line in data.lines if line.provisional)
    compared = data.compared
    rows = [
        (_("Framework"), f"{fw.code} — {fw.name}"),
        (_("Year"), fw.year),
        (_("Authority"), fw.authority.name),
        (_("Status"), fw.get_status_display()),
        (_("Decision number"), fw.decision_number or "—"),
        (_("Decision date"), _when(fw.decision_date) or "—"),
        (_("Compared with"), f"{compared.code} — {compared.name}" if compared else "—"),
        (_("Units"), len(data.lines)),
        (_("Units ranked"), data.ranked),
        (_("Provisional results"), provisional),
        (_("Results computed at"), _when(fw.results_computed_at)),
        (_("Generated at"), _when(generated_at)),
        (_("Generated by"), generated_by or "—"),
    ]
    note = _(
        "Figures are the stored results, as shown on the dashboard. Provisional results may still change "
        "until the units are appraised."
    )
    return SheetSpec(
        SHEET_COVER,
        [Column("", 26), Column("", 70)],
        [
            Bold([_("Comparative report of the PAR index")]),
            [],
            *(Bold([label, value]) for label, value in rows),
        ]
        + [[], [note]],
        header=False,
        table=False,
    )


def _ranking_columns(data: ReportData) -> tuple[list[Column], bool]:
    """The columns of the ranking: the parts with their maxima in the headers (as the annexes), then
    the total, index, grade, the provisional flag until the framework is published, the changes
    against the framework compared with, the group and why a unit is not ranked."""
    from reports.annex.content import maximum

    fmt = index_format(data.framework.index_decimals)
    provisional = not data.framework.is_published
    columns = [Column(_("Rank"), 7), Column(_("Unit code"), 12), Column(_("Unit"), 34)]
    columns += [
        Column(f"{part.label} ({maximum(part.max_points)})", 12, POINTS_FORMAT) for part in data.parts
    ]
    columns += [
        Column(f"{_('Points')} ({maximum(data.total_max)})", 10, POINTS_FORMAT),
        Column(_("Max points"), 10),  # maxima as the annexes write them: "68.5", "100"
        Column(_("Index"), 10, fmt),
        Column(_("Grade"), 14),
    ]
    if provisional:
        columns.append(Column(_("Provisional"), 11))
    columns += [
        Column(_("Change in points"), 11, SIGNED_POINTS),
        Column(_("Change in index"), 11, _signed(fmt)),
        Column(_("Places gained"), 10),
        # The ranking group the place is held in, and why a unit assessed is not ranked.
        Column(_("Ranking group"), 14),
        Column(_("Not ranked: reason"), 24),
    ]
    return columns, provisional


def _ranking_rows(data: ReportData, provisional: bool) -> Iterable[list]:
    """Group by group (the annex's tables): a caption row when the framework has groups, the units
    (ranked, then those not ranked), and the group's average row over the units holding a place."""
    from reports.annex.content import AVERAGE, group_averages

    years = {row.line.unit_id: row for row in data.years}
    places = data.framework.index_decimals
    yes = _("yes")
    for name, lines in data.ranking.groups():
        if name:
            yield Bold([f"{_('Ranking group')}: {name}"])
        for line in lines:
            year = years.get(line.unit_id)
            yield [
                line.rank,
                line.unit_code,
                line.unit_name,
                *(line.parts[part.position] for part in data.parts),
                line.points,
                line.max_points,
                line.index,
                line.grade or None,
                *([yes if line.provisional else None] if provisional else []),
                year.points_change if year else None,
                year.index_change if year else None,
                year.rank_change if year else None,
                line.group,
                None if line.ranked else line.not_ranked_reason or _("not ranked"),
            ]
        average = group_averages(lines, data.parts)
        yield Bold(
            [
                None,
                None,
                AVERAGE,
                *(None if value is None else round_half_up(value, 2) for value in average.parts),
                None if average.points is None else round_half_up(average.points, 2),
                None,
                None if average.index is None else round_half_up(average.index, places),
            ]
        )


def _ranking(wb: Workbook, data: ReportData) -> None:
    columns, provisional = _ranking_columns(data)
    ws, last = _write(wb, SheetSpec(SHEET_RANKING, columns, _ranking_rows(data, provisional)))
    if data.lines:
        index_column = 3 + len(data.parts) + 3
        chart = BarChart()
        chart.type = "col"
        chart.title = _("Index by unit")
        chart.y_axis.title = _("Index")
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.legend = None
        chart.add_data(Reference(ws, min_col=index_column, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=3, min_row=2, max_row=last))
        chart.width = max(18, min(60, len(data.lines) * 0.6))
        chart.height = 9
        ws.add_chart(chart, f"{get_column_letter(len(columns) + 2)}2")


def _areas(data: ReportData) -> SheetSpec:
    fmt = index_format(data.framework.index_decimals)
    columns = [Column(_("Rank"), 7), Column(_("Unit code"), 12), Column(_("Unit"), 34)]
    subtitles = [
        (_("Points"), POINTS_FORMAT),
        (_("Max points"), None),
        (_("Index"), fmt),
        (_("Rank"), None),
    ]
    above: list = [None] * 3
    merged = []
    for area in data.areas:
        first = len(columns) + 1
        above += [f"{area.code}. {area.title}"] + [None] * (len(subtitles) - 1)
        merged.append(f"{get_column_letter(first)}1:{get_column_letter(first + len(subtitles) - 1)}1")
        columns += [Column(title, 9, number_format) for title, number_format in subtitles]

    def rows():
        for line in data.lines:
            by_code = {a.code: a for a in line.areas}
            values = [line.rank, line.unit_code, line.unit_name]
            for area in data.areas:
                a = by_code.get(area.code)
                values += [a.points, a.max_points, a.index, a.rank] if a else [None] * 4
            yield values

    return SheetSpec(SHEET_AREAS, columns, rows(), above=[above], merged=merged, heights={1: 45})


def _years(data: ReportData) -> SheetSpec:
    fmt = index_format(data.framework.index_decimals)
    if data.compared is None and all(year.previous_points is None for year in data.years):
        return SheetSpec(
            SHEET_YEARS, [Column("", 60)], [[_("No framework to compare with.")]], header=False, table=False
        )
    this = data.framework.year
    other = data.compared.year if data.compared is not None else this - 1
    columns = [
        Column(_("Rank"), 7),
        Column(_("Unit code"), 12),
        Column(_("Unit"), 34),
        # Whose figures of the other year a merged unit is compared with: its predecessors, by name.
        Column(_("Compared with"), 24),
        Column(_("Points %(year)s") % {"year": this}, 10, POINTS_FORMAT),
        Column(_("Points %(year)s") % {"year": other}, 10, POINTS_FORMAT),
        Column(_("Change in points"), 10, SIGNED_POINTS),
        Column(_("Index %(year)s") % {"year": this}, 10, fmt),
        Column(_("Index %(year)s") % {"year": other}, 10, fmt),
        Column(_("Change in index"), 10, _signed(fmt)),
        Column(_("Rank %(year)s") % {"year": this}, 9),
        Column(_("Rank %(year)s") % {"year": other}, 9),
        Column(_("Places gained"), 9),
    ]
    rows = (
        [
            year.line.rank,
            year.line.unit_code,
            year.line.unit_name,
            "; ".join(year.compared_with) or None,
            year.line.points,
            year.previous_points,
            year.points_change,
            year.line.index,
            year.previous_index,
            year.index_change,
            year.line.rank,
            year.previous_rank,
            year.rank_change,
        ]
        for year in data.years
    )
    return SheetSpec(SHEET_YEARS, columns, rows)


def _lost(data: ReportData) -> SheetSpec:
    columns = [
        Column(_("Code"), 9),
        Column(_("Criterion"), 60, wrap=True),
        Column(_("Area"), 30),
        Column(_("Max points"), 10),
        Column(_("Units counted"), 10),
        Column(_("Units losing points"), 10),
        Column(_("Points lost"), 11, POINTS_FORMAT),
        Column(_("Average lost per unit"), 11, POINTS_FORMAT),
        Column(_("Share of possible points lost (%)"), 12, PERCENT_FORMAT),
    ]
    rows = (
        [
            item.code,
            item.title,
            item.area,
            item.max_points,
            item.counted,
            item.losing,
            item.lost,
            item.average,
            item.share,
        ]
        for item in data.lost
    )
    return SheetSpec(SHEET_LOST, columns, rows)


def _appraisal(data: ReportData) -> SheetSpec:
    """Per criterion where appraisal changed the unit's points (columns A–I, with the autofilter), and
    beside it the per-unit summary (columns K–Q), row by row."""
    columns = [
        Column(_("Unit code"), 12),
        Column(_("Unit"), 28),
        Column(_("Code"), 9),
        Column(_("Criterion"), 50, wrap=True),
        Column(_("Kind"), 9),
        Column(_("Self-assessed points"), 11, POINTS_FORMAT),
        Column(_("Appraised points"), 11, POINTS_FORMAT),
        Column(_("Difference"), 10, SIGNED_POINTS),
        Column(_("Appraisal reason"), 40),
    ]
    summary = [
        Column(_("Rank"), 7),
        Column(_("Unit code"), 12),
        Column(_("Unit"), 28),
        Column(_("Status"), 14),
        Column(_("Self-assessed points"), 11, POINTS_FORMAT),
        Column(_("Change by appraisal"), 11, SIGNED_POINTS),
        Column(_("Criteria changed"), 10),
    ]
    kinds = dict(CriterionKind.choices)
    statuses = dict(AssessmentStatus.choices)
    per_unit: dict[str, list[DifferenceLine]] = defaultdict(list)
    for item in data.differences:
        per_unit[item.unit_code].append(item)

    def rows():
        for number in range(max(len(data.differences), len(data.lines))):
            values: list = [None] * (len(columns) + 1)
            if number < len(data.differences):
                item = data.differences[number]
                values[: len(columns)] = [
                    item.unit_code,
                    item.unit_name,
                    item.code,
                    item.title,
                    str(kinds.get(item.kind, item.kind)),
                    item.self_points,
                    item.appraised_points,
                    item.difference,
                    item.reason or None,
                ]
            if number < len(data.lines):
                line = data.lines[number]
                changes = per_unit.get(line.unit_code, [])
                values += [
                    line.rank,
                    line.unit_code,
                    line.unit_name,
                    str(statuses.get(line.status, line.status)),
                    line.self_points,
                    sum((c.difference for c in changes if c.kind == CriterionKind.SCORE), ZERO),
                    len(changes),
                ]
            yield values

    # The autofilter covers the differences only.
    return SheetSpec(
        SHEET_APPRAISAL, [*columns, Column("", 3), *summary], rows(), filter_columns=len(columns)
    )


STEPS = 7  # reads + six sheets: progress is reported after each


def build_workbook(
    framework: Framework,
    compare: Framework | None = None,
    *,
    generated_by: str = "",
    generated_at=None,
    progress=None,
) -> Workbook:
    """The workbook of one framework (optionally compared with another), in write-only mode: save it
    once. `progress(percent)` is called after the reads and after each sheet."""
    report = progress or (lambda percent: None)
    data = report_data(framework, compare)
    report(100 // STEPS)
    return write_workbook(data, generated_by=generated_by, generated_at=generated_at, progress=report)


def write_workbook(data: ReportData, *, generated_by: str = "", generated_at=None, progress=None) -> Workbook:
    """The sheets of the report from its data (build_workbook reads it first)."""
    report = progress or (lambda percent: None)
    wb = Workbook(write_only=True)
    writers = [
        lambda: _write(wb, _cover(data, generated_by, generated_at or timezone.now())),
        lambda: _ranking(wb, data),
        lambda: _write(wb, _areas(data)),
        lambda: _write(wb, _years(data)),
        lambda: _write(wb, _lost(data)),
        lambda: _write(wb, _appraisal(data)),
    ]
    for step, write in enumerate(writers, start=2):
        write()
        report(min(99, 100 * step // STEPS))
    wb.active = 1  # open on the ranking
    return wb


def sheet_rows(data: ReportData) -> list[tuple[str, list[list]]]:
    """The values of every sheet's rows (headers included), as build_workbook writes them: what the
    benchmark's floor writes without any styling."""
    specs = [
        _cover(data, "", timezone.now()),
        SheetSpec(SHEET_RANKING, *_ranking_spec_parts(data)),
        _areas(data),
        _years(data),
        _lost(data),
        _appraisal(data),
    ]
    out = []
    for spec in specs:
        rows = [list(row) for row in spec.above]
        if spec.header:
            rows.append([column.title for column in spec.columns])
        rows += [list(row) for row in spec.rows]
        out.append((spec.title, rows))
    return out


def _ranking_spec_parts(data: ReportData) -> tuple[list[Column], Iterable[list]]:
    columns, provisional = _ranking_columns(data)
    return columns, _ranking_rows(data, provisional)
