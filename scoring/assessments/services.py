"""Writes of assessments: self-assessment, appraisal, survey points, the explanation round,
submission and marking appraised, evidence, deadline extensions. Every write is atomic, audited,
refused on a published framework, and followed by a recompute of the stored results.
"""

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import AuditEntry
from parindex.db import retry_on_conflict
from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import NOT_APPLICABLE, NotApplicable, decimal_places, format_decimal
from scoring.concurrency import (
    APPRAISAL,
    EXPLANATION,
    ROW,
    SELF,
    SURVEY,
    StaleEdit,
    by_assessment,
    overwritten_fields,
    stale_scores,
)
from scoring.council.scope import council_areas, council_scope_errors
from scoring.frameworks.groups import GroupResolver
from scoring.frameworks.phases import Act, phase_ensure, phase_error, self_assessment_error
from scoring.frameworks.rules import PERCENT, Rule, parse_rule
from scoring.frameworks.services import (
    WorkflowError,
    audit,
    editable_framework,
    framework_ensure_editable,
    notify,
    refuse,
    when_text,
)
from scoring.locking import assessment_for_update
from scoring.models import (
    Assessment,
    AssessmentStatus,
    Criterion,
    CriterionSource,
    Evidence,
    Framework,
    Score,
    Via,
)
from scoring.results.engine import results_recompute
from units.models import Membership, Role, Unit, UnitKind

# --- assessments and scores ------------------------------------------------------------------------


def unit_kind_error(unit: Unit, framework: Framework) -> ServiceError | None:
    """The refusal to assess a unit of a kind the framework does not cover, or None."""
    if framework.covers(unit.kind):
        return None
    return ServiceError(
        N_("Unit %(unit)s is a %(kind)s; framework %(code)s assesses units of kind %(fkind)s."),
        params={
            "unit": unit.code,
            "kind": UnitKind(unit.kind).label,
            "code": framework.code,
            "fkind": framework.kinds_display,
        },
        obj=unit,
        field="unit",
    )


def assessed_elsewhere_errors(framework: Framework, units: Iterable[Unit]) -> dict[int, ServiceError]:
    """By unit id, the refusal to assess a unit already assessed in another framework of the same
    authority and year (a unit is assessed in exactly one framework a year). One query."""
    by_id = {unit.pk: unit for unit in units}
    if not by_id:
        return {}
    others = (
        Assessment.objects.filter(
            unit_id__in=list(units),
            framework__authority_id=framework.authority_id,
            framework__year=framework.year,
        )
        .exclude(framework=framework)
        .values_list("unit_id", "framework__code")
        .order_by("framework__code")
    )
    errors: dict[int, ServiceError] = {}
    for unit_id, other_code in others:
        errors.setdefault(
            unit_id,
            ServiceError(
                N_(
                    "Unit %(unit)s is already assessed in framework %(other)s of the same authority and "
                    "year %(year)s; a unit is assessed in one framework a year."
                ),
                code=ErrorCode.CONFLICT,
                params={"unit": by_id[unit_id].code, "other": other_code, "year": framework.year},
                obj=by_id[unit_id],
                field="unit",
            ),
        )
    return errors


def assessment_get_or_create(
    *, unit: Unit, framework: Framework, actor: User | None = None, via: str = Via.COMMAND
) -> Assessment:
    """The unit's assessment in the framework, created (in its ranking group) if it has none yet.
    Refused on a published framework, for a unit of a kind the framework does not cover, and for a
    unit already assessed in another framework of the same authority and year."""
    framework_ensure_editable(framework)
    existing = Assessment.objects.filter(unit=unit, framework=framework).first()
    if existing is not None:
        return existing
    refuse(
        [error for error in [unit_kind_error(unit, framework)] if error]
        + list(assessed_elsewhere_errors(framework, [unit]).values())
    )
    group = GroupResolver.of(framework).group_for(unit)
    assessment, created = Assessment.objects.get_or_create(
        unit=unit, framework=framework, defaults={"ranking_group": group}
    )
    if created:
        audit(framework, assessment=assessment, action="assessment_create", actor=actor, via=via).save()
    return assessment


@dataclass(frozen=True)
class SelfEntry:
    """A unit's self-assessment of one leaf. None for note/evidence leaves them as they are.

    A leaf whose rule takes a raw figure (yesno, percent, bands, deduct) is entered by `raw`; its
    points follow from the rule. A not-applicable proposal needs a reason: `not_applicable_reason`,
    else the note (the unit's written explanation), else the reason stored before."""

    points: Decimal | None
    not_applicable: bool = False
    note: str | None = None
    evidence_reference: str | None = None
    raw: str | None = None
    not_applicable_reason: str | None = None


@dataclass(frozen=True)
class AppraisalEntry:
    """The office's appraisal of one leaf; a reason is required whenever it differs from self.
    `raw` is the appraised raw figure of a leaf whose rule takes one (its points follow from it)."""

    points: Decimal | None
    reason: str = ""
    raw: str | None = None


@dataclass
class ApplyResult:
    changed: int = 0
    unchanged: int = 0
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (code, field, old, new)
    # The rows as stored after the save, {(assessment id, code): score} (also the unchanged ones): the
    # htmx row answers with them instead of reading them again.
    rows: dict[tuple[int, str], Score] = field(default_factory=dict)
    # scores_apply_self: each entry's row as it was before the save ({code: a copy, or None}), so
    # that the caller sees whether its submission_problem changed.
    before: dict[str, Score | None] = field(default_factory=dict)


SELF_STATUSES = (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)


def _points_problems(criterion: Criterion, points: Decimal | None, field: str) -> list[ServiceError]:
    """Points of a leaf: not negative, at most two decimals, not over the leaf's maximum."""
    if points is None:
        return []

    def problem(message: str, **params: object) -> list[ServiceError]:
        return [
            ServiceError(
                message,
                params={"value": points, **params},
                obj=criterion,
                field=field,
                criterion=criterion.code,
            )
        ]

    if points < 0:
        return problem(N_("%(value)s is negative; points cannot be negative."))
    if decimal_places(points) > 2:
        return [
            ServiceError(
                N_("%(value)s has more than two decimals."),
                params={"value": points.normalize()},
                obj=criterion,
                field=field,
                criterion=criterion.code,
            )
        ]
    if points > criterion.max_points:
        return problem(N_("%(value)s is more than the maximum %(max)s"), max=criterion.max_points)
    return []


def leaf_rule(criterion: Criterion) -> Rule:
    """The scoring rule of a leaf (its text was checked when the framework was made)."""
    return parse_rule(criterion.rule)


def _placed_on(error: ServiceError, criterion: Criterion, field: str) -> ServiceError:
    """A refusal of the rules module, named by the leaf and the score field it is about."""
    error.obj, error.criterion, error.field = criterion, criterion.code, field
    return error


def entry_points(
    criterion: Criterion, points: Decimal | None, raw: str | None, *, points_field: str
) -> tuple[Decimal | None, str, list[ServiceError]]:
    """(points, canonical raw text, problems) of what was entered for a leaf, under its rule.

    A leaf whose rule takes a raw figure is entered by that figure and its points are computed by
    `Rule.points` (points typed without the figure, or not matching it, are refused); other leaves
    take points, checked against their limits and the rule's levels (`Rule.points_problem`). Every
    problem names the criterion and the field ("raw" or `points_field`) so importers place it."""
    rule = leaf_rule(criterion)
    text = (raw or "").strip()
    if rule.takes_raw:
        if not text:
            if points is None:
                return None, "", []
            return (
                None,
                "",
                [
                    ServiceError(
                        N_(
                            "%(code)s is scored from its raw figure (%(hint)s); enter the figure, not points."
                        ),
                        params={"code": criterion.code, "hint": rule.raw_hint()},
                        obj=criterion,
                        field=points_field,
                        criterion=criterion.code,
                    )
                ],
            )
        try:
            computed = rule.points(text, criterion.max_points)
        except ServiceError as error:
            return None, "", [_placed_on(error, criterion, "raw")]
        if points is not None and points != computed:
            return (
                None,
                "",
                [
                    ServiceError(
                        N_("%(value)s are not the points of the raw figure %(raw)s (%(points)s)."),
                        params={"value": points, "raw": text, "points": computed},
                        obj=criterion,
                        field=points_field,
                        criterion=criterion.code,
                    )
                ],
            )
        return computed, text, []
    if text:
        refusal = ServiceError(N_("This criterion takes points, not a raw figure."), field="raw")
        return None, "", [_placed_on(refusal, criterion, "raw")]
    problems = _points_problems(criterion, points, points_field)
    if not problems and points is not None:
        problem = rule.points_problem(points, criterion.max_points)
        if problem is not None:
            problems = [_placed_on(problem, criterion, points_field)]
    return points, "", problems


def _leaves_and_problems(
    framework: Framework, codes: Iterable[str], criteria: Mapping[str, Criterion] | None = None
) -> tuple[dict[str, Criterion], list[ServiceError]]:
    """The leaves of the given codes, and an error for each code that is unknown or not a leaf.
    `criteria`: every criterion of the framework by code, when the caller has read them already."""
    codes = set(codes)
    if criteria is None:
        found = {c.code: c for c in Criterion.objects.filter(framework=framework, code__in=codes)}
    else:
        found = {code: criteria[code] for code in codes if code in criteria}
    problems = [
        ServiceError(
            N_("Criterion %(code)s is not in framework %(framework)s."),
            code=ErrorCode.NOT_FOUND,
            params={"code": code, "framework": framework.code},
            obj=framework,
            criterion=code,
        )
        for code in sorted(codes - set(found))
    ]
    problems += [
        ServiceError(
            N_("Only leaf criteria take points: %(codes)s."),
            params={"codes": code},
            obj=criterion,
            criterion=code,
        )
        for code, criterion in sorted(found.items())
        if not criterion.is_leaf
    ]
    return {code: c for code, c in found.items() if c.is_leaf}, problems


