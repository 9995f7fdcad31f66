"""Reads of inspections, each in a fixed number of queries: the unit's frameworks of a year, the plans
and visits a user reaches, one visit with its team, findings and recommendations, the overview by status,
overdue recommendations for the progress board, and the findings beside the appraisal page's criteria."""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from scoring.inspections.models import (
    SHARED_STATUSES,
    Finding,
    FindingFile,
    InspectionPlan,
    InspectionVisit,
    Recommendation,
    RecommendationStatus,
    TeamMember,
    VisitStatus,
)
from scoring.models import Assessment, Criterion, Framework
from units.models import Unit

OPEN_RECOMMENDATION = (RecommendationStatus.OPEN, RecommendationStatus.REPORTED_FIXED)


def unit_frameworks(unit: Unit, year: int) -> list[Framework]:
    """The frameworks of `year` that assess the unit: issued at or above it, for its kind or with an
    assessment of it. One query."""
    ancestors = [int(part) for part in unit.path.strip("/").split("/") if part]
    frameworks = Framework.objects.filter(year=year, authority_id__in=ancestors).annotate(
        assesses=Exists(Assessment.objects.filter(framework=OuterRef("pk"), unit=unit))
    )
    return [f for f in frameworks.order_by("code") if f.assesses or f.covers(unit.kind)]


def unit_criteria(unit: Unit, year: int) -> tuple[list[Criterion], list[Criterion]]:
    """(areas, leaves) of the unit's frameworks of the year, for the findings' and recommendations' forms."""
    ids = [f.pk for f in unit_frameworks(unit, year)]
    criteria = list(
        Criterion.objects.filter(framework_id__in=ids)
        .filter(Q(parent__isnull=True) | Q(is_leaf=True))
        .order_by("framework_id", "order")
    )
    return [c for c in criteria if c.parent_id is None], [c for c in criteria if c.is_leaf]


def visits_with_details(visits: QuerySet[InspectionVisit]) -> QuerySet[InspectionVisit]:
    """Visits with their plan, unit, team, findings (and files), conclusion and recommendations."""
    return visits.select_related("plan__authority", "unit", "conclusion", "responded_by").prefetch_related(
        Prefetch("team", queryset=TeamMember.objects.select_related("user", "office")),
        Prefetch(
            "findings",
            queryset=Finding.objects.select_related("area", "criterion", "created_by").prefetch_related(
                Prefetch("files", queryset=FindingFile.objects.order_by("pk"))
            ),
        ),
        Prefetch("recommendations", queryset=Recommendation.objects.select_related("criterion")),
    )


def visit_detail(pk) -> InspectionVisit | None:
    return visits_with_details(InspectionVisit.objects.filter(pk=pk)).first()


def unit_visits(unit: Unit) -> list[InspectionVisit]:
    """The visits of a unit that it sees: those whose draft findings were shared."""
    return list(
        visits_with_details(InspectionVisit.objects.filter(unit=unit, status__in=SHARED_STATUSES)).order_by(
            "-start_date", "-pk"
        )
    )


def plan_visits(plan: InspectionPlan) -> list[InspectionVisit]:
    return list(
        InspectionVisit.objects.filter(plan=plan)
        .select_related("unit")
        .prefetch_related(Prefetch("team", queryset=TeamMember.objects.select_related("user", "office")))
        .annotate(
            n_findings=Count("findings", distinct=True),
            n_recommendations=Count("recommendations", distinct=True),
        )
        .order_by("start_date", "pk")
    )


@dataclass
class Overview:
    by_status: list[tuple[str, Any, int]]
    open_recommendations: list[Recommendation]
    overdue: list[Recommendation]


def overview(visits: QuerySet[InspectionVisit], today=None) -> Overview:
    """Visits by status and the open recommendations (overdue first flagged) of these visits. Two queries."""
    today = today or timezone.localdate()
    counts = dict(visits.order_by().values_list("status").annotate(n=Count("pk")))
    by_status = [(status, label, counts.get(status, 0)) for status, label in VisitStatus.choices]
    open_recs = list(
        Recommendation.objects.filter(visit__in=visits, status__in=OPEN_RECOMMENDATION)
        .select_related("visit__unit", "visit__plan")
        .order_by("deadline", "pk")
    )
    for rec in open_recs:
        rec.overdue = rec.deadline < today  # type: ignore[attr-defined]
    return Overview(by_status, open_recs, [rec for rec in open_recs if rec.deadline < today])


