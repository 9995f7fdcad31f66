"""The comparative report workbook: cover, ranking with a bar chart of the index, areas,
year on year, points lost per criterion and appraisal differences.

Every figure comes from the stored results through the selectors the dashboard reads
(scoring.results.selectors.ranking and criteria_tree), so the workbook and the dashboard always agree. The
reads are a fixed handful of queries whatever the number of units (`report_data`); the sheets are then
written from memory.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from parindex.csv_export import protect_sheet
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
from scoring.results.selectors import Ranking, RankingLine, parts_header, ranking, survey_left_out
from units.models import Unit

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
class YearLine:
    line: RankingLine
    compared_with: list[str]
    previous_points: Decimal | None
    previous_index: Decimal | None
    previous_rank: int | None
    points_change: Decimal | None
    index_change: Decimal | None
    rank_change: int | None


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
    years: list[YearLine]
    lost: list[LostLine]
    differences: list[DifferenceLine]

    @property
    def lines(self) -> list[RankingLine]:
        return self.ranking.lines

    @property
    def ranked(self) -> int:
        return self.ranking.ranked


def report_data(framework: Framework, compare: Framework | None) -> ReportData:
    """Everything the workbook shows, in a fixed number of queries (8 with a comparison)."""
    lines = ranking(framework)  # 2 queries
    tree = criteria_tree(framework)  # 1 query
    return ReportData(
        framework=framework,
        compare=compare,
        ranking=lines,
        areas=tree.scored_areas,  # bonus and penalty areas have no area result
        years=_year_lines(framework, compare, lines.lines) if compare else [],
        lost=_points_lost(framework, tree, len(lines)),
        differences=_differences(framework),
    )


def _year_lines(framework: Framework, compare: Framework, lines: list[RankingLine]) -> list[YearLine]:
    """Year on year for every unit, following mergers: the unit's own result in the compared
    framework, else its predecessors' (one: its figures; several: points averaged, index pooled).

    When the compared framework is the previous year's, the stored previous_* figures are used as
    they are (they are what the dashboard shows); for any other framework they are derived here
    with the same rule from that framework's stored results."""
    places = framework.index_decimals
    idx = lambda value: None if value is None else round_half_up(value, places)  # noqa: E731
    before = {line.unit_id: line for line in ranking(compare, with_areas=False)}  # 1 query
    predecessors: dict[int, list[int]] = defaultdict(list)
    for unit_id, predecessor_id in Unit.predecessors.through.objects.filter(  # 1 query
        from_unit_id__in=[line.unit_id for line in lines]
    ).values_list("from_unit_id", "to_unit_id"):
        predecessors[unit_id].append(predecessor_id)
    use_stored = previous_framework(framework) == compare  # 1 query
    previous_indices = sorted((r.index for r in before.values() if r.index is not None), reverse=True)
    result = []
    for line in lines:
        unit_id = line.unit_id
        refs = (
            [before[unit_id]]
            if unit_id in before
            else [before[p] for p in predecessors.get(unit_id, ()) if p in before]
        )
        refs.sort(key=lambda r: r.unit_code)
        codes = [r.unit_code for r in refs]
        if use_stored:
            result.append(
                YearLine(
                    line,
                    codes,
                    line.previous_points,
                    line.previous_index,
                    line.previous_rank,
                    line.points_change,
                    line.index_change,
                    line.rank_change,
                )
            )
            continue
        prev_points = prev_index = prev_rank = None
        if len(refs) == 1:
            prev_points, prev_index, prev_rank = refs[0].points, idx(refs[0].index), refs[0].rank
        elif refs:
            pooled_points = sum((r.points for r in refs), ZERO)
            prev_points = round_half_up(pooled_points / len(refs), 2)
            pooled_max = sum((r.max_points for r in refs), ZERO)
            if pooled_max > 0:
                prev_index = round_half_up(pooled_points * 100 / pooled_max, places)
                own = [r.index for r in refs if r.index is not None]
                prev_rank = (
                    1
                    + sum(1 for i in previous_indices if i > prev_index)
                    - sum(1 for i in own if i > prev_index)
                )
        result.append(
            YearLine(
                line,
                codes,
                prev_points,
                prev_index,
                prev_rank,
                None if prev_points is None else line.points - prev_points,
                None if prev_index is None or line.index is None else line.index - prev_index,
                None if prev_rank is None or line.rank is None else prev_rank - line.rank,
            )
        )
    return result


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