def _leaves_by_code(framework: Framework, codes: Iterable[str]) -> dict[str, Criterion]:
    leaves, problems = _leaves_and_problems(framework, codes)
    refuse(problems)
    return leaves


def _apply(
    assessment: Assessment,
    leaves: dict[str, Criterion],
    updates: Mapping[str, dict],
    *,
    action: str,
    actor: User | None,
    via: str,
    reasons: Mapping[str, str] | None = None,
    existing: Mapping[int, Score] | None = None,
) -> ApplyResult:
    """Upsert score fields of several leaves of one assessment and audit each changed field.
    `existing`: the assessment's rows of these leaves {criterion id: score}, read under its lock."""
    return _apply_many(
        {assessment.pk: assessment},
        leaves,
        {(assessment.pk, code): values for code, values in updates.items()},
        action=action,
        actor=actor,
        via=via,
        reasons={(assessment.pk, code): r for code, r in (reasons or {}).items()},
        existing=None if existing is None else {(assessment.pk, cid): s for cid, s in existing.items()},
    )


def _apply_many(
    assessments: Mapping[int, Assessment],
    leaves: dict[str, Criterion],
    updates: Mapping[tuple[int, str], dict],
    *,
    action: str,
    actor: User | None,
    via: str,
    reasons: Mapping[tuple[int, str], str] | None = None,
    existing: Mapping[tuple[int, int], Score] | None = None,
) -> ApplyResult:
    """Upsert score fields for (assessment id, leaf code) pairs in a fixed number of statements:
    one read of the current scores (none when the caller read them under its locks: `existing`,
    {(assessment id, criterion id): score}), one bulk upsert, one bulk insert of audit entries."""
    if existing is None:
        existing = {
            (s.assessment_id, s.criterion_id): s
            for s in Score.objects.filter(
                assessment__in=list(assessments), criterion__in=list(leaves.values())
            )
        }
    result = ApplyResult()
    to_save: list[Score] = []
    audits: list[AuditEntry] = []
    now = timezone.now()
    user = actor if getattr(actor, "pk", None) else None
    for (assessment_id, code), values in updates.items():
        assessment, criterion = assessments[assessment_id], leaves[code]
        score = existing.get((assessment_id, criterion.pk)) or Score(
            assessment=assessment, criterion=criterion
        )
        result.rows[(assessment_id, code)] = score
        changed_here = False
        for name, new in values.items():
            old = getattr(score, name)
            if old == new:
                continue
            setattr(score, name, new)
            changed_here = True
            audits.append(
                audit(
                    assessment.framework,
                    assessment=assessment,
                    criterion=criterion,
                    action=action,
                    actor=actor,
                    via=via,
                    field=name,
                    old=old,
                    new=new,
                    reason=(reasons or {}).get((assessment_id, code), ""),
                )
            )
            result.changes.append(
                (code, name, "" if old is None else str(old), "" if new is None else str(new))
            )
        if changed_here:
            score.updated_by, score.updated_at = user, now
            score.version = (score.version or 0) + 1  # the row's optimistic-concurrency version
            to_save.append(score)
            result.changed += 1
        else:
            result.unchanged += 1
    if to_save:
        update_fields = sorted(
            {name for values in updates.values() for name in values} | {"updated_by", "updated_at", "version"}
        )
        Score.objects.bulk_create(
            to_save,
            update_conflicts=True,
            unique_fields=["assessment", "criterion"],
            update_fields=update_fields,
            batch_size=1000,
        )
        AuditEntry.objects.bulk_create(audits, batch_size=1000)
    return result


def _keyed(assessment: Assessment, by_code: Mapping[str, Any] | None) -> dict[tuple[int, str], Any]:
    """{code: x} of one assessment as {(assessment id, code): x}, as _apply_many and its checks take it."""
    return {(assessment.pk, code): value for code, value in (by_code or {}).items()}


def overwrite_refusals(
    assessments: Mapping[int, Assessment],
    leaves: Mapping[str, Criterion],
    updates: Mapping[tuple[int, str], Mapping[str, Any]],
    expected: Mapping[tuple[int, str], Mapping[str, Any]] | None,
) -> list[ServiceError]:
    """The refusals (StaleEdit, ROW: its values now, who and when) of the rows whose write (`updates`,
    every field the service would write) would change a field that no longer holds the value an
    import's preview showed (`expected` {(assessment id, code): scoring.concurrency.row_snapshot}).
    Fields the write leaves alone (an explanation, a note the file does not change) are not compared.
    One query; call it under the service's locks, before anything is written."""
    wanted = {key: fields for key, fields in (expected or {}).items() if key in updates}
    if not wanted:
        return []
    existing = {
        (s.assessment_id, s.criterion_id): s
        for s in Score.objects.filter(
            assessment__in={aid for aid, _code in wanted},
            criterion__in=[leaves[code] for _aid, code in wanted if code in leaves],
        ).select_related("updated_by")
    }
    stale: list[ServiceError] = []
    for (assessment_id, code), fields in sorted(wanted.items()):
        criterion = leaves.get(code)
        if criterion is None:
            continue
        score = existing.get((assessment_id, criterion.pk))
        if overwritten_fields(score or Score(), updates[(assessment_id, code)], fields):
            unit = assessments[assessment_id].unit.code if len(assessments) > 1 else None
            stale.append(StaleEdit.of_score(score, criterion, part=ROW, unit=unit))
    return stale


@dataclass(frozen=True)
class _Entered:
    """What a leaf's entry stores once checked: points (computed from the raw figure under a rule that
    takes one), the canonical raw text, and the not-applicable reason."""

    points: Decimal | None
    raw: str = ""
    reason: str = ""


def _source_error(criterion: Criterion, field: str, *, by: str) -> ServiceError:
    """The refusal to score a leaf of another source (`by` "unit" or "appraisal")."""
    if criterion.source == CriterionSource.OFFICE:
        message = N_("%(code)s is scored by the office, not by the unit.")
    elif by == "unit":
        message = N_("%(code)s is scored by the survey, not by the unit.")
    else:
        message = N_("%(code)s is scored by the survey, not by appraisal.")
    return ServiceError(
        message, params={"code": criterion.code}, obj=criterion, field=field, criterion=criterion.code
    )


def _self_problems(
    assessment: Assessment,
    entries: Mapping[str, SelfEntry],
    *,
    by_unit: bool,
    criteria: Mapping[str, Criterion] | None = None,
    scores: Mapping[int, Score] | None = None,
) -> tuple[dict[str, Criterion], dict[str, _Entered], list[ServiceError]]:
    """(the leaves of the entries, what each entry stores, every reason scores_apply_self refuses them).
    `by_unit`: the entries are the unit's own proposal (its officer), whose not-applicable marks need a
    reason; the office entering on its behalf (or a command without a user) records what it was given.
    `criteria` (by code) and `scores` (the assessment's, by criterion id): already read by the caller."""
    framework = assessment.framework
    closed = self_assessment_error(assessment, by_unit=by_unit)  # the phase and the unit's own deadline
    if closed is not None:
        return {}, {}, [closed]
    problems = [error for error in [unit_kind_error(assessment.unit, framework)] if error]
    if assessment.status not in SELF_STATUSES:
        problems.append(
            WorkflowError(
                N_(
                    "The self-assessment of %(unit)s is %(status)s; it can be changed only before submission or when "
                    "returned for explanation."
                ),
                params={"unit": assessment.unit.code, "status": AssessmentStatus(assessment.status).label},
                obj=assessment,
                field="status",
            )
        )
    leaves, unknown = _leaves_and_problems(framework, entries, criteria)
    problems += unknown
    stored: Mapping[int, Score] = {}
    returned = returned_codes(assessment)
    if scores is not None:
        stored = scores
    elif assessment.pk and (returned is not None or any(e.not_applicable for e in entries.values())):
        stored = {
            s.criterion_id: s
            for s in Score.objects.filter(assessment=assessment, criterion__in=list(leaves.values()))
        }
    entered: dict[str, _Entered] = {}
    for code, entry in entries.items():
        criterion = leaves.get(code)
        if criterion is None:
            continue
        if criterion.source != CriterionSource.SELF:
            problems.append(_source_error(criterion, "self_points", by="unit"))
        elif entry.not_applicable:
            if not criterion.allows_not_applicable:
                problems.append(
                    ServiceError(
                        N_("This criterion cannot be marked not applicable."),
                        obj=criterion,
                        field="not_applicable",
                        criterion=code,
                    )
                )
                continue
            score = stored.get(criterion.pk)
            reason = next(
                (
                    text.strip()
                    for text in (
                        entry.not_applicable_reason,
                        entry.note,
                        score.not_applicable_reason if score else None,
                        score.note if score else None,
                    )
                    if text is not None and text.strip()
                ),
                "",
            )
            if not reason and by_unit:
                problems.append(
                    ServiceError(
                        N_("Say why %(code)s is not applicable to the unit."),
                        params={"code": code},
                        obj=criterion,
                        field="not_applicable_reason",
                        criterion=code,
                    )
                )
            entered[code] = _Entered(None, "", reason)
        else:
            points, raw, refusals = entry_points(
                criterion, entry.points, entry.raw, points_field="self_points"
            )
            problems += refusals
            entered[code] = _Entered(points, raw)
    if returned is not None:
        problems += [
            _not_returned_error(leaves[code], returned)
            for code in entered
            if code not in returned
            and _self_values(entries[code], entered[code]).items()
            - _stored_values(stored.get(leaves[code].pk)).items()
        ]
    return leaves, entered, problems


