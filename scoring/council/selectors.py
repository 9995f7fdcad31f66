"""Reads of the appraisal council: its members and minutes, the leaves it has still to appraise,
and the cross-unit grid (one criterion for every unit of a framework), each in a fixed number of
queries whatever the number of units."""

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q

from scoring.assessments.selectors import SheetRow
from scoring.council.models import CouncilMember, CouncilMinutes
from scoring.models import Assessment, AssessmentStatus, Criterion, CriterionSource, Evidence, Score

# The leaves the office and the council appraise (survey leaves are entered, not appraised):
# the same sources as scoring.assessments.services.APPRAISED_SOURCES.
APPRAISED_SOURCES = (CriterionSource.SELF, CriterionSource.OFFICE)
# Assessments under appraisal: submitted, returned for explanation (to be appraised again) or appraised.
# A unit that never submitted is not the council's to appraise (the publication gates name it).
UNDER_APPRAISAL = (AssessmentStatus.SUBMITTED, AssessmentStatus.RETURNED, AssessmentStatus.APPRAISED)


def council_members(framework) -> list[CouncilMember]:
    """The council, chair first, with their users, offices and areas (three queries)."""
    return list(
        CouncilMember.objects.filter(framework=framework)
        .select_related("user", "unit")
        .prefetch_related(Prefetch("areas", queryset=Criterion.objects.order_by("order")))
        .order_by("role", "user__username")
    )


def council_minutes(framework) -> list[CouncilMinutes]:
    return list(
        CouncilMinutes.objects.filter(framework=framework)
        .select_related("created_by")
        .prefetch_related("present__user")
    )


def council_area_ids(framework) -> set[int]:
    """The areas assigned to at least one council member."""
    return set(
        CouncilMember.areas.through.objects.filter(councilmember__framework=framework).values_list(
            "criterion_id", flat=True
        )
    )


def open_council_leaves(framework) -> list[tuple[str, str]]:
    """(unit code, leaf code) of every leaf in the council's areas not yet closed for an assessment
    under appraisal, in unit then tree order (two queries). A leaf is closed as the appraisal services
    close it (scoring.assessments.services._mark_appraised_when_complete): decided not applicable by
    the appraiser, or with appraised points and no not-applicable proposal awaiting a decision."""
    areas = council_area_ids(framework)
    if not areas:
        return []
    leaves = list(
        Criterion.objects.filter(
            framework=framework, is_leaf=True, source__in=APPRAISED_SOURCES, area_id__in=areas
        ).order_by("order")
    )
    closed = set(
        Score.objects.filter(assessment__framework=framework, criterion__in=leaves)
        .filter(
            Q(appraised_not_applicable=True)
            | (
                Q(appraised_points__isnull=False)
                & ~Q(not_applicable=True, appraised_not_applicable__isnull=True)
            )
        )
        .values_list("assessment_id", "criterion_id")
    )
    assessments = (
        Assessment.objects.filter(framework=framework, status__in=UNDER_APPRAISAL)
        .order_by("unit__code")
        .values_list("pk", "unit__code")
    )
    return [
        (unit_code, leaf.code)
        for assessment_id, unit_code in assessments
        for leaf in leaves
        if (assessment_id, leaf.pk) not in closed
    ]


def appraisable_leaves(framework, areas: frozenset[int] | None) -> list[Criterion]:
    """The leaves the grid offers: appraised leaves of the framework, of the given areas (None: all)."""
    leaves = Criterion.objects.filter(framework=framework, is_leaf=True, source__in=APPRAISED_SOURCES)
    if areas is not None:
        leaves = leaves.filter(area_id__in=areas)
    return list(leaves.select_related("area").order_by("order"))


@dataclass
class GridRow:
    """One unit's row of the cross-unit grid: its assessment and the leaf's row as the per-unit
    appraisal page has it (SheetRow: score, evidence, rule), so that both save through one path."""

    assessment: Assessment
    row: SheetRow
    lock: str | None = None
    errors: list[str] = field(default_factory=list)
    entered: dict[str, str] | None = None
    saved: bool = False

    @property
    def unit(self):
        return self.assessment.unit

    @property
    def editable(self) -> bool:
        return self.lock is None and self.row.appraisable


def criterion_grid(framework, criterion: Criterion, *, assessment_ids=None) -> list[GridRow]:
    """Every unit's row of one leaf (or the given assessments'), by unit code: three queries whatever
    the number of units (assessments with units, the leaf's scores, their evidence)."""
    chosen = Assessment.objects.filter(framework=framework).select_related("unit", "framework__authority")
    if assessment_ids is not None:
        chosen = chosen.filter(pk__in=assessment_ids)
    assessments = list(chosen.order_by("unit__code"))
    scores = {
        score.assessment_id: score
        for score in Score.objects.filter(criterion=criterion, assessment__in=assessments)
        .select_related("criterion")
        .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("pk")))
    }
    rows = []
    for assessment in assessments:
        score = scores.get(assessment.pk)
        evidence = list(score.evidence.all()) if score else []
        rows.append(GridRow(assessment, SheetRow(criterion, score, evidence)))
    return rows
