"""Reads of stored results: the ranking of a framework as published, best first, with areas and
year-on-year change (two queries whatever the number of units), for the dashboard, its exports, the
report and the `ranking` command alike.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, F, QuerySet, Window
from django.utils.translation import gettext as _

from parindex.numbers import round_half_up
from scoring.models import (
    AreaResult,
    AssessmentResult,
    Framework,
)
from units.models import Unit


def survey_left_out(framework: Framework) -> set[int]:
    """The assessments whose survey leaves the engine leaves out of the points and the max (the
    survey optional, no applicable survey leaf scored: AssessmentResult.survey_left_out), for readers
    that count points lost leaf by leaf. One query; none when the survey is required."""
    if not framework.survey_optional:
        return set()
    return set(
        AssessmentResult.objects.filter(
            framework=framework, survey_leaves_applicable__gt=0, survey_leaves_scored=0
        ).values_list("assessment_id", flat=True)
    )


# --- the ranking ----------------------------------------------------------------------------------------


@dataclass
class AreaLine:
    area_id: int
    code: str
    title: str
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    rank: int | None


def parts_header() -> list[str]:
    """Headers of the parts of the points (self-assessed/appraised, survey, office, bonus, penalty), in
    the order of RankingLine.parts; every table and workbook that shows the parts uses them."""
    return [_("Self-assessed/appraised"), _("Survey"), _("Office-scored"), _("Bonus"), _("Penalty")]


@dataclass
class RankingLine:
    """One unit's stored result, its index rounded to the framework's decimals as published."""

    assessment_id: int
    unit_id: int
    unit_code: str
    unit_name: str
    status: str
    rank: int | None
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    grade: str
    provisional: bool
    self_points: Decimal  # the self-assessed points of the self part (before appraisal)
    bonus_points: Decimal
    penalty_points: Decimal
    # The parts of `points`: final points of the self (appraised where present), survey and office
    # score leaves; self_part + survey + office + bonus − penalty = points.
    self_part_points: Decimal
    survey_points: Decimal
    office_points: Decimal
    # Appraised and the survey in (AssessmentResult.all_parts_in): until then the index is not final,
    # whatever `provisional` (which follows the appraisal alone) says.
    all_parts_in: bool
    # Year on year (the previous year's own result, or the unit's predecessors' pooled).
    previous_points: Decimal | None
    previous_index: Decimal | None
    previous_rank: int | None
    points_change: Decimal | None
    index_change: Decimal | None
    rank_change: int | None
    areas: list[AreaLine] = field(default_factory=list)
    # The ranking group the unit is ranked in (None: the framework has no groups, or the unit is in
    # none of them), and whether it is ranked at all (False: assessed but not ranked, no place).
    group: str | None = None
    group_id: int | None = None
    ranked: bool = True
    not_ranked_reason: str = ""
    board: "Ranking | None" = field(default=None, repr=False, compare=False)

    @property
    def places(self) -> int:
        """How many units hold a place in the unit's ranking (its group, else the framework): the N of
        "04/15". Read when asked (one query for the whole ranking when its lines are limited)."""
        if self.board is None:
            return 0
        return self.board.ranked_per_group.get(self.group_id, 0)

    @property
    def parts(self) -> list[Decimal]:
        """The parts of the points in the order of parts_header(): their total is `points`."""
        return [
            self.self_part_points,
            self.survey_points,
            self.office_points,
            self.bonus_points,
            self.penalty_points,
        ]

    @property
    def arrow(self) -> str:
        if self.rank_change is None:
            return ""
        return "▲" if self.rank_change > 0 else "▼" if self.rank_change < 0 else "▬"

    @property
    def trend(self) -> str:
        """CSS class of the change: up / down / same."""
        if self.rank_change is None:
            return ""
        return "up" if self.rank_change > 0 else "down" if self.rank_change < 0 else "same"


@dataclass
class Ranking:
    """The lines of a ranking, best first (unranked last, by unit code)."""

    framework: Framework
    lines: list[RankingLine]
    limited: bool = False  # the lines are those of some units only
    # How many lines the ranking has in all (more than `lines` for a page; None: a page past the end).
    total: int | None = None

    def __iter__(self) -> Iterator[RankingLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @cached_property
    def ranked(self) -> int:
        """How many units hold a place in the whole framework (the N of "04/15"), whatever units the
        lines are limited to (then the query of ranked_per_group, shared)."""
        if not self.limited:
            return sum(1 for line in self.lines if line.rank is not None)
        return sum(self.ranked_per_group.values())

    @cached_property
    def ranked_per_group(self) -> dict[int | None, int]:
        """How many units hold a place in each ranking group (by group id; None: no group), the N of
        "04/15" for a unit of that group, whatever units the lines are limited to (one query then)."""
        if not self.limited:
            counts: dict[int | None, int] = defaultdict(int)
            for line in self.lines:
                if line.rank is not None:
                    counts[line.group_id] += 1
            return dict(counts)
        return dict(
            AssessmentResult.objects.filter(framework=self.framework, rank__isnull=False)
            .values("assessment__ranking_group_id")
            .annotate(n=Count("assessment_id"))
            .values_list("assessment__ranking_group_id", "n")
        )

    @property
    def has_groups(self) -> bool:
        return any(line.group is not None for line in self.lines)

    def groups(self) -> list[tuple[str | None, list[RankingLine]]]:
        """The lines group by group, in the order of the ranking: [(group name or None, lines)]."""
        out: list[tuple[str | None, list[RankingLine]]] = []
        for line in self.lines:
            if not out or out[-1][0] != line.group:
                out.append((line.group, []))
            out[-1][1].append(line)
        return out


_LINE_FIELDS = (
    "assessment_id",
    "assessment__unit_id",
    "assessment__unit__code",
    "assessment__unit__name",
    "assessment__status",
    "rank",
    "points",
    "max_points",
    "index",
    "grade",
    "provisional",
    "self_points",
    "bonus_points",
    "penalty_points",
    "previous_points",
    "previous_index",
    "previous_rank",
    "points_change",
    "index_change",
    "rank_change",
    "self_part_points",
    "survey_points",
    "office_points",
    "survey_leaves_applicable",
    "survey_leaves_scored",
    "assessment__ranking_group_id",
    "assessment__ranking_group__name",
    "assessment__ranked",
    "assessment__not_ranked_reason",
)


def ranking_results(
    framework: Framework,
    *,
    units: QuerySet[Unit] | None = None,
    group: str | None = None,
    grade: str | None = None,
) -> QuerySet[AssessmentResult]:
    """The stored results a ranking shows: the framework's, optionally only those of `units`, of the
    ranking group named `group`, of the grade named `grade`. The one filter of the ranking's lines,
    shared by the lines and by the counts a paginated page shows next to them."""
    results = AssessmentResult.objects.filter(framework=framework)
    if units is not None:
        results = results.filter(assessment__unit__in=units)
    if group is not None:
        results = results.filter(assessment__ranking_group__name=group)
    if grade is not None:
        results = results.filter(grade=grade)
    return results


def ranking(
    framework: Framework,
    *,
    units: QuerySet[Unit] | None = None,
    with_areas: bool = True,
    group: str | None = None,
    grade: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> Ranking:
    """The stored results of a framework, group by group (in the groups' order, units in no group
    last), best first within a group, unranked last (by unit code); optionally only those of `units`
    (the caller's authority, a subtree), of the ranking group named `group` or of the grade `grade`
    (ranking_results), and only the `limit` lines from `offset` (a page). Ranks are those of the
    whole framework (within its groups), whatever the lines are limited to.

    One query for the lines and, `with_areas`, one for their areas, whatever the number of units.
    Plain tuples, not model instances: at national scale that is 3,321 lines and ~25,000 areas."""
    places = framework.index_decimals

    def published(value: Decimal | None) -> Decimal | None:
        return None if value is None else round_half_up(Decimal(value), places)

    results = ranking_results(framework, units=units, group=group, grade=grade).order_by(
        F("assessment__ranking_group__order").asc(nulls_last=True),
        "assessment__ranking_group__name",
        F("rank").asc(nulls_last=True),
        "assessment__unit__code",
    )
    paged = bool(offset) or limit is not None
    limited = units is not None or group is not None or grade is not None or paged
    total = None
    if paged:
        # How many lines there are in all, with the page's own (COUNT(*) OVER ()): no second query.
        rows = list(
            results.annotate(lines_in_all=Window(Count("pk"))).values_list(*_LINE_FIELDS, "lines_in_all")[
                offset : None if limit is None else offset + limit
            ]
        )
        total = rows[0][-1] if rows else None
        rows = [row[:-1] for row in rows]
    else:
        rows = list(results.values_list(*_LINE_FIELDS))
    area_results = AreaResult.objects.filter(framework=framework)
    if paged:
        area_results = area_results.filter(assessment_id__in=[row[0] for row in rows])
    else:
        if units is not None:
            area_results = area_results.filter(assessment__unit__in=units)
        if group is not None:
            area_results = area_results.filter(assessment__ranking_group__name=group)
        if grade is not None:
            area_results = area_results.filter(assessment__result__grade=grade)
    areas: dict[int, list[AreaLine]] = defaultdict(list)
    if with_areas:
        for assessment_id, area_id, code, title, points, max_points, index, rank in area_results.order_by(
            "assessment_id", "area__order"
        ).values_list(
            "assessment_id", "area_id", "area__code", "area__title", "points", "max_points", "index", "rank"
        ):
            areas[assessment_id].append(
                AreaLine(area_id, code, title, points, max_points, published(index), rank)
            )
    lines = []
    for (
        assessment_id,
        unit_id,
        unit_code,
        unit_name,
        status,
        rank,
        points,
        max_points,
        index,
        grade,
        provisional,
        self_points,
        bonus_points,
        penalty_points,
        previous_points,
        previous_index,
        previous_rank,
        points_change,
        index_change,
        rank_change,
        self_part_points,
        survey_points,
        office_points,
        survey_leaves_applicable,
        survey_leaves_scored,
        group_id,
        group_name,
        ranked,
        not_ranked_reason,
    ) in rows:
        lines.append(
            RankingLine(
                assessment_id=assessment_id,
                unit_id=unit_id,
                unit_code=unit_code,
                unit_name=unit_name,
                status=status,
                rank=rank,
                points=points,
                max_points=max_points,
                index=published(index),
                grade=grade,
                provisional=provisional,
                self_points=self_points,
                bonus_points=bonus_points,
                penalty_points=penalty_points,
                previous_points=previous_points,
                previous_index=published(previous_index),
                previous_rank=previous_rank,
                points_change=points_change,
                index_change=published(index_change),
                rank_change=rank_change,
                self_part_points=self_part_points,
                survey_points=survey_points,
                office_points=office_points,
                all_parts_in=AssessmentResult(
                    framework=framework,
                    provisional=provisional,
                    survey_leaves_applicable=survey_leaves_applicable,
                    survey_leaves_scored=survey_leaves_scored,
                ).all_parts_in,
                areas=areas.get(assessment_id, []),
                group=group_name,
                group_id=group_id,
                ranked=ranked,
                not_ranked_reason=not_ranked_reason,
            )
        )
    board = Ranking(
        framework, lines, limited=limited, total=len(lines) if total is None and not paged else total
    )
    for line in lines:
        line.board = board
    return board
