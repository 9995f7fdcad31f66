"""Reads for the leaders' dashboards, all from the stored results (scoring.results.engine).

Every function runs a fixed number of queries whatever the number of units: rows are read with one
query each (values() or select_related) and put together in Python by id. The scope of a user (the
units under their authority) is a prefix filter on the unit path, applied inside those queries. The
ranking and the criteria tree are scoring's selectors' (the same reads as the report workbook and
`manage.py ranking`).
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from django.core.cache import cache
from django.db.models import Avg, Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.functional import Promise

from parindex.numbers import round_half_up
from reports.models import RemediationItem, RemediationStatus
from scoring.access import Reach, authority_condition
from scoring.frameworks.selectors import CriteriaTree, criteria_tree
from scoring.models import (
    AreaResult,
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Framework,
    FrameworkStatus,
    GradeBand,
    RankingGroup,
    Score,
    appraisal_difference,
)
from scoring.results.selectors import RankingLine, ranking, ranking_results, survey_left_out
from units.models import Unit, UnitKind

T = TypeVar("T")

# Colours of the grades, best band first (green → red); a framework with more bands reuses the last.
GRADE_COLOURS = ["#1e7b34", "#5a9e2f", "#0b5cad", "#c98a00", "#b3261e", "#7a1712"]
NO_GRADE_COLOUR = "#9aa5b1"
# The same colours as CSS classes (static/css/dashboards.css .tone-*): the pages colour a swatch with a
# class, never a style attribute, which the Content-Security-Policy forbids.
GRADE_TONES = {colour: f"tone-{i}" for i, colour in enumerate(GRADE_COLOURS)} | {NO_GRADE_COLOUR: "tone-none"}
STATUS_ORDER = [
    AssessmentStatus.DRAFT,
    AssessmentStatus.SUBMITTED,
    AssessmentStatus.RETURNED,
    AssessmentStatus.APPRAISED,
    AssessmentStatus.PUBLISHED,
]
STATUS_COLOURS = {
    AssessmentStatus.DRAFT: "#9aa5b1",
    AssessmentStatus.SUBMITTED: "#0b5cad",
    AssessmentStatus.RETURNED: "#c98a00",
    AssessmentStatus.APPRAISED: "#1e7b34",
    AssessmentStatus.PUBLISHED: "#6b4fa8",
}


# --- scope ------------------------------------------------------------------------------------------


def subtree_condition(under: Unit | None, path_field: str) -> Q:
    return Q(**{f"{path_field}__startswith": under.path}) if under is not None else Q()


def subtree_choices(framework: Framework, r: Reach) -> list[Unit]:
    """Units under the framework's authority that group other units (provinces, districts): the
    "area under the authority" a leader may narrow the dashboards to. One query."""
    return list(
        Unit.objects.filter(path__startswith=framework.authority.path, children__isnull=False)
        .filter(authority_condition(r, "path"))
        .distinct()
        .order_by("path")
    )


RESULTS_CACHE_SECONDS = 3600


def by_results_version(framework: Framework, name: str, compute: Callable[[], T]) -> T:
    """`compute()` once per version of the framework's results: kept in the cache under the time the
    results were last brought up to date (`results_computed_at`, which a whole recompute and every
    ranking job after saves move on), so that a page of 3,321 units does not aggregate every area or
    score row of the framework on each request. Reads that follow the results within the ranking
    job's delay (about a second); anything else is read fresh."""
    version = framework.results_computed_at
    if version is None:
        return compute()
    key = f"parindex:results:{framework.pk}:{version.timestamp()}:{name}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=RESULTS_CACHE_SECONDS)
    return value


def _index(value: Decimal | float | int | str | None, places: int) -> Decimal | None:
    return None if value is None else round_half_up(Decimal(value), places)


# --- ranking (scoring.results.selectors.ranking, as the dashboards show it) ----------------------------------


def units_shown(r: Reach, under: Unit | None = None) -> QuerySet[Unit]:
    """The units a dashboard shows: those under the user's authority, optionally one subtree of them."""
    return Unit.objects.filter(authority_condition(r, "path")).filter(subtree_condition(under, "path"))


DASHBOARD_PAGE_SIZE = 100  # rows a page of the ranking and the progress table
HEATMAP_PAGE_SIZE = 50  # units a page of the areas heatmap (a cell per area each: 400 cells for 8 areas)


def name_or_code_condition(q: str, prefix: str = "") -> Q:
    """Units whose name or code holds `q`. SQLite folds the case of ASCII letters only: the usual
    spellings of a Vietnamese name ("đông sơn", "Đông Sơn", "ĐÔNG SƠN") are tried as well, so that
    "đông" finds "Phường Đông Sơn" there too."""
    condition = Q(**{f"{prefix}code__icontains": q})
    for spelling in dict.fromkeys([q, q.lower(), q.title(), q.upper()]):
        condition |= Q(**{f"{prefix}name__icontains": spelling})
    return condition