def overdue_recommendations(framework: Framework, unit_condition: Q, today=None) -> list[Recommendation]:
    """Recommendations past their deadline and not closed, of visits in the framework's year to units
    it assesses (`unit_condition` on `visit__unit__…`: the reader's authority, a subtree). One query."""
    today = today or timezone.localdate()
    return list(
        Recommendation.objects.filter(
            visit__plan__year=framework.year,
            visit__unit__assessments__framework=framework,
            status__in=OPEN_RECOMMENDATION,
            deadline__lt=today,
        )
        .filter(unit_condition)
        .select_related("visit__unit")
        .order_by("deadline", "visit__unit__code", "pk")
    )


def open_recommendations(framework: Framework, today=None) -> list[Recommendation]:
    """Recommendations not closed of the framework's year, to the units it assesses, the earliest
    deadline first, each flagged `overdue`: the steering meeting's list. One query."""
    today = today or timezone.localdate()
    recommendations = list(
        Recommendation.objects.filter(
            visit__plan__year=framework.year,
            visit__unit__assessments__framework=framework,
            status__in=OPEN_RECOMMENDATION,
        )
        .select_related("visit__unit", "criterion")
        .order_by("deadline", "visit__unit__code", "pk")
    )
    for recommendation in recommendations:
        recommendation.overdue = recommendation.deadline < today  # type: ignore[attr-defined]
    return recommendations


def findings_by_area(unit: Unit, year: int) -> dict[int | None, list[Finding]]:
    """The findings of the unit's visits of a year, by area id (None: about no area), for the appraisal
    page. One query (findings with their area and criterion)."""
    findings = (
        Finding.objects.filter(visit__unit=unit, visit__plan__year=year)
        .select_related("area", "criterion", "visit")
        .order_by("visit__start_date", "pk")
    )
    grouped: dict[int | None, list[Finding]] = defaultdict(list)
    for finding in findings:
        area_id = finding.area_id or (finding.criterion.area_id if finding.criterion is not None else None)
        grouped[area_id].append(finding)
    return dict(grouped)


@dataclass
class Notices:
    """What waits for a user in inspections (shown in the app beside the e-mails): draft findings their
    unit has not answered, their unit's open recommendations, and the open visits whose team they are on."""

    to_answer: list[InspectionVisit]
    to_fix: list[Recommendation]
    on_team: list[InspectionVisit]
    units: list[Unit]  # the officer's units inspected in a shared visit: links to their inspections pages

    def __bool__(self) -> bool:
        return bool(self.to_answer or self.to_fix or self.on_team or self.units)


def notices_for(user, officer_unit_ids) -> Notices:
    """Four queries, whatever the number of visits."""
    unit_ids = sorted(officer_unit_ids)
    to_answer = (
        list(
            InspectionVisit.objects.filter(
                unit_id__in=unit_ids, status=VisitStatus.DRAFT_SHARED, responded_at__isnull=True
            )
            .select_related("unit", "plan")
            .order_by("start_date", "pk")
        )
        if unit_ids
        else []
    )
    to_fix = (
        list(
            Recommendation.objects.filter(
                visit__unit_id__in=unit_ids,
                status=RecommendationStatus.OPEN,
                visit__status=VisitStatus.CONCLUDED,
            )
            .select_related("visit__unit")
            .order_by("deadline", "pk")
        )
        if unit_ids
        else []
    )
    on_team = list(
        InspectionVisit.objects.filter(team__user=user)
        .exclude(status=VisitStatus.CONCLUDED)
        .select_related("unit", "plan")
        .order_by("start_date", "pk")
    )
    units = (
        list(
            Unit.objects.filter(
                pk__in=InspectionVisit.objects.filter(
                    unit_id__in=unit_ids, status__in=SHARED_STATUSES
                ).values("unit_id")
            ).order_by("code")
        )
        if unit_ids
        else []
    )
    return Notices(to_answer, to_fix, on_team, units)