def returned_codes(assessment: Assessment) -> set[str] | None:
    """The codes of the criteria returned for explanation in the current round of a returned
    assessment, the only rows its self-assessment may change in that round; None when the assessment
    is not returned, or its return named no criterion (then the whole self-assessment is open again)."""
    if not assessment.pk or assessment.status != AssessmentStatus.RETURNED:
        return None
    codes = set(
        Score.objects.filter(
            assessment=assessment, explanation_requested_round=assessment.explanation_round
        ).values_list("criterion__code", flat=True)
    )
    return codes or None


def _not_returned_error(criterion: Criterion, returned: set[str]) -> ServiceError:
    return WorkflowError(
        N_(
            "Criterion %(code)s was not returned for explanation; in this round only the criteria returned "
            "may be changed (%(codes)s)."
        ),
        params={"code": criterion.code, "codes": ", ".join(sorted(returned))},
        obj=criterion,
        field="self_points",
        criterion=criterion.code,
    )


def _self_values(entry: SelfEntry, stored: _Entered) -> dict[str, object]:
    """The score fields a self entry writes (note and evidence only when given)."""
    values: dict[str, object] = {
        "self_points": stored.points,
        "self_raw": stored.raw,
        "not_applicable": bool(entry.not_applicable),
        "not_applicable_reason": stored.reason,
    }
    if entry.note is not None:
        values["note"] = entry.note
    if entry.evidence_reference is not None:
        values["evidence_reference"] = entry.evidence_reference
    return values


def _stored_values(score: Score | None) -> dict[str, object]:
    score = score or Score()
    return {name: getattr(score, name) for name in SELF_FIELDS}


# The fields of a self row the appraisal judges: a change to any of them on an appraised row reopens it.
APPRAISED_SELF_FIELDS = ("self_points", "self_raw", "not_applicable")
REOPENED_APPRAISAL = {"appraised_points": None, "appraised_raw": "", "appraisal_reason": ""}


def _assessment_to_check(unit: Unit, framework: Framework) -> Assessment:
    """The unit's assessment in the framework, or an unsaved one: the pure checks (`*_problems`) judge
    a file before anything is written, when the assessment may not exist yet."""
    return Assessment.objects.filter(unit=unit, framework=framework).first() or Assessment(
        unit=unit, framework=framework
    )


def scores_self_problems(
    *, unit: Unit, framework: Framework, entries: Mapping[str, SelfEntry], by_unit: bool = False
) -> list[ServiceError]:
    """Every reason scores_apply_self would refuse these entries for the unit (reads, writes nothing):
    importers place them on their cells before anything is written. `by_unit` as in scores_apply_self
    (an actor who is not acting on the unit's behalf)."""
    return scores_self_review(unit=unit, framework=framework, entries=entries, by_unit=by_unit)[0]


def scores_self_changes(
    *, unit: Unit, framework: Framework, entries: Mapping[str, SelfEntry], by_unit: bool = False
) -> list[tuple[str, str, object, object]]:
    """(code, field, old, new) of every field scores_apply_self would change with these entries (reads,
    writes nothing; entries it would refuse are left out): the preview of an import shows exactly what
    saving it writes."""
    return scores_self_review(unit=unit, framework=framework, entries=entries, by_unit=by_unit)[1]


_UNREAD = object()


def scores_self_review(
    *,
    unit: Unit,
    framework: Framework,
    entries: Mapping[str, SelfEntry],
    by_unit: bool = False,
    assessment: Assessment | None | object = _UNREAD,
    criteria: Mapping[str, Criterion] | None = None,
    scores: Mapping[int, Score] | None = None,
) -> tuple[list[ServiceError], list[tuple[str, str, object, object]]]:
    """scores_self_problems and scores_self_changes in one pass: one judgement of the entries, one read
    of the stored scores. An upload that has already read the unit's assessment (None: it has none
    yet), the framework's criteria (by code) and the assessment's scores (by criterion id) passes them,
    so that checking and previewing a file read each once."""
    if assessment is _UNREAD:
        checked = _assessment_to_check(unit, framework)
    elif assessment is None:
        checked = Assessment(unit=unit, framework=framework)
    else:
        assert isinstance(assessment, Assessment)
        checked = assessment
    if not checked.pk:
        scores = {}
    leaves, entered, problems = _self_problems(
        checked, entries, by_unit=by_unit, criteria=criteria, scores=scores
    )
    if scores is None:
        scores = {}
        if checked.pk:
            scores = {
                s.criterion_id: s
                for s in Score.objects.filter(assessment=checked, criterion__in=list(leaves.values()))
            }
    changes = []
    for code, stored in entered.items():
        old = _stored_values(scores.get(leaves[code].pk))
        for name, new in _self_values(entries[code], stored).items():
            if old[name] != new:
                changes.append((code, name, old[name], new))
    return problems, changes


@retry_on_conflict
@transaction.atomic
def scores_apply_self(
    *,
    assessment: Assessment,
    entries: Mapping[str, SelfEntry],
    actor: User | None = None,
    via: str = Via.WEB,
    on_behalf: bool = False,
    versions: Mapping[str, int | None] | None = None,
    expected: Mapping[str, Mapping[str, Any]] | None = None,
    criteria: Mapping[str, Criterion] | None = None,
) -> ApplyResult:
    """Store a unit's self-assessment for several leaves (keyed by criterion code), all or nothing.
    Refused with every problem at once (each naming its criterion and field). `versions` {code: the
    row's version the person read}: a row changed since is refused first (StaleEdit), nothing saved.
    `expected` {code: the row's fields as an import's preview showed them}: a row whose write would
    change a field another person changed since is refused (overwrite_refusals), nothing saved.

    A leaf whose rule takes a raw figure stores the figure (self_raw) and the points the rule gives;
    office and survey leaves are not the unit's to score; a not-applicable proposal by the unit's
    officer needs a reason (entered on its behalf, the reason given, if any, is kept).

    `criteria` {code: criterion}: the entries' criteria, when the caller has read them (the htmx row:
    the criterion of its URL); the rows themselves are read once, under the lock, for the version
    check, the rules and the upsert alike. The result holds the rows as stored (`rows`) and as they
    were before (`before`)."""
    assessment = assessment_for_update(assessment)
    by_unit = getattr(actor, "pk", None) is not None and not on_behalf
    if criteria is not None:
        # The caller's criteria, of this framework only (anything else is refused as unknown).
        known = {code: c for code, c in criteria.items() if c.framework_id == assessment.framework_id}
        current = _scores_of(assessment, [c for c in known.values() if c.is_leaf])
        leaves, entered, problems = _self_problems(
            assessment, entries, by_unit=by_unit, criteria=known, scores=current
        )
    else:
        leaves, entered, problems = _self_problems(assessment, entries, by_unit=by_unit)
        current = _scores_of(assessment, list(leaves.values()))
    refuse(
        stale_scores(
            by_assessment(assessment.pk, versions),
            leaves,
            part=SELF,
            scores={(assessment.pk, cid): s for cid, s in current.items()},
        )
    )
    refuse(problems)
    before = {code: copy.copy(current.get(leaf.pk)) for code, leaf in leaves.items()}
    updates: dict[str, dict] = {}
    reopened: dict[str, dict] = {}
    for code, entry in entries.items():
        stored = entered[code]
        values = _self_values(entry, stored)
        score = current.get(leaves[code].pk)
        if _proposal_changed(score, entry, stored.reason):
            values["appraised_not_applicable"] = None  # the appraiser decides the new proposal afresh
        if (
            score is not None
            and score.appraised_points is not None
            and any(values[name] != getattr(score, name) for name in APPRAISED_SELF_FIELDS)
        ):
            # The appraisal judged figures that are no longer the unit's: the row is open for
            # appraisal again (so neither "accept all" nor marking appraised can pass it by).
            reopened[code] = REOPENED_APPRAISAL
        updates[code] = values
    # What the confirm of an import writes (the reopened appraisal too) against what its preview showed.
    refuse(
        overwrite_refusals(
            {assessment.pk: assessment},
            leaves,
            {(assessment.pk, code): {**values, **reopened.get(code, {})} for code, values in updates.items()},
            _keyed(assessment, expected),
        )
    )
    action = "self_on_behalf" if on_behalf else "self_score"
    result = _apply(assessment, leaves, updates, action=action, actor=actor, via=via, existing=current)
    result.before = before
    if reopened:
        reason = _("the unit changed its self-assessment after the appraisal")
        _apply(
            assessment,
            leaves,
            reopened,
            action="appraisal_reopen",
            actor=actor,
            via=via,
            reasons=dict.fromkeys(reopened, reason),
            existing=current,  # the same objects, as the first upsert left them
        )
    if result.changed:
        results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return result


def _scores_of(assessment: Assessment, leaves: list[Criterion]) -> dict[int, Score]:
    """The assessment's rows of these leaves {criterion id: score}, with who last changed them (the
    stale-edit refusal names them). Read under the assessment's lock."""
    return {
        s.criterion_id: s
        for s in Score.objects.filter(assessment=assessment, criterion__in=leaves).select_related(
            "updated_by"
        )
    }