def _header(ws, row: int, titles: list[str], widths: list[int] | None = None) -> None:
    for column, title in enumerate(titles, start=1):
        cell = ws.cell(row=row, column=column, value=title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for column, width in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(column)].width = width


def _formats(ws, first_row: int, last_row: int, formats: dict[int, str]) -> None:
    for column, number_format in formats.items():
        for (cell,) in ws.iter_rows(min_row=first_row, max_row=last_row, min_col=column, max_col=column):
            cell.number_format = number_format


def _table(ws, header_rows: int, columns: int, last_row: int) -> None:
    """Frozen header, autofilter and A4 landscape print setup with the header repeated on every page."""
    ws.freeze_panes = ws.cell(row=header_rows + 1, column=3 if columns > 3 else 1)
    ws.auto_filter.ref = f"A{header_rows}:{get_column_letter(columns)}{max(last_row, header_rows)}"
    _print_setup(ws, header_rows)


def _print_setup(ws, header_rows: int = 0) -> None:
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
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


def _cover(ws, data: ReportData, generated_by: str, generated_at) -> None:
    fw = data.framework
    ws.title = SHEET_COVER
    ws["A1"] = _("Comparative report of the PAR index")
    ws["A1"].font = Font(bold=True, size=14)
    provisional = sum(1 for line in data.lines if line.provisional)
    rows = [
        (_("Framework"), f"{fw.code} — {fw.name}"),
        (_("Year"), fw.year),
        (_("Authority"), fw.authority.name),
        (_("Status"), fw.get_status_display()),
        (_("Decision number"), fw.decision_number or "—"),
        (_("Decision date"), _when(fw.decision_date) or "—"),
        (_("Compared with"), f"{data.compare.code} — {data.compare.name}" if data.compare else "—"),
        (_("Units"), len(data.lines)),
        (_("Units ranked"), data.ranked),
        (_("Provisional results"), provisional),
        (_("Results computed at"), _when(fw.results_computed_at)),
        (_("Generated at"), _when(generated_at)),
        (_("Generated by"), generated_by or "—"),
    ]
    for offset, (label, value) in enumerate(rows, start=3):
        ws.cell(row=offset, column=1, value=label).font = HEADER_FONT
        ws.cell(row=offset, column=2, value=value).alignment = Alignment(horizontal="left")
    note_row = 3 + len(rows) + 1
    ws.cell(
        row=note_row,
        column=1,
        value=_(
            "Figures are the stored results, as shown on the dashboard. Provisional results may still change "
            "until the units are appraised."
        ),
    )
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 70
    _print_setup(ws)


def _ranking(ws, data: ReportData) -> None:
    fmt = index_format(data.framework.index_decimals)
    ws.title = SHEET_RANKING
    titles = [
        _("Rank"),
        _("Unit code"),
        _("Unit"),
        _("Points"),
        _("Max points"),
        _("Index"),
        _("Grade"),
        _("Provisional"),
        _("Change in points"),
        _("Change in index"),
        _("Places gained"),
        *parts_header(),  # the parts of the points, whose total is "Points"
        # The ranking group the place is held in, and why a unit assessed is not ranked.
        _("Ranking group"),
        _("Not ranked: reason"),
    ]
    _header(ws, 1, titles, [7, 12, 34, 10, 10, 10, 14, 11, 11, 11, 10, 12, 10, 10, 10, 10, 14, 24])
    yes = _("yes")
    for line in data.lines:
        ws.append(
            [
                line.rank,
                line.unit_code,
                line.unit_name,
                line.points,
                line.max_points,
                line.index,
                line.grade or None,
                yes if line.provisional else None,
                line.points_change,
                line.index_change,
                line.rank_change,
                *line.parts,
                line.group,
                None if line.ranked else line.not_ranked_reason or _("not ranked"),
            ]
        )
    last = len(data.lines) + 1
    _formats(
        ws,
        2,
        last,
        {
            4: POINTS_FORMAT,
            5: POINTS_FORMAT,
            6: fmt,
            9: "+0.00;-0.00;0.00",
            10: f"+{fmt};-{fmt};{fmt}",
            **dict.fromkeys(range(12, 17), POINTS_FORMAT),
        },
    )
    _table(ws, 1, len(titles), last)
    if data.lines:
        chart = BarChart()
        chart.type = "col"
        chart.title = _("Index by unit")
        chart.y_axis.title = _("Index")
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.legend = None
        chart.add_data(Reference(ws, min_col=6, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=3, min_row=2, max_row=last))
        chart.width = max(18, min(60, len(data.lines) * 0.6))
        chart.height = 9
        ws.add_chart(chart, f"{get_column_letter(len(titles) + 2)}2")