def former_district_condition(district: Unit, prefix: str = "") -> Q:
    """Units of a former district: its children, and the units merged (2025) from one of its units."""
    through = Unit.predecessors.through
    return Q(**{f"{prefix}parent": district}) | Q(
        Exists(through.objects.filter(from_unit_id=OuterRef(f"{prefix}pk"), to_unit__parent=district))
    )


@dataclass(frozen=True)
class DashboardFilters:
    """What a dashboard's rows are narrowed to, besides the user's authority and the subtree: a part
    of the name or code, the unit kind, a former district, the ranking group, the grade, the status
    (progress). Ranks stay those of the whole framework."""

    q: str = ""
    kind: str = ""
    district: Unit | None = None
    group: str = ""
    grade: str = ""
    status: str = ""

    def units(self, r: Reach, under: Unit | None = None) -> QuerySet[Unit]:
        units = units_shown(r, under)
        if self.q:
            units = units.filter(name_or_code_condition(self.q))
        if self.kind:
            units = units.filter(kind=self.kind)
        if self.district is not None:
            units = units.filter(former_district_condition(self.district))
        return units

    def query(self) -> dict[str, str]:
        """The filters as GET parameters (the page links and the exports keep them)."""
        pairs = {
            "q": self.q,
            "kind": self.kind,
            "district": self.district.code if self.district else "",
            "group": self.group,
            "grade": self.grade,
            "status": self.status,
        }
        return {key: value for key, value in pairs.items() if value}


def district_choices(subtrees: list[Unit]) -> list[Unit]:
    """The former districts a dashboard may be narrowed to: the districts among the subtrees (units
    that group others) of the framework under the user's authority. No query."""
    return sorted((u for u in subtrees if u.kind == UnitKind.DISTRICT), key=lambda u: u.name)


def grade_colours(bands: list[GradeBand]) -> dict[str, str]:
    return {band.name: GRADE_COLOURS[min(i, len(GRADE_COLOURS) - 1)] for i, band in enumerate(bands)}


def grade_colour(grade: str, colours: dict[str, str]) -> str:
    return colours.get(grade, NO_GRADE_COLOUR)


def colour_tone(colour: str) -> str:
    """The CSS class of a grade colour (GRADE_TONES)."""
    return GRADE_TONES.get(colour, GRADE_TONES[NO_GRADE_COLOUR])


def default_framework(frameworks: list[Framework]) -> Framework | None:
    """The framework a page opens on when none is asked for: the one published last (the results the
    office has just announced), else the first given (the newest)."""
    published = [f for f in frameworks if f.status == FrameworkStatus.PUBLISHED and f.published_at]
    if published:
        return max(published, key=lambda f: (f.published_at, f.year))
    return frameworks[0] if frameworks else None


def framework_bands(framework: Framework) -> list[GradeBand]:
    return list(GradeBand.objects.filter(framework=framework).order_by("-min_index"))


@dataclass
class GradeCount:
    name: str
    min_index: Decimal | None
    count: int
    colour: str

    @property
    def tone(self) -> str:
        return colour_tone(self.colour)


def grade_distribution(rows: list[RankingLine], bands: list[GradeBand]) -> list[GradeCount]:
    counts = Counter(row.grade for row in rows if row.index is not None)
    colours = grade_colours(bands)
    lines = [GradeCount(b.name, b.min_index, counts.pop(b.name, 0), colours[b.name]) for b in bands]
    ungraded = sum(counts.values()) + sum(1 for row in rows if row.index is None)
    if ungraded:
        lines.append(GradeCount("", None, ungraded, NO_GRADE_COLOUR))
    return lines


def grade_distribution_of(results: QuerySet[AssessmentResult], bands: list[GradeBand]) -> list[GradeCount]:
    """grade_distribution of the results a page's filters select, from one GROUP BY grade (the page
    shows one page of rows, the distribution and the count are those of all of them)."""
    counts: Counter = Counter()
    ungraded = 0
    for grade, units, indexed in (
        results.order_by().values_list("grade").annotate(units=Count("pk"), indexed=Count("index"))
    ):
        counts[grade] += indexed
        ungraded += units - indexed
    colours = grade_colours(bands)
    lines = [GradeCount(b.name, b.min_index, counts.pop(b.name, 0), colours[b.name]) for b in bands]
    ungraded += sum(counts.values())
    if ungraded:
        lines.append(GradeCount("", None, ungraded, NO_GRADE_COLOUR))
    return lines


# --- areas ------------------------------------------------------------------------------------------


@dataclass
class AreaCell:
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    rank: int | None
    colour: str = ""
    ranked: int = 0  # units ranked in the area (the N of "rank 3/15")
    title: str = ""  # the hover text of the heatmap's cell (set by the page)
    text: str = ""  # the index as the heatmap's cell writes it (set by the page)

    @property
    def heat(self) -> str:
        """The CSS class of the cell's colour (heat_class)."""
        return heat_class(self.index)


@dataclass
class AreaColumn:
    id: int
    code: str
    title: str
    max_points: Decimal
    average_points: Decimal | None = None
    average_index: Decimal | None = None
    ranked: int = 0


