"""Reads of frameworks, assessments and stored results: one selector per question, reused by every
page, export, workbook and command so that their answers cannot drift apart.

- `criteria_tree(framework)`: the criteria of a framework in tree order, grouped by area (one query).
- `assessment_sheet(assessment)`: that tree with one assessment's scores and evidence (self-assessment
  and appraisal pages; the stored result and the explanation rounds are read when asked for).
- `ranking(framework, units=…)`: the stored results of a framework as published, best first, with
  their areas and year-on-year change (two queries whatever the number of units).
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Prefetch, Q, QuerySet

from parindex.audit.models import AuditEntry
from parindex.numbers import round_half_up
from scoring.models import (
    AreaResult,
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Evidence,
    Framework,
    Score,
)
from units.models import Unit

ZERO = Decimal("0")


def framework_by_code(code: str) -> Framework:
    return Framework.objects.select_related("authority").get(code=code)


# --- the criteria tree ----------------------------------------------------------------------------------


@dataclass
class TreeArea:
    """An area (depth 0) and the criteria under it in tree order; an area that is itself a leaf is
    its own only node."""

    area: Criterion
    nodes: list[Criterion]


@dataclass
class CriteriaTree:
    """The criteria of one framework in tree order (area → criterion → sub-criterion)."""

    criteria: list[Criterion]

    def __iter__(self) -> Iterator[Criterion]:
        return iter(self.criteria)

    def __len__(self) -> int:
        return len(self.criteria)

    @cached_property
    def by_id(self) -> dict[int | None, Criterion]:
        return {criterion.pk: criterion for criterion in self.criteria}

    @cached_property
    def areas(self) -> list[TreeArea]:
        parts: dict[int | None, TreeArea] = {}
        for criterion in self.criteria:
            if criterion.depth == 0:
                parts[criterion.pk] = TreeArea(criterion, [])
                if not criterion.is_leaf:
                    continue
            parts[criterion.area_id].nodes.append(criterion)
        return list(parts.values())

    @property
    def scored_areas(self) -> list[Criterion]:
        """Areas of kind score: those with stored area results (bonus and penalty have none)."""
        return [part.area for part in self.areas if part.area.kind == CriterionKind.SCORE]

    @property
    def leaves(self) -> list[Criterion]:
        return [criterion for criterion in self.criteria if criterion.is_leaf]

    @cached_property
    def _children(self) -> dict[int | None, list[Criterion]]:
        children: dict[int | None, list[Criterion]] = defaultdict(list)
        for criterion in self.criteria:
            children[criterion.parent_id].append(criterion)
        return children

    def children_of(self, criterion: Criterion) -> list[Criterion]:
        return self._children.get(criterion.pk, [])

    def area_of(self, criterion: Criterion) -> Criterion:
        return self.by_id[criterion.area_id]


def criteria_tree(framework: Framework | int) -> CriteriaTree:
    """The framework's criteria in tree order. One query."""
    framework_id = framework if isinstance(framework, int) else framework.pk
    return CriteriaTree(list(Criterion.objects.filter(framework_id=framework_id).order_by("order")))


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
    self_points: Decimal
    bonus_points: Decimal
    penalty_points: Decimal
    # Year on year (the previous year's own result, or the unit's predecessors' pooled).
    previous_points: Decimal | None
    previous_index: Decimal | None
    previous_rank: int | None
    points_change: Decimal | None
    index_change: Decimal | None
    rank_change: int | None
    areas: list[AreaLine] = field(default_factory=list)

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

    def __iter__(self) -> Iterator[RankingLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @cached_property
    def ranked(self) -> int:
        """How many units hold a place in the whole framework (the N of "04/15"), whatever units the
        lines are limited to (one query then)."""
        if not self.limited:
            return sum(1 for line in self.lines if line.rank is not None)
        return AssessmentResult.objects.filter(framework=self.framework, rank__isnull=False).count()


_LINE_FIELDS = (
    "assessment_id", "assessment__unit_id", "assessment__unit__code", "assessment__unit__name", "assessment__status",
    "rank", "points", "max_points", "index", "grade", "provisional", "self_points", "bonus_points",
    "penalty_points", "previous_points", "previous_index", "previous_rank", "points_change", "index_change",
    "rank_change",
)


def ranking(framework: Framework, *, units: QuerySet[Unit] | None = None, with_areas: bool = True) -> Ranking:
    """The stored results of a framework, best first, unranked last (by unit code); optionally only
    those of `units` (the caller's authority, a subtree). Ranks are those of the whole framework.

    One query for the lines and, `with_areas`, one for their areas, whatever the number of units.
    Plain tuples, not model instances: at national scale that is 3,321 lines and ~25,000 areas."""
    places = framework.index_decimals

    def published(value: Decimal | None) -> Decimal | None:
        return None if value is None else round_half_up(Decimal(value), places)

    results = AssessmentResult.objects.filter(framework=framework)
    area_results = AreaResult.objects.filter(framework=framework)
    if units is not None:
        results = results.filter(assessment__unit__in=units)
        area_results = area_results.filter(assessment__unit__in=units)
    areas: dict[int, list[AreaLine]] = defaultdict(list)
    if with_areas:
        for assessment_id, area_id, code, title, points, max_points, index, rank in (
            area_results.order_by("assessment_id", "area__order").values_list(
                "assessment_id", "area_id", "area__code", "area__title", "points", "max_points", "index", "rank"
            )
        ):
            areas[assessment_id].append(AreaLine(area_id, code, title, points, max_points, published(index), rank))
    lines = []
    for (
        assessment_id, unit_id, unit_code, unit_name, status, rank, points, max_points, index, grade, provisional,
        self_points, bonus_points, penalty_points, previous_points, previous_index, previous_rank, points_change,
        index_change, rank_change,
    ) in results.order_by(F("rank").asc(nulls_last=True), "assessment__unit__code").values_list(*_LINE_FIELDS):
        lines.append(
            RankingLine(
                assessment_id=assessment_id, unit_id=unit_id, unit_code=unit_code, unit_name=unit_name,
                status=status, rank=rank, points=points, max_points=max_points, index=published(index),
                grade=grade, provisional=provisional, self_points=self_points, bonus_points=bonus_points,
                penalty_points=penalty_points, previous_points=previous_points,
                previous_index=published(previous_index), previous_rank=previous_rank,
                points_change=points_change, index_change=published(index_change), rank_change=rank_change,
                areas=areas.get(assessment_id, []),
            )
        )
    return Ranking(framework, lines, limited=units is not None)


# --- one assessment: the tree with its scores, evidence and explanation rounds -----------------------------


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
        return sum((row.self_points or ZERO for row in self.counted if not row.is_survey), ZERO)

    @property
    def final_total(self) -> Decimal:
        return sum((row.final_points or ZERO for row in self.counted), ZERO)

    @property
    def max_total(self) -> Decimal:
        return sum((row.criterion.max_points for row in self.counted), ZERO)

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
    returned_at: datetime
    returned_by: AbstractBaseUser | None
    message: str
    requests: dict[int, tuple[Criterion, str]] = field(default_factory=dict)
    answers: dict[int, str] = field(default_factory=dict)
    resubmitted_at: datetime | None = None

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
    tree: CriteriaTree
    areas: list[SheetArea]

    @cached_property
    def result(self) -> AssessmentResult | None:
        """The stored result (one query, when asked for)."""
        return AssessmentResult.objects.filter(assessment=self.assessment).first()

    @cached_property
    def rounds(self) -> list[ExplanationRound]:
        """The explanation history (one query, when asked for)."""
        return explanation_rounds(self.assessment)

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
        return sum((row.self_points or ZERO for row in self._self_scored()), ZERO)

    @property
    def appraised_total(self) -> Decimal:
        """The same criteria after appraisal (self points where not appraised yet)."""
        return sum((row.final_points or ZERO for row in self._self_scored()), ZERO)

    @property
    def survey_total(self) -> Decimal:
        return sum((row.appraised_points or ZERO for row in self.leaves if row.is_survey and not row.not_applicable),
                   ZERO)


def _scores_with_evidence(assessment: Assessment) -> dict[int, Score]:
    """The assessment's scores by criterion id, each with its evidence in the order it was added.
    Two queries."""
    return {
        score.criterion_id: score
        for score in Score.objects.filter(assessment=assessment).prefetch_related(
            Prefetch("evidence", queryset=Evidence.objects.order_by("created_at", "id"))
        )
    }


def assessment_sheet(assessment: Assessment) -> AssessmentSheet:
    """One assessment as the self-assessment and appraisal pages show it: the criteria tree by area,
    each leaf with its score and evidence. Three queries whatever its size (criteria, scores, their
    evidence); the stored result and the explanation rounds add one each when read."""
    tree = criteria_tree(assessment.framework_id)
    scores = _scores_with_evidence(assessment)
    areas = []
    for part in tree.areas:
        rows = []
        for criterion in part.nodes:
            score = scores.get(criterion.pk) if criterion.is_leaf else None
            evidence = list(score.evidence.all()) if score else []
            for item in evidence:
                item.filename = item.file.name.rsplit("/", 1)[-1] if item.file else ""  # type: ignore[attr-defined]
            rows.append(SheetRow(criterion, score, evidence))
        areas.append(SheetArea(part.area, rows))
    return AssessmentSheet(assessment, tree, areas)


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