def _areas(ws, data: ReportData) -> None:
    fmt = index_format(data.framework.index_decimals)
    ws.title = SHEET_AREAS
    fixed = [_("Rank"), _("Unit code"), _("Unit")]
    subtitles = [_("Points"), _("Max points"), _("Index"), _("Rank")]
    titles = fixed + subtitles * len(data.areas)
    _header(ws, 2, titles, [7, 12, 34] + [9] * (len(titles) - 3))
    for offset, area in enumerate(data.areas):
        first = 4 + offset * len(subtitles)
        cell = ws.cell(row=1, column=first, value=f"{area.code}. {area.title}")
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.merge_cells(start_row=1, start_column=first, end_row=1, end_column=first + len(subtitles) - 1)
    ws.row_dimensions[1].height = 45
    formats = {}
    for number in range(len(data.areas)):
        first = 4 + number * len(subtitles)
        formats.update({first: POINTS_FORMAT, first + 1: POINTS_FORMAT, first + 2: fmt})
    for line in data.lines:
        by_code = {a.code: a for a in line.areas}
        values = [line.rank, line.unit_code, line.unit_name]
        for area in data.areas:
            a = by_code.get(area.code)
            values += [a.points, a.max_points, a.index, a.rank] if a else [None] * 4
        ws.append(values)
    last = len(data.lines) + 2
    _formats(ws, 3, last, formats)
    _table(ws, 2, len(titles), last)


def _years(ws, data: ReportData) -> None:
    fmt = index_format(data.framework.index_decimals)
    ws.title = SHEET_YEARS
    if data.compare is None:
        ws["A1"] = _("No framework to compare with.")
        _print_setup(ws)
        return
    this, other = data.framework.year, data.compare.year
    titles = [
        _("Rank"),
        _("Unit code"),
        _("Unit"),
        _("Compared with"),
        _("Points %(year)s") % {"year": this},
        _("Points %(year)s") % {"year": other},
        _("Change in points"),
        _("Index %(year)s") % {"year": this},
        _("Index %(year)s") % {"year": other},
        _("Change in index"),
        _("Rank %(year)s") % {"year": this},
        _("Rank %(year)s") % {"year": other},
        _("Places gained"),
    ]
    _header(ws, 1, titles, [7, 12, 34, 18, 10, 10, 10, 10, 10, 10, 9, 9, 9])
    for year in data.years:
        line = year.line
        ws.append(
            [
                line.rank,
                line.unit_code,
                line.unit_name,
                "; ".join(year.compared_with) or None,
                line.points,
                year.previous_points,
                year.points_change,
                line.index,
                year.previous_index,
                year.index_change,
                line.rank,
                year.previous_rank,
                year.rank_change,
            ]
        )
    last = len(data.years) + 1
    _formats(
        ws,
        2,
        last,
        {
            5: POINTS_FORMAT,
            6: POINTS_FORMAT,
            7: "+0.00;-0.00;0.00",
            8: fmt,
            9: fmt,
            10: f"+{fmt};-{fmt};{fmt}",
        },
    )
    _table(ws, 1, len(titles), last)