def _proposal_changed(score: Score | None, entry: SelfEntry, reason: str) -> bool:
    """Whether the unit changes its not-applicable proposal on a leaf the appraiser has decided
    (`score.appraised_not_applicable` set): it withdraws a proposal, proposes a leaf not yet proposed,
    or proposes again, with a new reason, a leaf whose proposal was refused. That decision answered
    another proposal, so it is cleared (audited like every field) and the appraiser decides again."""
    if score is None or score.appraised_not_applicable is None:
        return False
    proposed = bool(entry.not_applicable)
    if proposed != score.not_applicable:
        return True
    return proposed and score.appraised_not_applicable is False and reason != score.not_applicable_reason


def _is_officer(actor: User | None, assessment: Assessment) -> bool:
    """The actor is one of the unit's own officers (not the office acting on its behalf): the unit's
    own deadline binds them (phases.self_assessment_error)."""
    if actor is None or actor.pk is None:
        return False
    return Membership.objects.filter(user_id=actor.pk, unit_id=assessment.unit_id, role=Role.OFFICER).exists()


APPRAISABLE_STATUSES = (AssessmentStatus.SUBMITTED, AssessmentStatus.APPRAISED)


def appraisal_status_error(assessment: Assessment) -> WorkflowError | None:
    """Why the assessment cannot be appraised in its status (never submitted, returned, published),
    or None. The appraisal page, uploads and commands all answer with this."""
    if assessment.status == AssessmentStatus.DRAFT:
        message = N_(
            "The unit has not submitted its self-assessment yet; it can be appraised once submitted."
        )
    elif assessment.status == AssessmentStatus.RETURNED:
        message = N_(
            "The assessment is returned for explanation; it can be appraised again when the unit resubmits."
        )
    elif assessment.status not in APPRAISABLE_STATUSES:
        message = N_("The assessment is %(status)s and can no longer be appraised.")
    else:
        return None
    return WorkflowError(
        message, params={"status": AssessmentStatus(assessment.status).label}, obj=assessment, field="status"
    )


APPRAISED_SOURCES = (CriterionSource.SELF, CriterionSource.OFFICE)


def _appraisal_problems(
    assessment: Assessment,
    entries: Mapping[str, AppraisalEntry],
    actor: User | None = None,
    *,
    act: str = Act.APPRAISE,
) -> tuple[dict[str, Criterion], dict[str, _Entered], list[ServiceError]]:
    """(the leaves of the entries, what each entry stores, every reason scores_apply_appraisal
    refuses them). Self-assessed and office leaves are appraised; survey leaves are not. `act` is what
    the framework's phase must allow: appraising, or answering an appeal (scoring.appeals.services).
    A council member appraises only the leaves of their areas (scoring.council.scope)."""
    framework = assessment.framework
    locked = phase_error(framework, act)
    if locked is not None:
        return {}, {}, [locked]
    problems = [
        error
        for error in [unit_kind_error(assessment.unit, framework), appraisal_status_error(assessment)]
        if error
    ]
    leaves, unknown = _leaves_and_problems(framework, entries)
    problems += unknown
    problems += council_scope_errors(actor, framework, leaves.values())
    current = {}
    if assessment.pk:
        current = {
            s.criterion_id: s
            for s in Score.objects.filter(assessment=assessment, criterion__in=leaves.values())
        }
    entered: dict[str, _Entered] = {}
    for code, entry in entries.items():
        criterion = leaves.get(code)
        if criterion is None:
            continue
        if criterion.source not in APPRAISED_SOURCES:
            problems.append(_source_error(criterion, "appraised_points", by="appraisal"))
            continue
        points, raw, points_problems = entry_points(
            criterion, entry.points, entry.raw, points_field="appraised_points"
        )
        problems += points_problems
        entered[code] = _Entered(points, raw)
        score = current.get(criterion.pk)
        if points is not None and score is not None and score.appraised_not_applicable:
            # Confirmed or imposed not applicable: the leaf counts nowhere, so points on it would be
            # stored but never counted. The decision is changed first (refused: then it is scored).
            problems.append(
                ServiceError(
                    N_(
                        "%(code)s is decided not applicable by the appraiser; it takes no appraised points "
                        "unless that decision is changed."
                    ),
                    params={"code": code},
                    obj=criterion,
                    field="appraised_points",
                    criterion=code,
                )
            )
            continue
        self_points = score.self_points if score else None
        if (
            not points_problems
            and criterion.source == CriterionSource.SELF
            and points is not None
            and points != self_points
            and not (entry.reason or "").strip()
        ):
            problems.append(
                ServiceError(
                    N_(
                        "The appraised points %(new)s differ from the self-assessed %(old)s; a reason is required."
                    ),
                    params={"new": points, "old": self_points},
                    obj=criterion,
                    field="appraisal_reason",
                    criterion=code,
                )
            )
    return leaves, entered, problems


def scores_appraisal_problems(
    *,
    unit: Unit,
    framework: Framework,
    entries: Mapping[str, AppraisalEntry],
    actor: User | None = None,
) -> list[ServiceError]:
    """Every reason scores_apply_appraisal would refuse these entries for the unit (reads, writes
    nothing): importers place them on their cells before anything is written."""
    return _appraisal_problems(_assessment_to_check(unit, framework), entries, actor)[2]


@retry_on_conflict
@transaction.atomic
def scores_apply_appraisal(
    *,
    assessment: Assessment,
    entries: Mapping[str, AppraisalEntry],
    actor: User | None = None,
    via: str = Via.WEB,
    _phase_act: str = Act.APPRAISE,
    versions: Mapping[str, int | None] | None = None,
    expected: Mapping[str, Mapping[str, Any]] | None = None,
) -> ApplyResult:
    """Store appraised points for several leaves of a submitted (or appraised) assessment; a reason
    is required where they differ from self. Refused with every problem at once. Office leaves are
    scored here (the office alone scores them); a leaf whose rule takes a raw figure is appraised by
    the figure (appraised_raw) and gets the points the rule gives.

    When every applicable self-assessed and office leaf then has appraised points, the assessment is
    marked appraised (its result stops being provisional).

    Refused in a phase that does not allow appraising. `_phase_act` is internal: only the answer to an
    appeal (scoring.appeals.services.appeal_answer) passes Act.ANSWER_APPEAL, so that after the
    preliminary results the points move only through appeals (audited as "appeal_accept").

    `expected` {code: the row's fields as an import's preview showed them}: see scores_apply_self."""
    assessment = assessment_for_update(assessment)
    leaves, entered, problems = _appraisal_problems(assessment, entries, actor, act=_phase_act)
    # A row changed since the person read it (`versions` {code: version}) is refused before anything.
    refuse(stale_scores(by_assessment(assessment.pk, versions), leaves, part=APPRAISAL))
    refuse(problems)
    updates: dict[str, dict] = {}
    reasons: dict[str, str] = {}
    for code, entry in entries.items():
        reason = (entry.reason or "").strip()
        stored = entered[code]
        updates[code] = {
            "appraised_points": stored.points,
            "appraised_raw": stored.raw,
            "appraisal_reason": reason,
        }
        reasons[code] = reason
    refuse(
        overwrite_refusals(
            {assessment.pk: assessment}, leaves, _keyed(assessment, updates), _keyed(assessment, expected)
        )
    )
    action = "appeal_accept" if _phase_act == Act.ANSWER_APPEAL else "appraise"
    result = _apply(assessment, leaves, updates, action=action, actor=actor, via=via, reasons=reasons)
    _mark_appraised_when_complete(assessment, actor=actor, via=via)
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return result


def unexplained_differences(assessment: Assessment) -> list[str]:
    """Codes, in tree order, of the self-assessed leaves whose appraised points differ from the self
    points without a reason (DESIGN §3: a reason for every difference). One query."""
    rows = (
        Score.objects.filter(
            assessment=assessment, criterion__source=CriterionSource.SELF, appraised_points__isnull=False
        )
        .order_by("criterion__order")
        .values_list("criterion__code", "self_points", "appraised_points", "appraisal_reason")
    )
    return [
        code
        for code, self_points, appraised, reason in rows
        if appraised != self_points and not (reason or "").strip()
    ]


def appraised_gate_error(assessment: Assessment) -> ServiceError | None:
    """Why the assessment cannot become appraised (a difference without a reason), or None."""
    codes = unexplained_differences(assessment)
    if not codes:
        return None
    return ServiceError(
        N_(
            "The assessment cannot be marked appraised: the appraised points of %(codes)s differ from the "
            "self-assessed points without a reason."
        ),
        params={"codes": ", ".join(codes)},
        obj=assessment,
        field="appraisal_reason",
        criterion=codes[0],
    )


def _mark_appraised_when_complete(assessment: Assessment, *, actor: User | None, via: str) -> None:
    # A leaf is closed when the appraiser decided it not applicable, or when it has appraised points
    # and is not a not-applicable proposal still waiting for the appraiser's decision.
    closed = Score.objects.filter(assessment=assessment).filter(
        Q(appraised_not_applicable=True)
        | (Q(appraised_points__isnull=False) & ~Q(not_applicable=True, appraised_not_applicable__isnull=True))
    )
    open_leaves = Criterion.objects.filter(
        framework=assessment.framework, is_leaf=True, source__in=APPRAISED_SOURCES
    ).exclude(pk__in=closed.values("criterion_id"))
    if assessment.status != AssessmentStatus.APPRAISED and not open_leaves.exists():
        refuse([error for error in [appraised_gate_error(assessment)] if error])
        _set_status(assessment, AssessmentStatus.APPRAISED, actor=actor, via=via)
        notify("assessment_appraised", assessment.pk)