@dataclass
class AreaMatrix:
    areas: list[AreaColumn]
    rows: list[tuple[RankingLine, list[AreaCell | None]]]
    total: int | None = None  # the rows in all, when `rows` is a page (None: a page past the end)


# A heatmap cell is coloured by its index in bands of 10 (0-9 … 90-99, 100): a finite set of CSS classes
# (static/css/dashboards.css .heat-0 … .heat-10), since the Content-Security-Policy forbids style attributes.
HEAT_BANDS = 11


def heat_band(index: Decimal | None) -> int | None:
    if index is None:
        return None
    share = max(Decimal(0), min(Decimal(100), Decimal(index)))
    return int(share // 10)


def heat_class(index: Decimal | None) -> str:
    band = heat_band(index)
    return "" if band is None else f"heat-{band}"


def heat_colour(index: Decimal | None) -> str:
    """Background of a heatmap cell: red (0) through amber to green (100), light enough for text; the
    colour of the cell's band (heat_class), as static/css/dashboards.css gives it."""
    band = heat_band(index)
    if band is None:
        return ""
    hue = band * 125 // (HEAT_BANDS - 1)
    return f"hsl({hue}, 70%, 82%)"


def framework_areas(framework: Framework, tree: CriteriaTree | None = None) -> list[AreaColumn]:
    """The framework's scored areas (depth 0, kind score) with the framework-wide average of each
    area's points and index and how many units are ranked in it. Two queries."""
    places = framework.index_decimals

    def read_averages() -> dict:
        return {
            row["area_id"]: row
            for row in AreaResult.objects.filter(framework=framework)
            .values("area_id")
            .annotate(
                avg_points=Avg("points"),
                avg_index=Avg("index"),
                ranked=Count("id", filter=Q(rank__isnull=False)),
            )
        }

    averages = by_results_version(framework, "area-averages", read_averages)
    columns = []
    for area in (tree or criteria_tree(framework)).scored_areas:
        avg = averages.get(area.pk, {})
        columns.append(
            AreaColumn(
                id=area.pk,
                code=area.code,
                title=area.title,
                max_points=area.max_points,
                average_points=_index(avg.get("avg_points"), 2),
                average_index=_index(avg.get("avg_index"), places),
                ranked=avg.get("ranked", 0),
            )
        )
    return columns


def filtered_results(
    framework: Framework, r: Reach, under: Unit | None, filters: DashboardFilters
) -> QuerySet[AssessmentResult]:
    """The stored results a dashboard's rows are: under the user's authority (and the subtree),
    narrowed by the filters; for their count and grade distribution."""
    return ranking_results(
        framework,
        units=filters.units(r, under),
        group=filters.group or None,
        grade=filters.grade or None,
    )


def area_matrix(
    framework: Framework,
    r: Reach,
    under: Unit | None = None,
    *,
    filters: DashboardFilters | None = None,
    offset: int = 0,
    limit: int | None = None,
    columns: list[AreaColumn] | None = None,
) -> AreaMatrix:
    """Units × areas of a framework (the ranking's lines, narrowed by `filters`, `limit` of them from
    `offset`): points, index and rank per area. Four queries."""
    filters = filters or DashboardFilters()
    areas = columns if columns is not None else framework_areas(framework)
    board = ranking(
        framework,
        units=filters.units(r, under),
        group=filters.group or None,
        grade=filters.grade or None,
        offset=offset,
        limit=limit,
    )
    lines = board.lines
    ranked = {area.id: area.ranked for area in areas}
    rows = []
    for line in lines:
        cells = {
            a.area_id: AreaCell(
                a.points, a.max_points, a.index, a.rank, heat_colour(a.index), ranked.get(a.area_id, 0)
            )
            for a in line.areas
        }
        rows.append((line, [cells.get(area.id) for area in areas]))
    return AreaMatrix(areas, rows, board.total)


# --- unit profile -----------------------------------------------------------------------------------


@dataclass
class YearPoint:
    year: int
    framework: Framework
    unit_code: str
    unit_name: str
    own: bool  # False: a predecessor's result, before the merger
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    rank: int | None
    ranked: int
    grade: str
    provisional: bool
    assessment_id: int
    previous_index: Decimal | None = (
        None  # stored year-on-year reference (pooled predecessors after a merger)
    )
    previous_rank: int | None = None
    authority_name: str = ""  # who ran the framework (a former district for a predecessor's year)


@dataclass
class LostCriterion:
    code: str
    title: str
    max_points: Decimal
    achieved: Decimal
    lost: Decimal


@dataclass
class Adjustment:
    code: str
    title: str
    self_points: Decimal
    appraised_points: Decimal
    reason: str

    @property
    def difference(self) -> Decimal | None:
        return appraisal_difference(self.self_points, self.appraised_points)


@dataclass
class ProfileArea:
    column: AreaColumn
    cell: AreaCell | None


@dataclass
class UnitProfile:
    unit: Unit
    lineage: list[Unit]
    history: list[YearPoint]
    result: YearPoint | None = None
    areas: list[ProfileArea] = field(default_factory=list)
    lost: list[LostCriterion] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    remediation: list[RemediationItem] = field(default_factory=list)

    @property
    def frameworks(self) -> list[Framework]:
        return [point.framework for point in self.history if point.own]

    def continuous_series(self) -> dict[int, tuple[Decimal | None, int | None]]:
        """(index, rank) by year for one line across a merger: the unit's own results, and before it
        existed its predecessors' (one predecessor: its figures; several: their pooled index, and for
        the year just before the merger the pooled place stored with the unit's year-on-year change)."""
        own = {point.year: point for point in self.history if point.own}
        series = {year: (point.index, point.rank) for year, point in own.items()}
        if not own:
            return series
        first = own[min(own)]
        before: dict[int, list[YearPoint]] = defaultdict(list)
        for point in self.history:
            if not point.own and point.year < first.year:
                before[point.year].append(point)
        for year, points in before.items():
            if year == first.year - 1 and first.previous_index is not None:
                series[year] = (first.previous_index, first.previous_rank)
            elif len(points) == 1:
                series[year] = (points[0].index, points[0].rank)
            else:
                pooled_max = sum(point.max_points for point in points)
                pooled = (sum(point.points for point in points) * 100 / pooled_max) if pooled_max else None
                series[year] = (_index(pooled, points[0].framework.index_decimals), None)
        return dict(sorted(series.items()))

    def predecessor_years(self) -> list["PredecessorYear"]:
        """The years before the unit existed, each with its predecessors' results by name (and the
        former authority that assessed them) and, for several, their index taken together — the
        figure year on year compares with ("2024: Xã A (Huyện X) 81,20 — Xã B (Huyện Y) 76,50")."""
        own_years = [point.year for point in self.history if point.own]
        first = min(own_years) if own_years else None
        by_year: dict[int, list[YearPoint]] = defaultdict(list)
        for point in self.history:
            if not point.own and (first is None or point.year < first):
                by_year[point.year].append(point)
        series = self.continuous_series()
        return [
            PredecessorYear(year, points, series.get(year, (None, None))[0] if len(points) > 1 else None)
            for year, points in sorted(by_year.items())
        ]


@dataclass
class PredecessorYear:
    year: int
    points: list[YearPoint]  # one per predecessor assessed that year, in code order
    pooled_index: Decimal | None  # several predecessors: their index taken together


LINEAGE_DEPTH = 3  # how many reorganisations back the profile follows (a query each)


def unit_lineage(unit: Unit) -> list[Unit]:
    """The unit and its predecessors, their predecessors, … (up to LINEAGE_DEPTH generations)."""
    through = Unit.predecessors.through
    ids, frontier = [unit.pk], [unit.pk]
    for _generation in range(LINEAGE_DEPTH):
        frontier = [
            pk
            for pk in through.objects.filter(from_unit_id__in=frontier)
            .order_by("to_unit__code")
            .values_list("to_unit_id", flat=True)
            if pk not in ids
        ]
        if not frontier:
            break
        ids.extend(frontier)
    if len(ids) == 1:
        return [unit]
    by_id = Unit.objects.select_related("parent").in_bulk(ids)  # the parent: a former district
    return [by_id[pk] for pk in ids if pk in by_id]


def unit_history(unit: Unit, lineage: list[Unit]) -> list[YearPoint]:
    """Index and rank of the unit year by year; for a year in which it did not exist yet, the results
    of its predecessors, each named with the framework and authority that assessed it (after the
    2025 reform, the former districts). One query."""
    lineage_ids = [u.pk for u in lineage]
    # How many units hold a place in each framework (the N of "04/15"), read along: a few rows.
    places = (
        AssessmentResult.objects.filter(framework_id=OuterRef("framework_id"), rank__isnull=False)
        .order_by()
        .values("framework_id")
        .annotate(n=Count("assessment_id"))
        .values("n")
    )
    results = list(
        AssessmentResult.objects.filter(assessment__unit_id__in=lineage_ids)
        .annotate(places_in_framework=Subquery(places))
        .select_related("framework__authority", "assessment__unit")
        .order_by("framework__year", "assessment__unit__code")
    )
    ranked = {res.framework_id: res.places_in_framework or 0 for res in results}
    own_years = {res.framework.year for res in results if res.assessment.unit_id == unit.pk}
    points = []
    for res in results:
        own = res.assessment.unit_id == unit.pk
        if not own and res.framework.year in own_years:
            continue  # the unit has its own result that year
        points.append(
            YearPoint(
                year=res.framework.year,
                framework=res.framework,
                unit_code=res.assessment.unit.code,
                unit_name=res.assessment.unit.name,
                own=own,
                points=res.points,
                max_points=res.max_points,
                index=_index(res.index, res.framework.index_decimals),
                rank=res.rank,
                ranked=ranked.get(res.framework_id, 0),
                grade=res.grade,
                provisional=res.provisional,
                assessment_id=res.assessment_id,
                previous_index=_index(res.previous_index, res.framework.index_decimals),
                previous_rank=res.previous_rank,
                authority_name=res.framework.authority.name,
            )
        )
    return points


def unit_profile(unit: Unit, framework: Framework | str | None = None) -> UnitProfile:
    """Everything the unit profile shows, in a fixed number of queries (about ten). `framework`: the
    framework (or its code) whose result is shown; by default the unit's latest."""
    lineage = unit_lineage(unit)
    history = unit_history(unit, lineage)
    profile = UnitProfile(unit=unit, lineage=lineage, history=history)
    own = [point for point in history if point.own]
    if isinstance(framework, str):
        profile.result = next((point for point in own if point.framework.code == framework), None)
    elif framework is not None:
        profile.result = next((point for point in own if point.framework.pk == framework.pk), None)
    elif own:
        profile.result = own[-1]
    if profile.result is None:
        return profile
    chosen = profile.result.framework
    places = chosen.index_decimals
    tree = criteria_tree(chosen)
    columns = framework_areas(chosen, tree)
    cells = {
        row["area_id"]: AreaCell(
            row["points"],
            row["max_points"],
            _index(row["index"], places),
            row["rank"],
            heat_colour(_index(row["index"], places)),
        )
        for row in AreaResult.objects.filter(assessment_id=profile.result.assessment_id).values(
            "area_id", "points", "max_points", "index", "rank"
        )
    }
    profile.areas = [ProfileArea(column, cells.get(column.id)) for column in columns]
    profile.lost, profile.adjustments = _criteria_losses(profile.result.assessment_id, chosen, tree)
    profile.remediation = list(
        RemediationItem.objects.filter(assessment_id=profile.result.assessment_id)
        .select_related("criterion", "updated_by")
        .order_by("-points_lost", "criterion__order")
    )
    return profile


def _criteria_losses(
    assessment_id: int, framework: Framework, tree: CriteriaTree | None = None
) -> tuple[list[LostCriterion], list[Adjustment]]:
    """Scored leaves where the unit lost points (max − achieved, largest first), and the leaves whose
    appraised points differ from the self points. Three queries. Survey leaves the results leave out
    (optional survey, none scored) are lost nowhere."""
    leaves = [leaf for leaf in (tree or criteria_tree(framework)).leaves if leaf.kind == CriterionKind.SCORE]
    if assessment_id in survey_left_out(framework):
        leaves = [leaf for leaf in leaves if leaf.source != CriterionSource.SURVEY]
    scores = {
        s["criterion_id"]: s
        for s in Score.objects.filter(assessment_id=assessment_id).values(
            "criterion_id",
            "self_points",
            "appraised_points",
            "not_applicable",
            "appraised_not_applicable",
            "appraisal_reason",
        )
    }
    lost, adjustments = [], []
    for leaf in leaves:
        score = scores.get(leaf.pk)
        # Not applicable as the results count it: the appraiser's decision, else the unit's proposal.
        if score and (
            score["appraised_not_applicable"]
            if score["appraised_not_applicable"] is not None
            else score["not_applicable"]
        ):
            continue
        final = None
        if score:
            final = (
                score["appraised_points"] if score["appraised_points"] is not None else score["self_points"]
            )
        achieved = final or Decimal("0")
        if leaf.max_points - achieved > 0:
            lost.append(
                LostCriterion(leaf.code, leaf.title, leaf.max_points, achieved, leaf.max_points - achieved)
            )
        if (
            score
            and leaf.source == CriterionSource.SELF
            and score["self_points"] is not None
            and score["appraised_points"] is not None
            and score["self_points"] != score["appraised_points"]
        ):
            adjustments.append(
                Adjustment(
                    leaf.code,
                    leaf.title,
                    score["self_points"],
                    score["appraised_points"],
                    score["appraisal_reason"],
                )
            )
    lost.sort(key=lambda item: -item.lost)  # stable: equal losses stay in tree order (codes I, a1 too)
    return lost, adjustments


# --- progress ---------------------------------------------------------------------------------------


@dataclass
class ProgressRow:
    assessment_id: int
    unit_code: str
    unit_name: str
    status: str
    status_label: str | Promise  # a lazy label: translated where it is shown
    submitted_at: object
    appraised_at: object
    deadline: object  # the unit's self-assessment deadline (its extension, or the framework's)
    # The unit's own leaves (source self) scored of those applicable, as its page and the
    # submission check count them.
    leaves_scored: int
    leaves_applicable: int
    self_points: Decimal | None = None
    appraised_points: Decimal | None = None
    overstatement: Decimal = Decimal("0")
    lowered: int = 0
    overdue: str = ""  # "self" / "appraisal" / ""
    na_open: int = 0  # not-applicable proposals of the unit still waiting for the appraiser's decision
    na_first: int | None = None  # the criterion id of the first of them (an anchor on the appraisal page)


def _progress_scores(framework: Framework) -> dict[int, dict]:
    """By assessment of the framework, in one pass over its score rows: the self-assessed leaves the
    office appraised (self points, appraised points, how many were lowered), and the not-applicable
    proposals the appraiser has not decided yet (how many, and the first in tree order). Two queries."""
    appraised = Q(
        criterion__source=CriterionSource.SELF,
        criterion__kind=CriterionKind.SCORE,
        not_applicable=False,
        self_points__isnull=False,
        appraised_points__isnull=False,
    )
    proposed = Q(not_applicable=True, appraised_not_applicable__isnull=True)
    rows = {
        row["assessment_id"]: row
        for row in Score.objects.filter(assessment__framework=framework)
        .filter(appraised | proposed)
        .values("assessment_id")
        .annotate(
            appraised_leaves=Count("id", filter=appraised),
            self_sum=Sum("self_points", filter=appraised),
            appraised_sum=Sum("appraised_points", filter=appraised),
            lowered=Count("id", filter=appraised & Q(self_points__gt=F("appraised_points"))),
            na_open=Count("id", filter=proposed),
            first_order=Min("criterion__order", filter=proposed),
        )
    }
    orders = {row["first_order"] for row in rows.values() if row["first_order"] is not None}
    first_leaf = (
        dict(Criterion.objects.filter(framework=framework, order__in=orders).values_list("order", "id"))
        if orders
        else {}
    )
    for row in rows.values():
        row["na_first"] = first_leaf.get(row["first_order"])
    return rows


@dataclass
class Progress:
    rows: list[ProgressRow]
    by_status: list[tuple[str, str | Promise, int, str]]  # (status, label, count, colour)

    @property
    def overdue(self) -> list[ProgressRow]:
        return [row for row in self.rows if row.overdue]

    @property
    def overstated(self) -> list[ProgressRow]:
        return sorted(
            (row for row in self.rows if row.overstatement > 0),
            key=lambda row: (-row.overstatement, row.unit_code),
        )

    @property
    def na_proposals(self) -> list[ProgressRow]:
        """Units with not-applicable proposals waiting for the appraiser's decision."""
        return [row for row in self.rows if row.na_open]


def progress(
    framework: Framework,
    r: Reach,
    under: Unit | None = None,
    now: datetime | None = None,
    *,
    filters: DashboardFilters | None = None,
) -> Progress:
    """Where the year stands: status of every assessment, overdue units, and how far each unit's self
    scores were above the appraised ones (overstatement), and open not-applicable proposals; of the
    units the filters leave (their status filter aside: the page applies it to its table). Four queries."""
    now = now or timezone.now()
    filters = filters or DashboardFilters()
    labels = dict(AssessmentStatus.choices)
    scope = (
        Assessment.objects.filter(framework=framework)
        .filter(authority_condition(r, "unit__path"))
        .filter(subtree_condition(under, "unit__path"))
    )
    if filters.q or filters.kind or filters.district is not None:
        scope = scope.filter(unit__in=filters.units(r, under))
    if filters.group:
        scope = scope.filter(ranking_group__name=filters.group)
    if filters.grade:
        scope = scope.filter(result__grade=filters.grade)
    assessments = scope.order_by("unit__code").values(
        "id",
        "unit__code",
        "unit__name",
        "status",
        "submitted_at",
        "appraised_at",
        "self_deadline_extended_to",
        "result__self_leaves_scored",
        "result__self_leaves_applicable",
    )
    scores = by_results_version(framework, "progress-scores", lambda: _progress_scores(framework))
    rows = []
    for a in assessments:
        deadline = a["self_deadline_extended_to"] or framework.self_deadline
        overdue = ""
        if a["status"] == AssessmentStatus.DRAFT and deadline and deadline < now:
            overdue = "self"
        elif (
            a["status"] in (AssessmentStatus.SUBMITTED, AssessmentStatus.RETURNED)
            and framework.appraisal_deadline
            and framework.appraisal_deadline < now
        ):
            overdue = "appraisal"
        sums = scores.get(a["id"])
        row = ProgressRow(
            assessment_id=a["id"],
            unit_code=a["unit__code"],
            unit_name=a["unit__name"],
            status=a["status"],
            status_label=labels.get(a["status"], a["status"]),
            submitted_at=a["submitted_at"],
            appraised_at=a["appraised_at"],
            deadline=deadline,
            leaves_scored=a["result__self_leaves_scored"] or 0,
            leaves_applicable=a["result__self_leaves_applicable"] or 0,
            overdue=overdue,
        )
        if sums and sums["na_open"]:
            row.na_open, row.na_first = sums["na_open"], sums["na_first"]
        if sums and sums["appraised_leaves"]:
            row.self_points, row.appraised_points = sums["self_sum"], sums["appraised_sum"]
            # Self above appraised: the difference (appraised − self) turned round.
            row.overstatement = -Decimal(
                appraisal_difference(sums["self_sum"], sums["appraised_sum"]) or 0
            ).quantize(Decimal("0.01"))
            row.lowered = sums["lowered"]
        rows.append(row)
    counts = Counter(row.status for row in rows)
    by_status: list[tuple[str, str | Promise, int, str]] = [
        (s.value, labels[s.value], counts.get(s.value, 0), STATUS_COLOURS[s]) for s in STATUS_ORDER
    ]
    return Progress(rows, by_status)


# --- remediation ------------------------------------------------------------------------------------


def remediation_items_for(
    r: Reach,
    *,
    framework: Framework | None = None,
    status: str = "",
    overdue: bool = False,
    today: date | None = None,
) -> QuerySet[RemediationItem]:
    """Remediation items the user may see: their own unit's (officers) and those of the units under
    their authority. A queryset with everything the list page shows joined in."""
    qs = RemediationItem.objects.select_related(
        "assessment__unit", "assessment__framework", "criterion", "updated_by"
    ).filter(authority_condition(r, "assessment__unit__path", officer_unit_field="assessment__unit_id"))
    if framework is not None:
        qs = qs.filter(assessment__framework=framework)
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(due_date__lt=today or timezone.localdate()).exclude(status=RemediationStatus.DONE)
    return qs.order_by(
        "assessment__framework__year", "assessment__unit__code", "-points_lost", "criterion__order"
    )


# --- province view ----------------------------------------------------------------------------------
# What a province office and its leader see of all their units at once (DESIGN §2.2): one row per
# framework × ranking group of the year, and a table of the units under the province, searchable.
# Both read in a fixed number of queries whatever the number of units (3,321 in the whole country).

SUBMITTED_STATUSES = (
    AssessmentStatus.SUBMITTED,
    AssessmentStatus.RETURNED,
    AssessmentStatus.APPRAISED,
    AssessmentStatus.PUBLISHED,
)
APPRAISED_STATUSES = (AssessmentStatus.APPRAISED, AssessmentStatus.PUBLISHED)
PROVINCE_PAGE_SIZE = 50


def province_frameworks(province: Unit) -> QuerySet[Framework]:
    """Frameworks issued by the province or by an authority under it (the former districts' sets of
    the years before the 2025 reform)."""
    return Framework.objects.select_related("authority").filter(authority__path__startswith=province.path)


def province_years(province: Unit) -> list[int]:
    """Years with a framework of the province (or under it), latest first. One query."""
    return list(province_frameworks(province).order_by("-year").values_list("year", flat=True).distinct())


@dataclass
class ProvinceRow:
    """One framework × ranking group of the year: how many units, how far they are, their index."""

    framework: Framework
    group: RankingGroup | None  # None: the units in no group (the framework has no groups, or not theirs)
    units: int = 0
    submitted: int = 0
    appraised: int = 0
    not_ranked: int = 0
    indexed: int = 0
    index_sum: Decimal = Decimal("0")
    grades: list[GradeCount] = field(default_factory=list)
    grade_counts: Counter = field(default_factory=Counter)

    @property
    def average_index(self) -> Decimal | None:
        if not self.indexed:
            return None
        return _index(Decimal(self.index_sum) / self.indexed, self.framework.index_decimals)

    @property
    def provisional(self) -> bool:
        """Some units of the row are not appraised yet: their index is computed from self scores."""
        return self.appraised < self.units

    @property
    def group_name(self) -> str:
        return self.group.name if self.group else ""


def province_rows(province: Unit, year: int) -> list[ProvinceRow]:
    """One row per framework of the year × ranking group (the units in no group in a row of their
    own, when there are any or the framework has no groups), with the count of units, submitted,
    appraised and not ranked, the average index and the grade distribution (the framework's bands).
    Four queries: frameworks, groups, bands, and one GROUP BY framework, group, grade."""
    frameworks = list(province_frameworks(province).filter(year=year).order_by("authority__path", "code"))
    if not frameworks:
        return []
    ids = [f.pk for f in frameworks]
    groups: dict[int, list[RankingGroup]] = defaultdict(list)
    for group in RankingGroup.objects.filter(framework_id__in=ids).order_by("framework_id", "order", "name"):
        groups[group.framework_id].append(group)
    bands: dict[int, list[GradeBand]] = defaultdict(list)
    for band in GradeBand.objects.filter(framework_id__in=ids).order_by("framework_id", "-min_index"):
        bands[band.framework_id].append(band)
    rows: dict[tuple[int, int | None], ProvinceRow] = {}
    for framework in frameworks:
        for group in groups[framework.pk]:
            rows[(framework.pk, group.pk)] = ProvinceRow(framework, group)
        if not groups[framework.pk]:
            rows[(framework.pk, None)] = ProvinceRow(framework, None)
    by_id = {f.pk: f for f in frameworks}
    stats = (
        Assessment.objects.filter(framework_id__in=ids)
        .values("framework_id", "ranking_group_id", "result__grade")
        .annotate(
            units=Count("id"),
            submitted=Count("id", filter=Q(status__in=SUBMITTED_STATUSES)),
            appraised=Count("id", filter=Q(status__in=APPRAISED_STATUSES)),
            not_ranked=Count("id", filter=Q(ranked=False)),
            indexed=Count("result__index"),
            index_sum=Sum("result__index"),
        )
    )
    for stat in stats:
        key = (stat["framework_id"], stat["ranking_group_id"])
        row = rows.get(key)
        if row is None:  # units in no group of a framework that has groups
            row = rows[key] = ProvinceRow(by_id[stat["framework_id"]], None)
        row.units += stat["units"]
        row.submitted += stat["submitted"]
        row.appraised += stat["appraised"]
        row.not_ranked += stat["not_ranked"]
        row.indexed += stat["indexed"]
        row.index_sum += Decimal(stat["index_sum"] or 0)
        row.grade_counts[stat["result__grade"] or ""] += stat["units"]
    order = {f.pk: i for i, f in enumerate(frameworks)}
    ordered = sorted(
        rows.values(),
        key=lambda row: (
            order[row.framework.pk],
            row.group is None,
            row.group.order if row.group else 0,
            row.group_name,
        ),
    )
    for row in ordered:
        framework_bands_ = bands[row.framework.pk]
        colours = grade_colours(framework_bands_)
        counts = Counter(row.grade_counts)
        row.grades = [
            GradeCount(b.name, b.min_index, counts.pop(b.name, 0), colours[b.name]) for b in framework_bands_
        ]
        ungraded = sum(counts.values())
        if ungraded:
            row.grades.append(GradeCount("", None, ungraded, NO_GRADE_COLOUR))
    return ordered


def province_districts(province: Unit) -> list[Unit]:
    """The districts under the province (the former districts, after the 2025 reform). One query."""
    return list(Unit.objects.filter(path__startswith=province.path, kind=UnitKind.DISTRICT).order_by("name"))


def province_units(
    province: Unit, year: int | None, *, q: str = "", kind: str = "", district: Unit | None = None
) -> QuerySet[Unit]:
    """The units under the province (itself left out) active in `year`, by code; `q` matches a part of
    the name or code, `kind` the kind, `district` a former district: the unit's parent, or the parent
    of one of its predecessors (a commune merged in 2025 from communes of that district)."""
    units = (
        Unit.objects.select_related("parent").filter(path__startswith=province.path).exclude(pk=province.pk)
    )
    if year is not None:
        units = units.filter(Q(active_from__isnull=True) | Q(active_from__lte=year)).filter(
            Q(active_to__isnull=True) | Q(active_to__gte=year)
        )
    q = q.strip()
    if q:
        units = units.filter(name_or_code_condition(q))
    if kind:
        units = units.filter(kind=kind)
    if district is not None:
        units = units.filter(former_district_condition(district))
    return units.order_by("code")


@dataclass
class ProvinceUnitLine:
    """A unit of the province table and its result of the year (None where it was not assessed)."""

    unit: Unit
    former_districts: list[str]
    framework: Framework | None = None
    group: str = ""
    index: Decimal | None = None
    grade: str = ""
    rank: int | None = None
    places: int = 0  # units ranked in the unit's group (the N of "04/15")
    ranked: bool = True
    not_ranked_reason: str = ""
    provisional: bool = False

    @property
    def kind_label(self) -> str | Promise:
        """The unit's kind in the active language ("Phường")."""
        return UnitKind(self.unit.kind).label if self.unit.kind in UnitKind.values else self.unit.kind


def province_unit_lines(units: list[Unit], province: Unit, year: int | None) -> list[ProvinceUnitLine]:
    """The lines of one page of the province table: former districts, framework, group, index, grade
    and place of each unit in `year`. Three queries whatever the size of the page."""
    ids = [unit.pk for unit in units]
    through = Unit.predecessors.through
    former: dict[int, list[str]] = defaultdict(list)
    for unit in units:
        if unit.parent is not None and unit.parent.kind == UnitKind.DISTRICT:
            former[unit.pk].append(unit.parent.name)
    for unit_id, name in (
        through.objects.filter(from_unit_id__in=ids, to_unit__parent__kind=UnitKind.DISTRICT)
        .order_by("to_unit__parent__name")
        .values_list("from_unit_id", "to_unit__parent__name")
        .distinct()
    ):
        if name not in former[unit_id]:
            former[unit_id].append(name)
    lines = {unit.pk: ProvinceUnitLine(unit, former[unit.pk]) for unit in units}
    if year is None or not ids:
        return list(lines.values())
    assessments = list(
        Assessment.objects.filter(
            unit_id__in=ids, framework__year=year, framework__authority__path__startswith=province.path
        )
        .select_related("framework", "ranking_group", "result")
        .order_by("-framework__code")  # a unit assessed in two sets of the year: the first by code wins
    )
    places = (
        {
            (row["framework_id"], row["assessment__ranking_group_id"]): row["n"]
            for row in AssessmentResult.objects.filter(
                framework_id__in={a.framework_id for a in assessments}, rank__isnull=False
            )
            .values("framework_id", "assessment__ranking_group_id")
            .annotate(n=Count("assessment_id"))
        }
        if assessments
        else {}
    )
    for assessment in assessments:
        line = lines[assessment.unit_id]
        framework = assessment.framework
        result = getattr(assessment, "result", None)
        line.framework = framework
        line.group = assessment.ranking_group.name if assessment.ranking_group else ""
        line.ranked = assessment.ranked
        line.not_ranked_reason = assessment.not_ranked_reason
        line.provisional = assessment.is_provisional
        line.places = places.get((framework.pk, assessment.ranking_group_id), 0)
        if result is not None:
            line.index = _index(result.index, framework.index_decimals)
            line.grade = result.grade
            line.rank = result.rank
    return list(lines.values())
