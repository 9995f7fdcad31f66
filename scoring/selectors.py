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
    # Plain tuples, not model instances: at national scale this is ~25,000 rows (8 areas × 3,321 units).
    for assessment_id, code, title, points, max_points, index, rank in (
        AreaResult.objects.filter(framework=framework)
        .order_by("assessment_id", "area__order")
        .values_list("assessment_id", "area__code", "area__title", "points", "max_points", "index", "rank")
    ):
        areas[assessment_id].append(AreaLine(code, title, points, max_points, idx(index), rank))
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


# --- appraisal sheet: one assessment's criteria, scores, evidence and explanation rounds -------------
# (imports kept with the section they serve, so that this addition stays self-contained)

from django.db.models import Prefetch, Q  # noqa: E402

from parindex.audit.models import AuditEntry  # noqa: E402

from .models import (  # noqa: E402
    Assessment,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Evidence,
    Score,
)


@dataclass
class SheetRow:
    """One criterion of an assessment: a heading (parent) or a leaf with its score and evidence."""

    criterion: Criterion
    score: Score | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def is_survey(self) -> bool:
        return self.criterion.source == CriterionSource.SURVEY

    @property
    def not_applicable(self) -> bool:
        return bool(self.score and self.score.not_applicable)

    @property
    def self_points(self) -> Decimal | None:
        return self.score.self_points if self.score else None

    @property
    def appraised_points(self) -> Decimal | None:
        return self.score.appraised_points if self.score else None

    @property
    def final_points(self) -> Decimal | None:
        return self.score.final_points if self.score else None

    @property
    def appraisable(self) -> bool:
        """A self-assessed leaf that counts: the office gives it appraised points."""
        return self.criterion.is_leaf and not self.is_survey and not self.not_applicable

    @property
    def difference(self) -> Decimal | None:
        """Self − appraised, where both exist."""
        if self.self_points is None or self.appraised_points is None:
            return None
        return self.self_points - self.appraised_points

    @property
    def explanation_requested(self) -> bool:
        return bool(self.score and self.score.explanation_request)


@dataclass
class SheetArea:
    area: Criterion
    rows: list[SheetRow]

    @property
    def leaves(self) -> list[SheetRow]:
        return [row for row in self.rows if row.criterion.is_leaf]

    @property
    def counted(self) -> list[SheetRow]:
        return [row for row in self.leaves if not row.not_applicable]

    @property
    def self_total(self) -> Decimal:
        return sum((row.self_points or 0 for row in self.counted if not row.is_survey), Decimal("0"))

    @property
    def final_total(self) -> Decimal:
        return sum((row.final_points or 0 for row in self.counted), Decimal("0"))

    @property
    def max_total(self) -> Decimal:
        return sum((row.criterion.max_points for row in self.counted), Decimal("0"))

    @property
    def appraisable(self) -> list[SheetRow]:
        return [row for row in self.leaves if row.appraisable]

    @property
    def appraised_count(self) -> int:
        return sum(1 for row in self.appraisable if row.appraised_points is not None)

    @property
    def pending_count(self) -> int:
        """Scored self leaves still waiting for appraised points (what "accept" would fill)."""
        return sum(1 for row in self.appraisable if row.appraised_points is None and row.self_points is not None)

    @property
    def is_survey(self) -> bool:
        return self.area.source == CriterionSource.SURVEY


@dataclass
class ExplanationRound:
    """One return for explanation: the office's message and reasons, the unit's answers."""

    number: int
    returned_at: object
    returned_by: object
    message: str
    requests: dict[int, tuple[Criterion, str]] = field(default_factory=dict)
    answers: dict[int, str] = field(default_factory=dict)
    resubmitted_at: object = None

    @property
    def lines(self) -> list[tuple[Criterion, str, str]]:
        """(criterion, reason, answer) in tree order."""
        return [
            (criterion, reason, self.answers.get(criterion_id, ""))
            for criterion_id, (criterion, reason) in sorted(self.requests.items(), key=lambda item: item[1][0].order)
        ]


