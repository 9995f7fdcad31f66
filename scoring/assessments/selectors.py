"""Reads of one assessment: the criteria tree with its scores, evidence, stored result and
explanation rounds (self-assessment and appraisal pages).
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, Q

from parindex.audit.models import AuditEntry
from scoring.concurrency import versions_text
from scoring.frameworks.rules import Rule, parse_rule
from scoring.frameworks.selectors import CriteriaTree, criteria_tree
from scoring.models import (
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Evidence,
    Score,
    appraisal_difference,
)

ZERO = Decimal("0")


# --- one assessment: the tree with its scores, evidence and explanation rounds -----------------------------


@dataclass
class SheetRow:
    """One criterion of an assessment: a heading (parent) or a leaf with its score and evidence."""

    criterion: Criterion
    score: Score | None = None
    evidence: list[Evidence] = field(default_factory=list)
    # A survey leaf of an optional survey the results leave out (AssessmentResult.survey_left_out):
    # it counts in no total, as in the stored results.
    left_out: bool = False

    @property
    def rule(self) -> Rule:
        """The leaf's scoring rule (the appraisal row asks for a raw figure when it takes one)."""
        return parse_rule(self.criterion.rule)

    @property
    def is_survey(self) -> bool:
        return self.criterion.source == CriterionSource.SURVEY

    @property
    def not_applicable(self) -> bool:
        """Not applicable as the results count it: the appraiser's decision, else the unit's proposal."""
        return bool(self.score and self.score.is_not_applicable)

    @property
    def na_proposed(self) -> bool:
        """The unit proposed this leaf as not applicable."""
        return bool(self.score and self.score.not_applicable)

    @property
    def na_decision(self) -> bool | None:
        """The appraiser's decision on not applicable: None undecided, True confirmed or imposed, False refused."""
        return self.score.appraised_not_applicable if self.score else None

    @property
    def na_open(self) -> bool:
        """A proposal of the unit still waiting for the appraiser's decision."""
        return self.na_proposed and self.na_decision is None

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
        """appraised − self (scoring.models.appraisal_difference) of a self-assessed leaf."""
        if self.criterion.source != CriterionSource.SELF:
            return None
        return appraisal_difference(self.self_points, self.appraised_points)

    @property
    def explanation_requested(self) -> bool:
        return bool(self.score and self.score.explanation_request)

    @property
    def pending(self) -> bool:
        """A scored self leaf still waiting for appraised points: what "accept the self points" fills
        (the rows services.appraisal_accept_self reads: not proposed nor imposed not applicable)."""
        return (
            self.appraisable
            and self.appraised_points is None
            and self.self_points is not None
            and not self.na_proposed
        )


@dataclass
class SheetArea:
    area: Criterion
    rows: list[SheetRow]

    @property
    def leaves(self) -> list[SheetRow]:
        return [row for row in self.rows if row.criterion.is_leaf]

    @property
    def counted(self) -> list[SheetRow]:
        return [row for row in self.leaves if not row.not_applicable and not row.left_out]

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
        return sum(1 for row in self.leaves if row.pending)

    @property
    def pending_versions(self) -> str:
        """The rows "accept the self points of this area" would fill, as the page shows them
        ("code:version,…"): the service accepts those only, and refuses if any changed since."""
        return versions_text(
            (row.criterion.code, row.score.version)
            for row in self.leaves
            if row.pending and row.score is not None
        )

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
            for criterion_id, (criterion, reason) in sorted(
                self.requests.items(), key=lambda item: item[1][0].order
            )
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
        """The explanation history (one query, when asked for; the criteria come from the tree)."""
        return explanation_rounds(self.assessment, criteria=self.tree.by_id)

    @property
    def leaves(self) -> list[SheetRow]:
        return [row for area in self.areas for row in area.leaves]

    def row(self, criterion_id: int) -> SheetRow | None:
        return next((row for row in self.leaves if row.criterion.pk == criterion_id), None)

    def area_of(self, criterion_id: int) -> SheetArea | None:
        return next(
            (area for area in self.areas if any(r.criterion.pk == criterion_id for r in area.rows)), None
        )

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

    def pending_versions(self, area_ids: Collection[int] | None = None) -> str:
        """The rows "accept all" would fill ("code:version,…"), of the areas `area_ids` (None: all)."""
        return versions_text(
            (row.criterion.code, row.score.version)
            for area in self.areas
            if area_ids is None or area.area.pk in area_ids
            for row in area.leaves
            if row.pending and row.score is not None
        )

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
        return sum(
            (row.appraised_points or ZERO for row in self.leaves if row.is_survey and not row.not_applicable),
            ZERO,
        )


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
                # `filename` is not a field of Evidence: a display attribute the evidence templates read.
                item.filename = item.file.name.rsplit("/", 1)[-1] if item.file else ""  # type: ignore[attr-defined]
            rows.append(SheetRow(criterion, score, evidence))
        areas.append(SheetArea(part.area, rows))
    sheet = AssessmentSheet(assessment, tree, areas)
    if assessment.framework.survey_optional:
        # Whether the results leave the survey out is the stored result's to say (one more query,
        # only for frameworks with an optional survey; the page reads the result anyway).
        result = AssessmentResult.objects.filter(assessment=assessment).select_related("framework").first()
        sheet.result = result
        if result is not None and result.survey_left_out:
            for row in sheet.leaves:
                row.left_out = row.is_survey
    return sheet


def explanation_rounds(
    assessment: Assessment, *, criteria: Mapping[int | None, Criterion] | None = None
) -> list[ExplanationRound]:
    """The rounds of explanation, read from the audit trail (one query): each return's message and
    the reasons per criterion, the unit's answers, and when it resubmitted. `criteria` (by id: the
    framework's tree, already read by the page) spares the query of the criteria named."""
    entries = list(
        AuditEntry.objects.filter(assessment_id=assessment.pk)
        .filter(Q(action__in=("explanation_request", "explain")) | Q(action="status"))
        .select_related("actor")
        .order_by("created_at", "id")
    )
    requested = {e.criterion_id for e in entries if e.action == "explanation_request" and e.criterion_id}
    if criteria is None or not requested <= criteria.keys():
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