def _set_status(
    assessment: Assessment, status: str, *, actor: User | None, via: str, reason: str = ""
) -> None:
    old = assessment.status
    assessment.status = status
    now = timezone.now()
    fields = ["status", "updated_at"]
    if status == AssessmentStatus.SUBMITTED:
        assessment.submitted_at = now
        fields.append("submitted_at")
    if status == AssessmentStatus.APPRAISED:
        assessment.appraised_at = now
        fields.append("appraised_at")
    if status == AssessmentStatus.RETURNED:
        assessment.explanation_round += 1
        fields.append("explanation_round")
    assessment.save(update_fields=fields)
    audit(
        assessment.framework,
        assessment=assessment,
        action="status",
        field="status",
        old=old,
        new=status,
        actor=actor,
        via=via,
        reason=reason,
    ).save()


def self_leaf_settled(score: Score | None) -> bool:
    """The one definition of a "scored" self leaf, as the results count it (self_leaves_scored of
    self_leaves_applicable) and as the submission checks it: not applicable (Score.is_not_applicable)
    or with points (self-assessed, or appraised)."""
    return score is not None and (
        score.is_not_applicable or score.self_points is not None or score.appraised_points is not None
    )


def missing_self_scores(assessment: Assessment) -> list[Criterion]:
    """Self-assessed leaves that are not settled (self_leaf_settled): neither points nor not applicable."""
    scores = {s.criterion_id: s for s in Score.objects.filter(assessment=assessment)}
    return [
        leaf
        for leaf in Criterion.objects.filter(
            framework=assessment.framework, is_leaf=True, source=CriterionSource.SELF
        ).order_by("order")
        if not self_leaf_settled(scores.get(leaf.pk))
    ]


@dataclass(frozen=True)
class SubmissionProblem:
    criterion: Criterion
    reason: str  # "unscored" or "unproven"


def submission_problems(assessment: Assessment) -> list[SubmissionProblem]:
    """What stops a submission: leaves without points or a not-applicable mark, and scored leaves
    with neither evidence (a file, a document reference) nor a written explanation (note). Two queries."""
    from django.db.models import Count

    leaves = list(
        Criterion.objects.filter(
            framework=assessment.framework, is_leaf=True, source=CriterionSource.SELF
        ).order_by("order")
    )
    scores = {
        s.criterion_id: s
        for s in Score.objects.filter(assessment=assessment).annotate(evidence_count=Count("evidence"))
    }
    problems = []
    for leaf in leaves:
        score = scores.get(leaf.pk)
        reason = submission_problem(score, score.evidence_count if score is not None else 0)
        if reason is not None:
            problems.append(SubmissionProblem(leaf, reason))
    return problems


def submission_problem(score: Score | None, evidence_count: int) -> str | None:
    """What one self leaf's row lacks for the submission ("unscored", "unproven") or None: the rule
    of submission_problems, row by row (the htmx row save re-renders the checklist only when its
    row's answer changes)."""
    if score is None or not self_leaf_settled(score):
        return "unscored"
    if (
        not score.not_applicable
        and score.self_points
        and not evidence_count
        and not score.evidence_reference.strip()
        and not score.note.strip()
    ):
        return "unproven"
    return None


@transaction.atomic
def assessment_submit(*, assessment: Assessment, actor: User | None = None, via: str = Via.WEB) -> Assessment:
    """Submit (nộp) a self-assessment: every self leaf scored or not applicable, and every scored
    leaf backed by evidence or a written explanation."""
    assessment = assessment_for_update(assessment)
    closed = self_assessment_error(assessment, Act.SUBMIT, by_unit=_is_officer(actor, assessment))
    if closed is not None:
        raise closed
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(
            N_("Only a draft or returned assessment can be submitted."), obj=assessment, field="status"
        )
    problems = submission_problems(assessment)
    unscored = [p.criterion.code for p in problems if p.reason == "unscored"]
    unproven = [p.criterion.code for p in problems if p.reason == "unproven"]
    refusals = []
    if unscored:
        refusals.append(
            ServiceError(
                N_("Not every criterion is scored yet: %(codes)s."),
                params={"codes": ", ".join(unscored)},
                obj=assessment,
                field="self_points",
            )
        )
    if unproven:
        refusals.append(
            ServiceError(
                N_("These criteria have points but neither evidence nor a written explanation: %(codes)s."),
                params={"codes": ", ".join(unproven)},
                obj=assessment,
                field="evidence",
            )
        )
    refuse(refusals)
    was_returned = assessment.status == AssessmentStatus.RETURNED
    _set_status(
        assessment,
        AssessmentStatus.SUBMITTED,
        actor=actor,
        via=via,
        reason=_("resubmitted after explanation") if was_returned else "",
    )
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    notify("assessment_submitted", assessment.pk)
    return assessment


@transaction.atomic
def assessment_return(
    *,
    assessment: Assessment,
    message: str,
    criteria: Mapping[str, str] | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
    versions: Mapping[str, int | None] | None = None,
) -> Assessment:
    """Return a submitted assessment for explanation (giải trình): a message, and for each listed
    criterion code the reason it must be explained. The unit answers per criterion and resubmits.

    `versions` {code: the row's version the return form showed} of the listed criteria: a row changed
    since (its points, or the request of an earlier round the return would replace) is refused
    (StaleEdit), nothing returned."""
    assessment = assessment_for_update(assessment)
    phase_ensure(assessment.framework, Act.RETURN)
    if assessment.status != AssessmentStatus.SUBMITTED:
        raise WorkflowError(
            N_("Only a submitted assessment can be returned for explanation."), obj=assessment, field="status"
        )
    if versions:
        listed = {code: version for code, version in versions.items() if code in (criteria or {})}
        refuse(
            stale_scores(
                by_assessment(assessment.pk, listed),
                _leaves_by_code(assessment.framework, listed),
                part=ROW,
            )
        )
    if not message.strip():
        raise ServiceError(
            N_("Say what needs explaining when returning an assessment."), obj=assessment, field="message"
        )
    criteria = {code: (reason or "").strip() for code, reason in (criteria or {}).items()}
    without_reason = sorted(code for code, reason in criteria.items() if not reason)
    if without_reason:
        raise ServiceError(
            N_("Give a reason for each criterion to explain: %(codes)s."),
            params={"codes": ", ".join(without_reason)},
            obj=assessment,
            field="criteria",
            criterion=without_reason[0],
        )
    _set_status(assessment, AssessmentStatus.RETURNED, actor=actor, via=via, reason=message)
    assessment.return_message = message.strip()
    assessment.save(update_fields=["return_message", "updated_at"])
    if criteria:
        leaves = _leaves_by_code(assessment.framework, criteria)
        _apply(
            assessment,
            leaves,
            {
                code: {
                    "explanation_request": reason,
                    "explanation_requested_round": assessment.explanation_round,
                }
                for code, reason in criteria.items()
            },
            action="explanation_request",
            actor=actor,
            via=via,
            reasons=criteria,
        )
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    notify("assessment_returned", assessment.pk)
    return assessment


@transaction.atomic
def score_explain(
    *,
    assessment: Assessment,
    code: str,
    explanation: str,
    actor: User | None = None,
    via: str = Via.WEB,
    version: int | None = None,
) -> ApplyResult:
    """The unit's answer (giải trình) to an explanation request on one criterion (`version`: the
    row's version the person read; a row changed since is refused)."""
    assessment = assessment_for_update(assessment)
    phase_ensure(assessment.framework, Act.ANSWER_RETURN)
    if assessment.status != AssessmentStatus.RETURNED:
        raise WorkflowError(
            N_("Explanations are given while the assessment is returned for explanation."),
            obj=assessment,
            field="explanation",
            criterion=code,
        )
    leaves = _leaves_by_code(assessment.framework, [code])
    refuse(stale_scores(by_assessment(assessment.pk, {code: version}), leaves, part=EXPLANATION))
    returned = returned_codes(assessment)
    if returned is not None and code not in returned:
        raise _not_returned_error(leaves[code], returned)
    return _apply(
        assessment,
        leaves,
        {code: {"explanation": explanation.strip()}},
        action="explain",
        actor=actor,
        via=via,
    )


@transaction.atomic
def assessment_mark_appraised(
    *, assessment: Assessment, actor: User | None = None, via: str = Via.WEB
) -> Assessment:
    assessment = assessment_for_update(assessment)
    phase_ensure(assessment.framework, Act.APPRAISE)
    if assessment.status not in (AssessmentStatus.SUBMITTED, AssessmentStatus.APPRAISED):
        raise WorkflowError(
            N_("Only a submitted assessment can be marked appraised."), obj=assessment, field="status"
        )
    refuse([error for error in [appraised_gate_error(assessment)] if error])
    if assessment.status != AssessmentStatus.APPRAISED:
        _set_status(assessment, AssessmentStatus.APPRAISED, actor=actor, via=via)
        notify("assessment_appraised", assessment.pk)
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return assessment


SurveyValue = Decimal | NotApplicable | None


def _survey_percent_points(
    criterion: Criterion, value: Decimal, unit: Unit
) -> tuple[Decimal | None, ServiceError | None]:
    """Points of a survey percentage by the `percent` rule (max × p ÷ 100, half-up to two decimals)."""
    try:
        return Rule(kind=PERCENT).points(str(value), criterion.max_points), None
    except ServiceError as error:
        return None, ServiceError(
            error.message_id,
            params={**error.message_params, "value": value, "unit": unit.code},
            obj=unit,
            field="appraised_points",
            criterion=criterion.code,
        )