@dataclass
class AssessmentSheet:
    assessment: Assessment
    areas: list[SheetArea]
    result: AssessmentResult | None
    rounds: list[ExplanationRound]

    @property
    def leaves(self) -> list[SheetRow]:
        return [row for area in self.areas for row in area.leaves]

    def row(self, criterion_id: int) -> SheetRow | None:
        return next((row for row in self.leaves if row.criterion.pk == criterion_id), None)

    def area_of(self, criterion_id: int) -> SheetArea | None:
        return next((area for area in self.areas if any(r.criterion.pk == criterion_id for r in area.rows)), None)

    def area_by_code(self, code: str) -> SheetArea | None:
        return next((area for area in self.areas if area.area.code == code), None)

    @property
    def appraisable_count(self) -> int:
        return sum(len(area.appraisable) for area in self.areas)

    @property
    def appraised_count(self) -> int:
        return sum(area.appraised_count for area in self.areas)

    @property
    def pending_count(self) -> int:
        return sum(area.pending_count for area in self.areas)

    @property
    def differences(self) -> int:
        return sum(1 for row in self.leaves if row.appraisable and row.difference)

    def _self_scored(self) -> list[SheetRow]:
        return [row for row in self.leaves if row.appraisable and row.criterion.kind == CriterionKind.SCORE]

    @property
    def self_total(self) -> Decimal:
        """Points the unit gave itself on the self-assessed criteria (bonus and penalty apart)."""
        return sum((row.self_points or 0 for row in self._self_scored()), Decimal("0"))

    @property
    def appraised_total(self) -> Decimal:
        """The same criteria after appraisal (self points where not appraised yet)."""
        return sum((row.final_points or 0 for row in self._self_scored()), Decimal("0"))

    @property
    def survey_total(self) -> Decimal:
        return sum((row.appraised_points or 0 for row in self.leaves if row.is_survey and not row.not_applicable),
                   Decimal("0"))


def assessment_sheet(assessment: Assessment) -> AssessmentSheet:
    """Everything the appraisal pages show of one assessment, in five queries whatever its size:
    criteria, scores, their evidence, the stored result, and the explanation history."""
    criteria = list(Criterion.objects.filter(framework_id=assessment.framework_id).order_by("order"))
    scores = {
        s.criterion_id: s
        for s in Score.objects.filter(assessment=assessment).prefetch_related(
            Prefetch("evidence", queryset=Evidence.objects.order_by("created_at", "id"))
        )
    }
    areas: dict[int, SheetArea] = {}
    for criterion in criteria:
        if criterion.depth == 0:
            areas[criterion.pk] = SheetArea(area=criterion, rows=[])
            if not criterion.is_leaf:
                continue
        score = scores.get(criterion.pk) if criterion.is_leaf else None
        evidence = list(score.evidence.all()) if score else []
        for item in evidence:
            item.filename = item.file.name.rsplit("/", 1)[-1] if item.file else ""
        row = SheetRow(criterion, score, evidence)
        areas[criterion.area_id].rows.append(row)
    result = AssessmentResult.objects.filter(assessment=assessment).first()
    return AssessmentSheet(assessment, list(areas.values()), result, explanation_rounds(assessment))


def explanation_rounds(assessment: Assessment) -> list[ExplanationRound]:
    """The rounds of explanation, read from the audit trail (one query): each return's message and
    the reasons per criterion, the unit's answers, and when it resubmitted."""
    entries = list(
        AuditEntry.objects.filter(assessment_id=assessment.pk)
        .filter(Q(action__in=("explanation_request", "explain")) | Q(action="status"))
        .select_related("actor")
        .order_by("created_at", "id")
    )
    requested = {e.criterion_id for e in entries if e.action == "explanation_request" and e.criterion_id}
    criteria = Criterion.objects.in_bulk(requested) if requested else {}
    rounds: list[ExplanationRound] = []
    current: ExplanationRound | None = None
    for entry in entries:
        if entry.action == "status":
            if entry.new_value == AssessmentStatus.RETURNED:
                current = ExplanationRound(len(rounds) + 1, entry.created_at, entry.actor, entry.reason)
                rounds.append(current)
            elif entry.old_value == AssessmentStatus.RETURNED and current is not None:
                current.resubmitted_at = entry.created_at
        elif current is not None and entry.criterion_id:
            if entry.action == "explanation_request":
                if entry.criterion_id in criteria:  # a criterion deleted since is left out
                    current.requests[entry.criterion_id] = (criteria[entry.criterion_id], entry.reason)
            elif entry.field == "explanation":
                current.answers[entry.criterion_id] = entry.new_value
    return rounds
