"""Reads of stored results. Constant query counts: one query for the rows, one for their areas."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, QuerySet

from parindex.numbers import round_half_up

from .models import AreaResult, AssessmentResult, Framework


def framework_by_code(code: str) -> Framework:
    return Framework.objects.select_related("authority").get(code=code)


def results_for_framework(framework: Framework) -> QuerySet[AssessmentResult]:
    """Stored results best first; unranked (nothing scored yet) last, by unit code."""
    return (
        AssessmentResult.objects.filter(framework=framework)
        .select_related("assessment__unit")
        .order_by(F("rank").asc(nulls_last=True), "assessment__unit__code")
    )


@dataclass
class AreaLine:
    code: str
    title: str
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    rank: int | None


@dataclass
class RankingLine:
    rank: int | None
    unit_code: str
    unit_name: str
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    grade: str
    provisional: bool
    self_points: Decimal
    bonus_points: Decimal
    penalty_points: Decimal
    status: str
    points_change: Decimal | None
    index_change: Decimal | None
    rank_change: int | None
    areas: list[AreaLine] = field(default_factory=list)


def ranking_lines(framework: Framework) -> list[RankingLine]:
    """The ranking of a framework as published: index rounded to the framework's decimals."""
    places = framework.index_decimals
    idx = lambda value: None if value is None else round_half_up(value, places)  # noqa: E731
    areas: dict[int, list[AreaLine]] = defaultdict(list)
    for area in (
        AreaResult.objects.filter(framework=framework)
        .select_related("area")
        .order_by("assessment_id", "area__order")
    ):
        areas[area.assessment_id].append(
            AreaLine(area.area.code, area.area.title, area.points, area.max_points, idx(area.index), area.rank)
        )
    lines = []
    for result in results_for_framework(framework):
        unit = result.assessment.unit
        lines.append(
            RankingLine(
                rank=result.rank,
                unit_code=unit.code,
                unit_name=unit.name,
                points=result.points,
                max_points=result.max_points,
                index=idx(result.index),
                grade=result.grade,
                provisional=result.provisional,
                self_points=result.self_points,
                bonus_points=result.bonus_points,
                penalty_points=result.penalty_points,
                status=result.assessment.status,
                points_change=result.points_change,
                index_change=idx(result.index_change),
                rank_change=result.rank_change,
                areas=areas.get(result.assessment_id, []),
            )
        )
    return lines