def _survey_problems(
    framework: Framework,
    entries: Mapping[str, Mapping[str, SurveyValue]],
    *,
    as_percent: bool = False,
    samples: Mapping[str, Mapping[str, int | None]] | None = None,
) -> tuple[dict[str, Criterion], dict[str, Unit], list[ServiceError], dict[tuple[str, str], dict]]:
    """(the survey leaves, the units by code, every reason survey_apply refuses the entries, the score
    fields to write by (unit code, criterion code)). An error about one unit carries its code in
    params["unit"] (and the unit as obj when it exists).

    A value is points, or a percentage satisfied when `as_percent` (converted by the `percent` rule),
    or NOT_APPLICABLE: the office's decision that the leaf does not apply to the unit. `samples` keeps
    the survey's sample size per unit and leaf."""
    samples = samples or {}
    closed = phase_error(framework, Act.SURVEY)
    if closed is not None:
        return {}, {}, [closed], {}
    codes = {code for values in entries.values() for code in values}
    codes |= {code for values in samples.values() for code in values}
    found = {c.code: c for c in Criterion.objects.filter(framework=framework, code__in=codes)}
    problems = [
        ServiceError(
            N_("Criterion %(code)s is not in framework %(framework)s."),
            code=ErrorCode.NOT_FOUND,
            params={"code": code, "framework": framework.code},
            obj=framework,
            criterion=code,
        )
        for code in sorted(codes - set(found))
    ]
    problems += [
        ServiceError(
            N_("Criterion %(code)s is not a survey criterion."),
            params={"code": code},
            obj=criterion,
            field="appraised_points",
            criterion=code,
        )
        for code, criterion in sorted(found.items())
        if not criterion.is_leaf or criterion.source != CriterionSource.SURVEY
    ]
    leaves = {code: criterion for code, criterion in found.items() if criterion.is_leaf}
    units = {u.code: u for u in Unit.objects.filter(code__in=list(entries) + list(samples))}
    assessed_here = set(
        Assessment.objects.filter(framework=framework, unit__in=units.values()).values_list(
            "unit_id", flat=True
        )
    )
    elsewhere = assessed_elsewhere_errors(framework, [u for u in units.values() if u.pk not in assessed_here])
    updates: dict[tuple[str, str], dict] = {}
    for unit_code in dict.fromkeys([*entries, *samples]):
        values = entries.get(unit_code, {})
        unit = units.get(unit_code)
        if unit is None:
            problems.append(
                ServiceError(
                    N_("Unknown unit %(code)s."),
                    code=ErrorCode.NOT_FOUND,
                    params={"code": unit_code, "unit": unit_code},
                    obj=unit_code,
                    field="unit",
                )
            )
            continue
        kind_error = unit_kind_error(unit, framework) or elsewhere.get(unit.pk)
        if kind_error is not None:
            problems.append(kind_error)
            continue
        for code, value in values.items():
            criterion = leaves.get(code)
            if criterion is None or criterion.source != CriterionSource.SURVEY:
                continue
            if value is NOT_APPLICABLE:
                if not criterion.allows_not_applicable:
                    problems.append(
                        ServiceError(
                            N_("This criterion cannot be marked not applicable."),
                            params={"unit": unit_code},
                            obj=unit,
                            field="appraised_points",
                            criterion=code,
                        )
                    )
                    continue
                updates[(unit_code, code)] = {"appraised_points": None, "appraised_not_applicable": True}
                continue
            points = value if isinstance(value, Decimal) else None
            if as_percent and points is not None:
                points, error = _survey_percent_points(criterion, points, unit)
                if error is not None:
                    problems.append(error)
                    continue
            point_problems = _points_problems(criterion, points, "appraised_points")
            for problem in point_problems:
                problem.message_params["unit"] = unit_code
                problem.obj = unit
                problems.append(problem)
            if not point_problems:
                updates[(unit_code, code)] = {"appraised_points": points, "appraised_not_applicable": None}
        for code, sample in samples.get(unit_code, {}).items():
            criterion = leaves.get(code)
            if criterion is None or criterion.source != CriterionSource.SURVEY:
                continue
            if sample is not None and sample < 1:
                problems.append(
                    ServiceError(
                        N_("The sample size %(value)s is not a number of people surveyed (1, 2, 3 …)."),
                        params={"value": sample, "unit": unit_code},
                        obj=unit,
                        field="survey_sample",
                        criterion=code,
                    )
                )
                continue
            updates.setdefault((unit_code, code), {})["survey_sample"] = sample
    return leaves, units, problems, updates


def survey_problems(
    *,
    framework: Framework,
    entries: Mapping[str, Mapping[str, SurveyValue]],
    as_percent: bool = False,
    samples: Mapping[str, Mapping[str, int | None]] | None = None,
) -> list[ServiceError]:
    """Every reason survey_apply would refuse these entries (reads, writes nothing): importers place
    them on their cells before anything is written."""
    return _survey_problems(framework, entries, as_percent=as_percent, samples=samples)[2]