def _lost(ws, data: ReportData) -> None:
    ws.title = SHEET_LOST
    titles = [
        _("Code"),
        _("Criterion"),
        _("Area"),
        _("Max points"),
        _("Units counted"),
        _("Units losing points"),
        _("Points lost"),
        _("Average lost per unit"),
        _("Share of possible points lost (%)"),
    ]
    _header(ws, 1, titles, [9, 60, 30, 10, 10, 10, 11, 11, 12])
    for item in data.lost:
        ws.append(
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
        )
    last = len(data.lost) + 1
    _formats(ws, 2, last, {4: POINTS_FORMAT, 7: POINTS_FORMAT, 8: POINTS_FORMAT, 9: PERCENT_FORMAT})
    for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=2, max_col=2):
        cell.alignment = WRAP
    _table(ws, 1, len(titles), last)


def _appraisal(ws, data: ReportData) -> None:
    """Per criterion where appraisal changed the unit's points (columns A–I, with the autofilter), and
    beside it the per-unit summary (columns K–Q)."""
    ws.title = SHEET_APPRAISAL
    titles = [
        _("Unit code"),
        _("Unit"),
        _("Code"),
        _("Criterion"),
        _("Kind"),
        _("Self-assessed points"),
        _("Appraised points"),
        _("Difference"),
        _("Appraisal reason"),
    ]
    _header(ws, 1, titles, [12, 28, 9, 50, 9, 11, 11, 10, 40])
    kinds = dict(CriterionKind.choices)
    for item in data.differences:
        ws.append(
            [
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
        )
    last = len(data.differences) + 1
    _formats(ws, 2, last, {6: POINTS_FORMAT, 7: POINTS_FORMAT, 8: "+0.00;-0.00;0.00"})
    for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=4, max_col=4):
        cell.alignment = WRAP
    _table(ws, 1, len(titles), last)

    per_unit: dict[str, list[DifferenceLine]] = defaultdict(list)
    for item in data.differences:
        per_unit[item.unit_code].append(item)
    first = len(titles) + 2
    summary = [
        _("Rank"),
        _("Unit code"),
        _("Unit"),
        _("Status"),
        _("Self-assessed points"),
        _("Change by appraisal"),
        _("Criteria changed"),
    ]
    for offset, title in enumerate(summary):
        cell = ws.cell(row=1, column=first + offset, value=title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(first + offset)].width = [7, 12, 28, 14, 11, 11, 10][offset]
    statuses = dict(AssessmentStatus.choices)
    for row, line in enumerate(data.lines, start=2):
        changes = per_unit.get(line.unit_code, [])
        score_change = sum((c.difference for c in changes if c.kind == CriterionKind.SCORE), ZERO)
        values = [
            line.rank,
            line.unit_code,
            line.unit_name,
            str(statuses.get(line.status, line.status)),
            line.self_points,
            score_change,
            len(changes),
        ]
        for offset, value in enumerate(values):
            cell = ws.cell(row=row, column=first + offset, value=value)
            if offset == 4:
                cell.number_format = POINTS_FORMAT
            elif offset == 5:
                cell.number_format = "+0.00;-0.00;0.00"
    _print_setup(ws, 1)


STEPS = 7  # reads + six sheets: progress is reported after each


def build_workbook(
    framework: Framework,
    compare: Framework | None = None,
    *,
    generated_by: str = "",
    generated_at=None,
    progress=None,
) -> Workbook:
    """The workbook of one framework (optionally compared with another). `progress(percent)` is
    called after the reads and after each sheet."""
    report = progress or (lambda percent: None)
    data = report_data(framework, compare)
    report(100 // STEPS)
    wb = Workbook()
    writers = [
        (lambda ws: _cover(ws, data, generated_by, generated_at or timezone.now())),
        (lambda ws: _ranking(ws, data)),
        (lambda ws: _areas(ws, data)),
        (lambda ws: _years(ws, data)),
        (lambda ws: _lost(ws, data)),
        (lambda ws: _appraisal(ws, data)),
    ]
    for step, write in enumerate(writers, start=2):
        write(wb.active if step == 2 else wb.create_sheet())
        report(min(99, 100 * step // STEPS))
    wb.active = 1  # open on the ranking
    for ws in wb.worksheets:
        protect_sheet(ws)  # names, titles and reasons never turn into formulas (the sheets have none)
    return wb