@transaction.atomic
def survey_apply(
    *,
    framework: Framework,
    entries: Mapping[str, Mapping[str, SurveyValue]],
    as_percent: bool = False,
    samples: Mapping[str, Mapping[str, int | None]] | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
    versions: Mapping[str, Mapping[str, int | None]] | None = None,
    expected: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> ApplyResult:
    """Store survey results: {unit code: {survey criterion code: points}}, for all units at once, on
    assessments in any status before publication. Refused with every problem at once.

    With `as_percent` the values are percentages satisfied, converted to max × p ÷ 100 (the
    `percent` rule, half-up to two decimals). NOT_APPLICABLE marks the leaf not applicable to the
    unit: survey results are the office's figures, so this is the office's decision
    (appraised_not_applicable, what Score.is_not_applicable and the results count first), never a
    proposal waiting for a decision. `samples` {unit code: {code: sample size}} is kept beside them.

    Survey points live in appraised_points of the survey leaves. Assessments are created for units that
    have none yet. A fixed number of statements whatever the number of units. `versions` {unit code:
    {code: the row's version read}}: a cell changed since it was read is refused (StaleEdit).
    `expected` {unit code: {code: the row's fields as an import's preview showed them}}: a cell whose
    write would change a field another person changed since is refused (overwrite_refusals)."""
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    leaves, units, problems, wanted = _survey_problems(
        framework, entries, as_percent=as_percent, samples=samples
    )
    refuse(problems)
    assessments = {
        a.unit_id: a
        for a in Assessment.objects.filter(framework=framework, unit__in=units.values()).select_related(
            "unit"
        )
    }
    resolver = GroupResolver.of(framework)
    missing = [
        Assessment(unit=unit, framework=framework, ranking_group=resolver.group_for(unit))
        for unit in units.values()
        if unit.pk not in assessments
    ]
    if missing:
        Assessment.objects.bulk_create(missing, batch_size=1000)
        assessments = {
            a.unit_id: a
            for a in Assessment.objects.filter(framework=framework, unit__in=units.values()).select_related(
                "unit"
            )
        }
        AuditEntry.objects.bulk_create(
            [
                audit(
                    framework,
                    assessment=assessments[a.unit_id],
                    action="assessment_create",
                    actor=actor,
                    via=via,
                )
                for a in missing
            ],
            batch_size=1000,
        )
    for assessment in assessments.values():
        assessment.framework = framework
    by_id = {a.pk: a for a in assessments.values()}
    if versions:
        read = {
            (assessments[units[unit_code].pk].pk, code): version
            for unit_code, cells in versions.items()
            if unit_code in units and units[unit_code].pk in assessments
            for code, version in cells.items()
        }
        labels = {a.pk: a.unit.code for a in assessments.values()}
        refuse(stale_scores(read, leaves, part=SURVEY, labels=labels))
    if expected:
        aid = {code: a.pk for code, a in ((a.unit.code, a) for a in assessments.values())}
        refuse(
            overwrite_refusals(
                by_id,
                leaves,
                {(assessments[units[u].pk].pk, code): values for (u, code), values in wanted.items()},
                {
                    (aid[unit_code], code): fields
                    for unit_code, rows in expected.items()
                    if unit_code in aid
                    for code, fields in rows.items()
                },
            )
        )
    result = ApplyResult()
    # One upsert per set of fields written (points, a sample size, or both): a few statements in all.
    for names in {tuple(sorted(values)) for values in wanted.values()}:
        updates = {
            (assessments[units[unit_code].pk].pk, code): values
            for (unit_code, code), values in wanted.items()
            if tuple(sorted(values)) == names
        }
        done = _apply_many(by_id, leaves, updates, action="survey", actor=actor, via=via)
        result.changed += done.changed
        result.unchanged += done.unchanged
        result.changes += done.changes
    if result.changed or missing:
        results_recompute(framework, assessment_ids=list(by_id))
    return result


@transaction.atomic
def assessment_extend_deadline(
    *,
    assessment: Assessment,
    until: datetime | None,
    reason: str,
    actor: User | None = None,
    via: str = Via.WEB,
) -> Assessment:
    """Give one unit more time for its self-assessment (gia hạn)."""
    assessment = assessment_for_update(assessment)
    phase_ensure(assessment.framework, Act.EXTEND)
    if not reason.strip():
        raise ServiceError(N_("Say why the deadline is extended."), obj=assessment, field="reason")
    if until is None or until <= timezone.now():
        raise ServiceError(N_("The new deadline must be in the future."), obj=assessment, field="until")
    if assessment.framework.self_deadline and until <= assessment.framework.self_deadline:
        raise ServiceError(
            N_("An extension must end after the framework's deadline."), obj=assessment, field="until"
        )
    old = assessment.self_deadline_extended_to
    assessment.self_deadline_extended_to = until
    assessment.save(update_fields=["self_deadline_extended_to", "updated_at"])
    audit(
        assessment.framework,
        assessment=assessment,
        action="deadline_extension",
        field="self_deadline",
        old=when_text(old or assessment.framework.self_deadline),
        new=when_text(until),
        reason=reason,
        actor=actor,
        via=via,
    ).save()
    return assessment


# --- appraisal helpers and evidence ---------------------------------------------------------------------


@transaction.atomic
def appraisal_accept_self(
    *,
    assessment: Assessment,
    area_code: str | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
    shown: Mapping[str, int] | None = None,
) -> ApplyResult:
    """Accept the unit's own points as appraised, for every self leaf or those of one area, in one step.
    Leaves already appraised keep their appraisal.

    `shown` {code: version}: the rows the person's page showed waiting (AssessmentSheet
    .pending_versions). Only those are accepted, and nothing is if one of them changed since, or if a
    row waits now that the page did not show (each refused as StaleEdit, with its values now, who and
    when). None (commands): the rows waiting now are accepted as read here."""
    leaves = Criterion.objects.filter(
        framework=assessment.framework_id, is_leaf=True, source=CriterionSource.SELF
    )
    if area_code:
        leaves = leaves.filter(area__code=area_code)
    else:
        # "Every leaf" of a council member is every leaf of their areas.
        areas = council_areas(actor, assessment.framework)
        if areas is not None:
            leaves = leaves.filter(area_id__in=areas)
    # Leaves the appraiser imposed not applicable are left out too.
    rows = list(
        Score.objects.filter(
            assessment=assessment,
            criterion__in=leaves,
            appraised_points__isnull=True,
            self_points__isnull=False,
            not_applicable=False,
        )
        .exclude(appraised_not_applicable=True)
        .select_related("criterion", "updated_by")
    )
    stale: list[ServiceError] = []
    if shown is None:
        # The rows as read here: one changed before the lock below is refused, not accepted unseen.
        versions: dict[str, int | None] = {row.criterion.code: row.version for row in rows}
    else:
        waiting = {row.criterion.code for row in rows}
        in_scope = {criterion.code: criterion for criterion in leaves}
        # A row shown whose version moved (appraised meanwhile, its self points changed…).
        stale += stale_scores(
            by_assessment(assessment.pk, {code: v for code, v in shown.items() if code in in_scope}),
            in_scope,
            part=APPRAISAL,
        )
        # A row that waits now but was not shown: it changed since the page was read.
        stale += [
            StaleEdit.of_score(row, row.criterion, part=APPRAISAL)
            for row in rows
            if row.criterion.code not in shown
        ]
        # A code shown that is not a leaf of this scope: the page was not this one's.
        stale += [
            ServiceError(
                N_("%(code)s is not a criterion waiting for appraisal here."),
                params={"code": code},
                obj=assessment,
                criterion=code,
                code=ErrorCode.CONFLICT,
            )
            for code in sorted(set(shown) - set(in_scope))
        ]
        rows = [row for row in rows if row.criterion.code in shown and row.criterion.code in waiting]
        versions = {row.criterion.code: shown[row.criterion.code] for row in rows}
    refuse(stale)
    entries = {row.criterion.code: accept_self_entry(row) for row in rows}
    if area_code is None:
        # "Accept all" closes the appraisal: a difference left without a reason is named first.
        refuse([error for error in [appraised_gate_error(assessment)] if error])
    if not entries:
        return ApplyResult()
    # The versions are checked again under the assessment's lock (scores_apply_appraisal).
    return scores_apply_appraisal(
        assessment=assessment, entries=entries, actor=actor, via=via, versions=versions
    )


# --- not applicable: the appraiser's decision ------------------------------------------------------------

NA_CONFIRM, NA_REFUSE, NA_IMPOSE = "confirm", "refuse", "impose"
NA_DECISIONS = (NA_CONFIRM, NA_REFUSE, NA_IMPOSE)


@dataclass(frozen=True)
class NotApplicableDecision:
    """The appraiser's decision on "not applicable" for one leaf.

    confirm: the unit's proposal stands (a reason is optional); refuse: the proposal is refused with a
    reason and the leaf is scored by the appraiser (points here, or later on the appraisal row; `raw`
    gives the raw figure of a rule that takes one); impose: the appraiser marks a leaf the unit did not
    propose not applicable, with a reason."""

    decision: str
    reason: str = ""
    points: Decimal | None = None
    raw: str = ""


def _not_applicable_problems(
    assessment: Assessment, decisions: Mapping[str, NotApplicableDecision], actor: User | None = None
) -> tuple[dict[str, Criterion], dict[str, dict], list[ServiceError]]:
    """(the leaves, the score fields each decision writes, every reason the decisions are refused)."""
    framework = assessment.framework
    closed = phase_error(framework, Act.APPRAISE)
    if closed is not None:
        return {}, {}, [closed]
    problems = [
        error
        for error in [unit_kind_error(assessment.unit, framework), appraisal_status_error(assessment)]
        if error
    ]
    leaves, unknown = _leaves_and_problems(framework, decisions)
    problems += unknown
    problems += council_scope_errors(actor, framework, leaves.values())
    current = {}
    if assessment.pk:
        current = {
            s.criterion_id: s
            for s in Score.objects.filter(assessment=assessment, criterion__in=leaves.values())
        }
    updates: dict[str, dict] = {}

    def problem(criterion: Criterion, message: str, field: str, **params: object) -> None:
        problems.append(
            ServiceError(message, params=params, obj=criterion, field=field, criterion=criterion.code)
        )

    for code, entry in decisions.items():
        criterion = leaves.get(code)
        if criterion is None:
            continue

        reason = (entry.reason or "").strip()
        score = current.get(criterion.pk)
        proposed = bool(score and score.not_applicable)
        if entry.decision not in NA_DECISIONS:
            problem(
                criterion,
                N_("%(value)s is not a decision on not applicable; use confirm, refuse or impose."),
                "appraised_not_applicable",
                value=entry.decision,
            )
            continue
        if criterion.source == CriterionSource.SURVEY:
            problem(
                criterion,
                N_("%(code)s is a survey criterion: mark it not applicable in the survey points."),
                "appraised_not_applicable",
                code=code,
            )
            continue
        if not criterion.allows_not_applicable:
            problem(
                criterion, N_("This criterion cannot be marked not applicable."), "appraised_not_applicable"
            )
            continue
        if entry.decision in (NA_CONFIRM, NA_REFUSE) and not proposed:
            problem(
                criterion,
                N_(
                    "The unit did not propose %(code)s as not applicable; there is nothing to confirm or refuse."
                ),
                "appraised_not_applicable",
                code=code,
            )
            continue
        if entry.decision == NA_IMPOSE and proposed:
            problem(
                criterion,
                N_("The unit proposed %(code)s as not applicable; confirm or refuse its proposal."),
                "appraised_not_applicable",
                code=code,
            )
            continue
        if entry.decision in (NA_REFUSE, NA_IMPOSE) and not reason:
            problem(criterion, N_("Give the reason for this decision on not applicable."), "appraisal_reason")
            continue
        values: dict[str, object] = {
            "appraised_not_applicable": entry.decision != NA_REFUSE,
            "appraisal_reason": reason,
        }
        if entry.decision == NA_REFUSE:
            # A refused proposal is scored like any appraisal row: one rule for points and raw figures.
            points, raw_text, entry_problems = entry_points(
                criterion, entry.points, entry.raw, points_field="appraised_points"
            )
            if entry_problems:
                problems += entry_problems
                continue
            if raw_text:
                values["appraised_raw"] = raw_text
            if points is not None:
                values["appraised_points"] = points
        else:
            values["appraised_points"] = None
        updates[code] = values
    return leaves, updates, problems


def not_applicable_problems(
    *,
    unit: Unit,
    framework: Framework,
    decisions: Mapping[str, NotApplicableDecision],
    actor: User | None = None,
) -> list[ServiceError]:
    """Every reason not_applicable_apply would refuse these decisions for the unit (reads, writes
    nothing): importers place them on their cells before anything is written."""
    return _not_applicable_problems(_assessment_to_check(unit, framework), decisions, actor)[2]


@transaction.atomic
def not_applicable_apply(
    *,
    assessment: Assessment,
    decisions: Mapping[str, NotApplicableDecision],
    actor: User | None = None,
    via: str = Via.WEB,
    versions: Mapping[str, int | None] | None = None,
    expected: Mapping[str, Mapping[str, Any]] | None = None,
) -> ApplyResult:
    """Store the appraiser's decisions on not applicable for several leaves (keyed by criterion code),
    all or nothing: each changed field audited with the decision's reason, the result recomputed, and
    the assessment marked appraised when every leaf is then closed (an undecided proposal is open).
    `expected` {code: the row's fields as an import's preview showed them}: see scores_apply_self."""
    assessment = assessment_for_update(assessment)
    leaves, updates, problems = _not_applicable_problems(assessment, decisions, actor)
    refuse(stale_scores(by_assessment(assessment.pk, versions), leaves, part=APPRAISAL))
    refuse(problems)
    refuse(
        overwrite_refusals(
            {assessment.pk: assessment}, leaves, _keyed(assessment, updates), _keyed(assessment, expected)
        )
    )
    reasons = {code: str(values["appraisal_reason"]) for code, values in updates.items()}
    result = ApplyResult()
    # One upsert per set of fields: a refusal without points leaves the appraised points as they are.
    for names in {tuple(sorted(values)) for values in updates.values()}:
        part = {code: values for code, values in updates.items() if tuple(sorted(values)) == names}
        done = _apply(
            assessment, leaves, part, action="not_applicable_decision", actor=actor, via=via, reasons=reasons
        )
        result.changed += done.changed
        result.unchanged += done.unchanged
        result.changes += done.changes
    _mark_appraised_when_complete(assessment, actor=actor, via=via)
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return result


def not_applicable_decide(
    *,
    assessment: Assessment,
    code: str,
    decision: str,
    reason: str = "",
    points: Decimal | None = None,
    raw: str = "",
    actor: User | None = None,
    via: str = Via.WEB,
    version: int | None = None,
) -> ApplyResult:
    """The appraiser's decision on not applicable for one leaf (see NotApplicableDecision)."""
    return not_applicable_apply(
        assessment=assessment,
        decisions={code: NotApplicableDecision(decision, reason, points, raw)},
        actor=actor,
        via=via,
        versions={code: version},
    )


def accept_self_entry(score: Score) -> AppraisalEntry:
    """The appraisal that accepts the unit's own entry: its raw figure where the leaf's rule takes
    one (the points follow), else its points."""
    if score.self_raw and leaf_rule(score.criterion).takes_raw:
        return AppraisalEntry(None, raw=score.self_raw)
    return AppraisalEntry(score.self_points)


EVIDENCE_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".jpg", ".jpeg", ".png")


def evidence_file_error(upload: File) -> ServiceError | None:
    """Why an evidence file is refused (its type or size), or None."""
    from django.conf import settings

    name = (upload.name or "").lower()
    if not name.endswith(EVIDENCE_EXTENSIONS):
        return ServiceError(N_("Evidence files must be PDF, Word, Excel, JPG or PNG."), field="file")
    if upload.size > settings.PARINDEX_EVIDENCE_MAX_BYTES:
        return ServiceError(
            N_("The file is larger than %(size)s MB."),
            field="file",
            params={
                "size": format_decimal(
                    Decimal(settings.PARINDEX_EVIDENCE_MAX_BYTES) / (1024 * 1024), places=1
                )
            },
        )
    return None


def evidence_file_problem(upload: File) -> str | None:
    error = evidence_file_error(upload)
    return None if error is None else error.text()


@transaction.atomic
def evidence_add(
    *,
    assessment: Assessment,
    code: str,
    upload: File | None = None,
    document_number: str = "",
    document_date: date | None = None,
    page: str = "",
    description: str = "",
    actor: User | None = None,
    via: str = Via.WEB,
) -> Evidence:
    """Attach evidence to a self-assessed leaf: a file, or a reference to an issued document."""
    assessment = assessment_for_update(assessment)
    closed = self_assessment_error(assessment, by_unit=_is_officer(actor, assessment))
    if closed is not None:
        raise closed
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(
            N_("Evidence can be added only before submission or when returned for explanation."),
            obj=assessment,
            field="status",
            criterion=code,
        )
    criterion = _leaves_by_code(assessment.framework, [code])[code]
    returned = returned_codes(assessment)
    if returned is not None and code not in returned:
        raise _not_returned_error(criterion, returned)
    if criterion.source != CriterionSource.SELF:
        raise ServiceError(
            N_("%(code)s is scored by the survey, not by the unit."),
            params={"code": code},
            obj=criterion,
            criterion=code,
        )
    if upload is None and not document_number.strip():
        raise ServiceError(
            N_("Attach a file or give the number of an issued document."),
            obj=assessment,
            field="document_number",
            criterion=code,
        )
    if upload is not None:
        refuse([error for error in [evidence_file_error(upload)] if error])
    score, _created = Score.objects.get_or_create(assessment=assessment, criterion=criterion)
    evidence = Evidence(
        score=score,
        document_number=document_number.strip(),
        document_date=document_date,
        page=page.strip(),
        description=description.strip(),
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    if upload is not None:
        evidence.file.save((upload.name or "").rsplit("/", 1)[-1], upload, save=False)
    evidence.full_clean()
    evidence.save()
    audit(
        assessment.framework,
        assessment=assessment,
        criterion=criterion,
        action="evidence_add",
        field="evidence",
        new=evidence.file.name.rsplit("/", 1)[-1] if evidence.file else evidence.document_number,
        actor=actor,
        via=via,
    ).save()
    return evidence


@transaction.atomic
def evidence_delete(*, evidence: Evidence, actor: User | None = None, via: str = Via.WEB) -> None:
    score = Score.objects.select_related("assessment__framework", "criterion").get(pk=evidence.score_id)
    assessment = score.assessment
    closed = self_assessment_error(assessment, by_unit=_is_officer(actor, assessment))
    if closed is not None:
        raise closed
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(
            N_("Evidence can be removed only before submission or when returned for explanation."),
            obj=assessment,
            field="status",
            criterion=score.criterion.code,
        )
    returned = returned_codes(assessment)
    if returned is not None and score.criterion.code not in returned:
        raise _not_returned_error(score.criterion, returned)
    label = (evidence.file.name or "").rsplit("/", 1)[-1] if evidence.file else evidence.document_number
    stored = evidence.file.name if evidence.file else None
    storage = evidence.file.storage if evidence.file else None
    evidence.delete()
    if stored and storage is not None:
        transaction.on_commit(lambda: storage.delete(stored))
    audit(
        assessment.framework,
        assessment=assessment,
        criterion=score.criterion,
        action="evidence_delete",
        field="evidence",
        old=label,
        actor=actor,
        via=via,
    ).save()


@transaction.atomic
def assessment_delete(*, assessment: Assessment, actor: User | None = None, via: str = Via.WEB) -> None:
    """Delete an assessment of an unpublished framework (its scores and evidence with it) and re-rank."""
    framework = editable_framework(assessment.framework)
    assessment = Assessment.objects.select_related("unit").get(pk=assessment.pk)
    audit(
        framework,
        action="assessment_delete",
        field="assessment",
        old=assessment.unit.code,
        actor=actor,
        via=via,
    ).save()
    assessment.delete()
    results_recompute(framework)


SELF_FIELDS = (
    "self_points",
    "self_raw",
    "not_applicable",
    "not_applicable_reason",
    "note",
    "evidence_reference",
)
APPRAISAL_FIELDS = ("appraised_points", "appraised_raw", "appraisal_reason")
NA_DECISION_FIELD = "appraised_not_applicable"


@transaction.atomic
def scores_apply_fields(
    *,
    assessment: Assessment,
    changes: Mapping[str, Mapping[str, Any]],
    actor: User | None = None,
    via: str = Via.ADMIN,
    versions: Mapping[str, int | None] | None = None,
) -> None:
    """Apply field-by-field score changes {leaf code: {field: new value}} made on the office's side
    (a form or a file that holds every field of a score row) through the services of each part:
    the unit's figures (scores_apply_self, on its behalf), then the appraisal (scores_apply_appraisal),
    then the survey points of survey leaves (survey_apply), then the appraiser's decision on not
    applicable (not_applicable_apply: yes confirms the unit's proposal or imposes it, no refuses it and
    the row's appraised points score the leaf). Nothing else is checked here, but `versions` {code:
    the row's version the form read}: checked once, under the assessment's lock, before any part is
    saved (each part adds one to the version, so the parts themselves are not given it)."""
    assessment = assessment_for_update(assessment)
    leaves = _leaves_by_code(assessment.framework, changes)
    refuse(stale_scores(by_assessment(assessment.pk, versions), leaves, part=ROW))
    current = {
        s.criterion.code: s
        for s in Score.objects.filter(assessment=assessment, criterion__in=leaves.values()).select_related(
            "criterion"
        )
    }
    self_entries: dict[str, SelfEntry] = {}
    appraisal_entries: dict[str, AppraisalEntry] = {}
    survey_entries: dict[str, Decimal | None] = {}
    na_decisions: dict[str, NotApplicableDecision] = {}
    for code, values in changes.items():
        score = current.get(code) or Score()

        def value(name: str, values: Mapping[str, Any] = values, score: Score = score) -> Any:
            return values[name] if name in values else getattr(score, name)

        # On a leaf whose rule takes a raw figure the stored points are the figure's: they are
        # passed on only when changed here, so that the service refuses points typed by hand.
        takes_raw = leaf_rule(leaves[code]).takes_raw
        if set(values) & set(SELF_FIELDS):
            self_entries[code] = SelfEntry(
                values.get("self_points") if takes_raw else value("self_points"),
                not_applicable=bool(value("not_applicable")),
                note=values.get("note"),
                evidence_reference=values.get("evidence_reference"),
                raw=value("self_raw") or None,
                not_applicable_reason=values.get("not_applicable_reason"),
            )
        decided = values.get(NA_DECISION_FIELD)
        if NA_DECISION_FIELD in values and decided is not None:
            refused = decided is False
            na_decisions[code] = NotApplicableDecision(
                NA_REFUSE if refused else NA_CONFIRM if value("not_applicable") else NA_IMPOSE,
                reason=value("appraisal_reason") or "",
                points=value("appraised_points") if refused else None,
                raw=(value("appraised_raw") or "") if refused else "",
            )
        elif set(values) & set(APPRAISAL_FIELDS):
            if leaves[code].source == CriterionSource.SURVEY:
                survey_entries[code] = value("appraised_points")
            else:
                appraisal_entries[code] = AppraisalEntry(
                    values.get("appraised_points") if takes_raw else value("appraised_points"),
                    reason=value("appraisal_reason") or "",
                    raw=value("appraised_raw") or None,
                )
    if self_entries:
        scores_apply_self(assessment=assessment, entries=self_entries, actor=actor, via=via, on_behalf=True)
    if appraisal_entries:
        scores_apply_appraisal(assessment=assessment, entries=appraisal_entries, actor=actor, via=via)
    if survey_entries:
        survey_apply(
            framework=assessment.framework,
            entries={assessment.unit.code: survey_entries},
            actor=actor,
            via=via,
        )
    if na_decisions:
        not_applicable_apply(assessment=assessment, decisions=na_decisions, actor=actor, via=via)
