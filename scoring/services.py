"""Writes for frameworks, assessments and scores. Every write is atomic, audited, refused on a
published framework, and followed by a recompute of the stored results (scoring.results)."""

from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import AuditEntry
from parindex.audit.services import audit_entry
from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import decimal_places, format_decimal
from units.models import Unit

from .models import (
    Assessment,
    AssessmentStatus,
    Criterion,
    CriterionKind,
    CriterionSource,
    Evidence,
    Framework,
    FrameworkStatus,
    GradeBand,
    Score,
    Via,
)
from .results import results_recompute


class FrameworkLocked(ValidationError):
    """The framework is published: nothing of it may change until it is reopened."""


class WorkflowError(ValidationError):
    """The assessment is not in a status that allows this change."""


_notifications_muted: ContextVar[bool] = ContextVar("parindex_notifications_muted", default=False)


@contextmanager
def notifications_muted():
    """No workflow e-mails inside this block (load_demo: the demo's history is not news to anyone)."""
    token = _notifications_muted.set(True)
    try:
        yield
    finally:
        _notifications_muted.reset(token)


def _notify(event: str, object_id: int) -> None:
    """Send the e-mails of a workflow event once the transaction commits (through Celery)."""
    if _notifications_muted.get():
        return
    from .tasks import send_notification

    transaction.on_commit(lambda: send_notification.delay(event, object_id))


def framework_ensure_editable(framework: Framework) -> None:
    if framework.status == FrameworkStatus.PUBLISHED:
        raise FrameworkLocked(
            _("Framework %(code)s is published (decision %(decision)s); it can no longer be changed.")
            % {"code": framework.code, "decision": framework.decision_number}
        )


def _audit(framework, *, action, actor, via, assessment=None, criterion=None, field="", old="", new="", reason=""):
    """An unsaved audit row about this framework (and assessment, criterion): parindex.audit's builder."""
    return audit_entry(
        framework=framework, assessment=assessment, criterion=criterion, action=action, field=field,
        old=old, new=new, reason=reason, actor=actor, via=via,
    )


# --- frameworks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionRow:
    """One validated row of a framework file."""

    code: str
    title: str
    max_points: Decimal
    kind: str = CriterionKind.SCORE
    source: str = CriterionSource.SELF
    guidance: str = ""


@dataclass(frozen=True)
class Band:
    name: str
    min_index: Decimal


def parse_bands(text: str) -> list[Band]:
    """"Xuất sắc:90,Tốt:80,Khá:70" → bands. Raises ValidationError naming the bad part."""
    from parindex.numbers import NotANumber, parse_decimal

    bands: list[Band] = []
    for part in [p for p in text.split(",") if p.strip()]:
        name, sep, threshold = part.rpartition(":")
        try:
            value = parse_decimal(threshold) if sep else None
        except NotANumber:
            value = None
        if not name.strip() or value is None:
            raise ValidationError(
                _("Grade band %(part)r should look like 'Tốt:80' (name, colon, minimum index).") % {"part": part.strip()}
            )
        bands.append(Band(name.strip(), value))
    names = [b.name for b in bands]
    if len(set(names)) != len(names) or len({b.min_index for b in bands}) != len(bands):
        raise ValidationError(_("Grade bands must have different names and different minimum indices."))
    return sorted(bands, key=lambda b: b.min_index, reverse=True)


DEFAULT_BANDS = "Xuất sắc:90,Tốt:80,Khá:70,Trung bình:50,Yếu:0"


@transaction.atomic
def framework_create(
    *,
    code: str,
    authority: Unit,
    unit_kind: str,
    year: int,
    name: str,
    rows: Iterable[CriterionRow],
    bands: Iterable[Band] = (),
    index_decimals: int = 2,
    legal_basis: str = "",
    actor=None,
    via: str = Via.COMMAND,
) -> Framework:
    """Create a framework with its criteria tree and grade bands from rows in tree order.

    Rows are expected to be validated by the importer (which reports problems by row); the tree
    rules are checked again here so that no caller can store a broken tree.
    """
    framework = Framework(
        code=code,
        authority=authority,
        unit_kind=unit_kind,
        year=year,
        name=name,
        legal_basis=legal_basis,
        index_decimals=index_decimals,
    )
    framework.full_clean()
    framework.save()
    rows = list(rows)
    problems = tree_problems(rows)
    if problems:
        raise ValidationError(problems)
    child_codes = {row.code.rpartition(".")[0] for row in rows if "." in row.code}
    by_code: dict[str, Criterion] = {}
    for order, row in enumerate(rows, start=1):
        parent = by_code.get(row.code.rpartition(".")[0]) if "." in row.code else None
        criterion = Criterion(
            framework=framework,
            parent=parent,
            code=row.code,
            title=row.title,
            max_points=row.max_points,
            kind=row.kind,
            source=row.source,
            guidance=row.guidance,
            order=order,
            depth=row.code.count("."),
            is_leaf=row.code not in child_codes,
        )
        criterion.full_clean(exclude=["framework", "parent", "area"], validate_unique=False, validate_constraints=False)
        criterion.save()
        criterion.area_id = parent.area_id if parent else criterion.pk
        Criterion.objects.filter(pk=criterion.pk).update(area_id=criterion.area_id)
        by_code[row.code] = criterion
    GradeBand.objects.bulk_create(GradeBand(framework=framework, name=b.name, min_index=b.min_index) for b in bands)
    _audit(framework, action="framework_create", actor=actor, via=via, new=f"{len(rows)} criteria").save()
    return framework


def tree_problems(rows: list[CriterionRow]) -> list[str]:
    """Problems of a criteria tree, each naming the code: missing parents, duplicate codes,
    parents whose max is not the sum of their children, mixed kinds under a bonus/penalty node."""
    problems: list[str] = []
    seen: dict[str, CriterionRow] = {}
    for row in rows:
        if row.code in seen:
            problems.append(_("Code %(code)s appears twice.") % {"code": row.code})
        parent_code = row.code.rpartition(".")[0]
        if parent_code and parent_code not in seen:
            problems.append(
                _("Code %(code)s comes before or without its parent %(parent)s.") % {"code": row.code, "parent": parent_code}
            )
        seen[row.code] = row
    children: dict[str, list[CriterionRow]] = {}
    for row in rows:
        parent_code = row.code.rpartition(".")[0]
        if parent_code in seen:
            children.setdefault(parent_code, []).append(row)
    for code, kids in children.items():
        parent = seen[code]
        total = sum((k.max_points for k in kids), Decimal("0"))
        if total != parent.max_points:
            problems.append(
                _("Criterion %(code)s has max points %(max)s but its children add up to %(sum)s.")
                % {"code": code, "max": format_decimal(parent.max_points), "sum": format_decimal(total)}
            )
        for kid in kids:
            if parent.kind != CriterionKind.SCORE and kid.kind != parent.kind:
                problems.append(
                    _("Criterion %(code)s is of kind %(kind)s but sits under %(parent)s of kind %(pkind)s.")
                    % {"code": kid.code, "kind": kid.kind, "parent": code, "pkind": parent.kind}
                )
            if kid.source != parent.source:
                problems.append(
                    _("Criterion %(code)s has source %(source)s but sits under %(parent)s with source %(psource)s.")
                    % {"code": kid.code, "source": kid.source, "parent": code, "psource": parent.source}
                )
    return problems


@transaction.atomic
def framework_publish(*, framework: Framework, decision_number: str, decision_date: date, actor=None, via=Via.WEB):
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    if not decision_number.strip() or not decision_date:
        raise ValidationError(_("Publication needs a decision number and a decision date."))
    framework.status = FrameworkStatus.PUBLISHED
    framework.decision_number = decision_number.strip()
    framework.decision_date = decision_date
    framework.published_at = timezone.now()
    framework.published_by = actor if getattr(actor, "pk", None) else None
    framework.full_clean()
    framework.save(update_fields=["status", "decision_number", "decision_date", "published_at", "published_by", "updated_at"])
    Assessment.objects.filter(framework=framework).update(status=AssessmentStatus.PUBLISHED, updated_at=timezone.now())
    _audit(
        framework, action="framework_publish", actor=actor, via=via, field="status", old="open", new="published",
        reason=f"{framework.decision_number} {decision_date:%d/%m/%Y}",
    ).save()
    results_recompute(framework)
    _notify("framework_published", framework.pk)
    return framework


@transaction.atomic
def framework_reopen(*, framework: Framework, reason: str, actor=None, via=Via.ADMIN):
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    if not reason.strip():
        raise ValidationError(_("Reopening a published framework needs a reason."))
    if framework.status != FrameworkStatus.PUBLISHED:
        raise ValidationError(_("Framework %(code)s is not published.") % {"code": framework.code})
    framework.status = FrameworkStatus.OPEN
    framework.save(update_fields=["status", "updated_at"])
    Assessment.objects.filter(framework=framework, status=AssessmentStatus.PUBLISHED).update(
        status=AssessmentStatus.APPRAISED, updated_at=timezone.now()
    )
    _audit(framework, action="framework_reopen", actor=actor, via=via, field="status", old="published", new="open",
           reason=reason).save()
    results_recompute(framework)
    return framework


# --- assessments and scores ------------------------------------------------------------------------


def assessment_get_or_create(*, unit: Unit, framework: Framework, actor=None, via=Via.COMMAND) -> Assessment:
    framework_ensure_editable(framework)
    if unit.kind != framework.unit_kind:
        raise ValidationError(
            _("Unit %(unit)s is a %(kind)s; framework %(code)s assesses units of kind %(fkind)s.")
            % {"unit": unit.code, "kind": unit.get_kind_display(), "code": framework.code,
               "fkind": framework.get_unit_kind_display()}
        )
    assessment, created = Assessment.objects.get_or_create(unit=unit, framework=framework)
    if created:
        _audit(framework, assessment=assessment, action="assessment_create", actor=actor, via=via).save()
    return assessment


@dataclass(frozen=True)
class SelfEntry:
    """A unit's self-assessment of one leaf. None for note/evidence leaves them as they are."""

    points: Decimal | None
    not_applicable: bool = False
    note: str | None = None
    evidence_reference: str | None = None


@dataclass(frozen=True)
class AppraisalEntry:
    """The office's appraisal of one leaf; a reason is required whenever it differs from self."""

    points: Decimal | None
    reason: str = ""


@dataclass
class ApplyResult:
    changed: int = 0
    unchanged: int = 0
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (code, field, old, new)


SELF_STATUSES = (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)


def _check_points(criterion: Criterion, points: Decimal | None) -> None:
    if points is None:
        return
    if points < 0:
        raise ValidationError(_("%(code)s: points cannot be negative.") % {"code": criterion.code})
    if decimal_places(points) > 2:
        raise ValidationError(_("%(code)s: points have at most two decimals.") % {"code": criterion.code})
    if points > criterion.max_points:
        raise ValidationError(
            _("%(code)s: %(value)s is more than the maximum %(max)s.")
            % {"code": criterion.code, "value": format_decimal(points), "max": format_decimal(criterion.max_points)}
        )


def _leaves_by_code(framework: Framework, codes: Iterable[str]) -> dict[str, Criterion]:
    codes = set(codes)
    leaves = {c.code: c for c in Criterion.objects.filter(framework=framework, code__in=codes)}
    missing = sorted(codes - set(leaves))
    if missing:
        raise ValidationError(_("Unknown criterion codes: %(codes)s.") % {"codes": ", ".join(missing)})
    parents = sorted(code for code, c in leaves.items() if not c.is_leaf)
    if parents:
        raise ValidationError(_("Only leaf criteria take points: %(codes)s.") % {"codes": ", ".join(parents)})
    return leaves


def _apply(assessment: Assessment, leaves: dict[str, Criterion], updates: Mapping[str, dict], *, action, actor, via,
           reasons: Mapping[str, str] | None = None) -> ApplyResult:
    """Upsert score fields of several leaves of one assessment and audit each changed field."""
    return _apply_many({assessment.pk: assessment}, leaves, {(assessment.pk, code): values for code, values in
                                                            updates.items()},
                       action=action, actor=actor, via=via,
                       reasons={(assessment.pk, code): r for code, r in (reasons or {}).items()})


def _apply_many(assessments: Mapping[int, Assessment], leaves: dict[str, Criterion],
                updates: Mapping[tuple[int, str], dict], *, action, actor, via,
                reasons: Mapping[tuple[int, str], str] | None = None) -> ApplyResult:
    """Upsert score fields for (assessment id, leaf code) pairs in a fixed number of statements:
    one read of the current scores, one bulk upsert, one bulk insert of audit entries."""
    existing = {
        (s.assessment_id, s.criterion_id): s
        for s in Score.objects.filter(assessment__in=list(assessments), criterion__in=list(leaves.values()))
    }
    result = ApplyResult()
    to_save: list[Score] = []
    audits: list[AuditEntry] = []
    now = timezone.now()
    user = actor if getattr(actor, "pk", None) else None
    for (assessment_id, code), values in updates.items():
        assessment, criterion = assessments[assessment_id], leaves[code]
        score = existing.get((assessment_id, criterion.pk)) or Score(assessment=assessment, criterion=criterion)
        changed_here = False
        for name, new in values.items():
            old = getattr(score, name)
            if old == new:
                continue
            setattr(score, name, new)
            changed_here = True
            audits.append(_audit(
                assessment.framework, assessment=assessment, criterion=criterion, action=action, actor=actor, via=via,
                field=name, old=old, new=new, reason=(reasons or {}).get((assessment_id, code), ""),
            ))
            result.changes.append((code, name, "" if old is None else str(old), "" if new is None else str(new)))
        if changed_here:
            score.updated_by, score.updated_at = user, now
            to_save.append(score)
            result.changed += 1
        else:
            result.unchanged += 1
    if to_save:
        update_fields = sorted({name for values in updates.values() for name in values} | {"updated_by", "updated_at"})
        Score.objects.bulk_create(
            to_save, update_conflicts=True, unique_fields=["assessment", "criterion"], update_fields=update_fields,
            batch_size=1000,
        )
        AuditEntry.objects.bulk_create(audits, batch_size=1000)
    return result


@transaction.atomic
def scores_apply_self(
    *, assessment: Assessment, entries: Mapping[str, SelfEntry], actor=None, via=Via.WEB, on_behalf: bool = False
) -> ApplyResult:
    """Store a unit's self-assessment for several leaves (keyed by criterion code), all or nothing."""
    assessment = Assessment.objects.select_for_update().select_related("framework").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(
            _("The self-assessment of %(unit)s is %(status)s; it can be changed only before submission or when "
              "returned for explanation.") % {"unit": assessment.unit.code, "status": assessment.get_status_display()}
        )
    leaves = _leaves_by_code(assessment.framework, entries)
    updates: dict[str, dict] = {}
    for code, entry in entries.items():
        criterion = leaves[code]
        if criterion.source != CriterionSource.SELF:
            raise ValidationError(_("%(code)s is scored by the survey, not by the unit.") % {"code": code})
        if entry.not_applicable and not criterion.allows_not_applicable:
            raise ValidationError(_("%(code)s cannot be marked not applicable.") % {"code": code})
        points = None if entry.not_applicable else entry.points
        _check_points(criterion, points)
        values = {"self_points": points, "not_applicable": bool(entry.not_applicable)}
        if entry.note is not None:
            values["note"] = entry.note
        if entry.evidence_reference is not None:
            values["evidence_reference"] = entry.evidence_reference
        updates[code] = values
    action = "self_on_behalf" if on_behalf else "self_score"
    result = _apply(assessment, leaves, updates, action=action, actor=actor, via=via)
    if result.changed:
        results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return result


@transaction.atomic
def scores_apply_appraisal(
    *, assessment: Assessment, entries: Mapping[str, AppraisalEntry], actor=None, via=Via.WEB
) -> ApplyResult:
    """Store appraised points for several leaves; a reason is required where they differ from self.

    When every applicable self-assessed leaf then has appraised points, the assessment is marked
    appraised (its result stops being provisional)."""
    assessment = Assessment.objects.select_for_update().select_related("framework", "unit").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    leaves = _leaves_by_code(assessment.framework, entries)
    current = {s.criterion_id: s for s in Score.objects.filter(assessment=assessment, criterion__in=leaves.values())}
    updates: dict[str, dict] = {}
    reasons: dict[str, str] = {}
    for code, entry in entries.items():
        criterion = leaves[code]
        if criterion.source != CriterionSource.SELF:
            raise ValidationError(_("%(code)s is scored by the survey, not by appraisal.") % {"code": code})
        _check_points(criterion, entry.points)
        score = current.get(criterion.pk)
        self_points = score.self_points if score else None
        reason = (entry.reason or "").strip()
        if entry.points is not None and entry.points != self_points and not reason:
            raise ValidationError(
                _("%(code)s: the appraised points %(new)s differ from the self-assessed %(old)s; a reason is required.")
                % {"code": code, "new": format_decimal(entry.points),
                   "old": format_decimal(self_points) if self_points is not None else "—"}
            )
        updates[code] = {"appraised_points": entry.points, "appraisal_reason": reason}
        reasons[code] = reason
    result = _apply(assessment, leaves, updates, action="appraise", actor=actor, via=via, reasons=reasons)
    _mark_appraised_when_complete(assessment, actor=actor, via=via)
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return result


def _mark_appraised_when_complete(assessment: Assessment, *, actor, via) -> None:
    open_leaves = (
        Criterion.objects.filter(framework=assessment.framework, is_leaf=True, source=CriterionSource.SELF)
        .exclude(scores__assessment=assessment, scores__not_applicable=True)
        .exclude(scores__assessment=assessment, scores__appraised_points__isnull=False)
    )
    if assessment.status != AssessmentStatus.APPRAISED and not open_leaves.exists():
        _set_status(assessment, AssessmentStatus.APPRAISED, actor=actor, via=via)
        _notify("assessment_appraised", assessment.pk)


def _set_status(assessment: Assessment, status: str, *, actor, via, reason: str = "") -> None:
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
    _audit(assessment.framework, assessment=assessment, action="status", field="status", old=old, new=status,
           actor=actor, via=via, reason=reason).save()


def missing_self_scores(assessment: Assessment) -> list[Criterion]:
    """Self-assessed leaves that have neither points nor a not-applicable mark."""
    return list(
        Criterion.objects.filter(framework=assessment.framework, is_leaf=True, source=CriterionSource.SELF)
        .exclude(scores__assessment=assessment, scores__not_applicable=True)
        .exclude(scores__assessment=assessment, scores__self_points__isnull=False)
        .order_by("order")
    )


@dataclass(frozen=True)
class SubmissionProblem:
    criterion: Criterion
    reason: str  # "unscored" or "unproven"


def submission_problems(assessment: Assessment) -> list[SubmissionProblem]:
    """What stops a submission: leaves without points or a not-applicable mark, and scored leaves
    with neither evidence (a file, a document reference) nor a written explanation (note). Two queries."""
    from django.db.models import Count

    leaves = list(
        Criterion.objects.filter(framework=assessment.framework, is_leaf=True, source=CriterionSource.SELF)
        .order_by("order")
    )
    scores = {
        s.criterion_id: s
        for s in Score.objects.filter(assessment=assessment).annotate(evidence_count=Count("evidence"))
    }
    problems = []
    for leaf in leaves:
        score = scores.get(leaf.pk)
        if score is None or (score.self_points is None and not score.not_applicable):
            problems.append(SubmissionProblem(leaf, "unscored"))
        elif (
            not score.not_applicable
            and score.self_points
            and not score.evidence_count
            and not score.evidence_reference.strip()
            and not score.note.strip()
        ):
            problems.append(SubmissionProblem(leaf, "unproven"))
    return problems


@transaction.atomic
def assessment_submit(*, assessment: Assessment, actor=None, via=Via.WEB) -> Assessment:
    """Submit (nộp) a self-assessment: every self leaf scored or not applicable, and every scored
    leaf backed by evidence or a written explanation."""
    assessment = Assessment.objects.select_for_update().select_related("framework", "unit").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(_("Only a draft or returned assessment can be submitted."))
    problems = submission_problems(assessment)
    unscored = [p.criterion.code for p in problems if p.reason == "unscored"]
    unproven = [p.criterion.code for p in problems if p.reason == "unproven"]
    messages = []
    if unscored:
        messages.append(_("Not every criterion is scored yet: %(codes)s.") % {"codes": ", ".join(unscored)})
    if unproven:
        messages.append(
            _("These criteria have points but neither evidence nor a written explanation: %(codes)s.")
            % {"codes": ", ".join(unproven)}
        )
    if messages:
        raise ValidationError(messages)
    was_returned = assessment.status == AssessmentStatus.RETURNED
    _set_status(assessment, AssessmentStatus.SUBMITTED, actor=actor, via=via,
                reason=_("resubmitted after explanation") if was_returned else "")
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    _notify("assessment_submitted", assessment.pk)
    return assessment


@transaction.atomic
def assessment_return(
    *, assessment: Assessment, message: str, criteria: Mapping[str, str] | None = None, actor=None, via=Via.WEB
) -> Assessment:
    """Return a submitted assessment for explanation (giải trình): a message, and for each listed
    criterion code the reason it must be explained. The unit answers per criterion and resubmits."""
    assessment = Assessment.objects.select_for_update().select_related("framework", "unit").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if assessment.status != AssessmentStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted assessment can be returned for explanation."))
    if not message.strip():
        raise ValidationError(_("Say what needs explaining when returning an assessment."))
    criteria = {code: (reason or "").strip() for code, reason in (criteria or {}).items()}
    without_reason = sorted(code for code, reason in criteria.items() if not reason)
    if without_reason:
        raise ValidationError(
            _("Give a reason for each criterion to explain: %(codes)s.") % {"codes": ", ".join(without_reason)}
        )
    _set_status(assessment, AssessmentStatus.RETURNED, actor=actor, via=via, reason=message)
    assessment.return_message = message.strip()
    assessment.save(update_fields=["return_message", "updated_at"])
    if criteria:
        leaves = _leaves_by_code(assessment.framework, criteria)
        _apply(
            assessment, leaves,
            {code: {"explanation_request": reason, "explanation_requested_round": assessment.explanation_round}
             for code, reason in criteria.items()},
            action="explanation_request", actor=actor, via=via, reasons=criteria,
        )
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    _notify("assessment_returned", assessment.pk)
    return assessment


@transaction.atomic
def score_explain(*, assessment: Assessment, code: str, explanation: str, actor=None, via=Via.WEB) -> ApplyResult:
    """The unit's answer (giải trình) to an explanation request on one criterion."""
    assessment = Assessment.objects.select_for_update().select_related("framework", "unit").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if assessment.status != AssessmentStatus.RETURNED:
        raise WorkflowError(_("Explanations are given while the assessment is returned for explanation."))
    leaves = _leaves_by_code(assessment.framework, [code])
    return _apply(assessment, leaves, {code: {"explanation": explanation.strip()}}, action="explain", actor=actor,
                  via=via)


@transaction.atomic
def assessment_mark_appraised(*, assessment: Assessment, actor=None, via=Via.WEB) -> Assessment:
    assessment = Assessment.objects.select_for_update().select_related("framework").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if assessment.status not in (AssessmentStatus.SUBMITTED, AssessmentStatus.APPRAISED):
        raise WorkflowError(_("Only a submitted assessment can be marked appraised."))
    if assessment.status != AssessmentStatus.APPRAISED:
        _set_status(assessment, AssessmentStatus.APPRAISED, actor=actor, via=via)
        _notify("assessment_appraised", assessment.pk)
    results_recompute(assessment.framework, assessment_ids=[assessment.pk])
    return assessment


@transaction.atomic
def survey_apply(
    *, framework: Framework, entries: Mapping[str, Mapping[str, Decimal | None]], actor=None, via=Via.WEB
) -> ApplyResult:
    """Store survey points: {unit code: {survey criterion code: points}}, for all units at once.

    Survey points are the office's figures, so they live in appraised_points of the survey leaves.
    Assessments are created for units that have none yet. A fixed number of statements whatever the
    number of units."""
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    codes = {code for values in entries.values() for code in values}
    leaves = _leaves_by_code(framework, codes)
    wrong = sorted(code for code, c in leaves.items() if c.source != CriterionSource.SURVEY)
    if wrong:
        raise ValidationError(_("Not survey criteria: %(codes)s.") % {"codes": ", ".join(wrong)})
    units = {u.code: u for u in Unit.objects.filter(code__in=list(entries))}
    unknown = sorted(set(entries) - set(units))
    if unknown:
        raise ValidationError(_("Unknown unit codes: %(codes)s.") % {"codes": ", ".join(unknown)})
    other_kind = sorted(code for code, unit in units.items() if unit.kind != framework.unit_kind)
    if other_kind:
        raise ValidationError(
            _("Framework %(code)s assesses units of kind %(kind)s; these are not: %(units)s.")
            % {"code": framework.code, "kind": framework.get_unit_kind_display(), "units": ", ".join(other_kind)}
        )
    for values in entries.values():
        for code, points in values.items():
            _check_points(leaves[code], points)
    assessments = {a.unit_id: a for a in Assessment.objects.filter(framework=framework, unit__in=units.values())
                   .select_related("unit")}
    missing = [Assessment(unit=unit, framework=framework) for unit in units.values() if unit.pk not in assessments]
    if missing:
        Assessment.objects.bulk_create(missing, batch_size=1000)
        assessments = {a.unit_id: a for a in Assessment.objects.filter(framework=framework, unit__in=units.values())
                       .select_related("unit")}
        AuditEntry.objects.bulk_create(
            [_audit(framework, assessment=assessments[a.unit_id], action="assessment_create", actor=actor, via=via)
             for a in missing],
            batch_size=1000,
        )
    for assessment in assessments.values():
        assessment.framework = framework
    by_id = {a.pk: a for a in assessments.values()}
    updates = {
        (assessments[units[unit_code].pk].pk, code): {"appraised_points": points}
        for unit_code, values in entries.items()
        for code, points in values.items()
    }
    result = _apply_many(by_id, leaves, updates, action="survey", actor=actor, via=via)
    if result.changed or missing:
        results_recompute(framework, assessment_ids=list(by_id))
    return result


# --- deadlines ----------------------------------------------------------------------------------------


@transaction.atomic
def framework_set_deadlines(*, framework: Framework, self_deadline, appraisal_deadline, actor=None, via=Via.WEB):
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    old = (framework.self_deadline, framework.appraisal_deadline)
    framework.self_deadline, framework.appraisal_deadline = self_deadline, appraisal_deadline
    framework.full_clean()
    framework.save(update_fields=["self_deadline", "appraisal_deadline", "updated_at"])
    for name, before, after in (("self_deadline", old[0], self_deadline), ("appraisal_deadline", old[1], appraisal_deadline)):
        if before != after:
            _audit(framework, action="deadline", field=name, old=_when(before), new=_when(after), actor=actor,
                   via=via).save()
    return framework


@transaction.atomic
def assessment_extend_deadline(*, assessment: Assessment, until, reason: str, actor=None, via=Via.WEB) -> Assessment:
    """Give one unit more time for its self-assessment (gia hạn)."""
    assessment = Assessment.objects.select_for_update().select_related("framework").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if not reason.strip():
        raise ValidationError(_("Say why the deadline is extended."))
    if until is None or until <= timezone.now():
        raise ValidationError(_("The new deadline must be in the future."))
    if assessment.framework.self_deadline and until <= assessment.framework.self_deadline:
        raise ValidationError(_("An extension must end after the framework's deadline."))
    old = assessment.self_deadline_extended_to
    assessment.self_deadline_extended_to = until
    assessment.save(update_fields=["self_deadline_extended_to", "updated_at"])
    _audit(assessment.framework, assessment=assessment, action="deadline_extension", field="self_deadline",
           old=_when(old or assessment.framework.self_deadline), new=_when(until), reason=reason, actor=actor,
           via=via).save()
    return assessment


def _when(value) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""


# --- appraisal helpers and evidence ---------------------------------------------------------------------


@transaction.atomic
def appraisal_accept_self(*, assessment: Assessment, area_code: str | None = None, actor=None, via=Via.WEB):
    """Accept the unit's own points as appraised, for every self leaf or those of one area, in one step.
    Leaves already appraised keep their appraisal."""
    leaves = Criterion.objects.filter(framework=assessment.framework_id, is_leaf=True, source=CriterionSource.SELF)
    if area_code:
        leaves = leaves.filter(area__code=area_code)
    rows = Score.objects.filter(assessment=assessment, criterion__in=leaves, appraised_points__isnull=True,
                                self_points__isnull=False, not_applicable=False).select_related("criterion")
    entries = {row.criterion.code: AppraisalEntry(row.self_points) for row in rows}
    if not entries:
        return ApplyResult()
    return scores_apply_appraisal(assessment=assessment, entries=entries, actor=actor, via=via)


EVIDENCE_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".jpg", ".jpeg", ".png")


def evidence_file_problem(upload) -> str | None:
    from django.conf import settings

    name = (upload.name or "").lower()
    if not name.endswith(EVIDENCE_EXTENSIONS):
        return _("Evidence files must be PDF, Word, Excel, JPG or PNG.")
    if upload.size > settings.PARINDEX_EVIDENCE_MAX_BYTES:
        return _("The file is larger than %(size)s MB.") % {
            "size": format_decimal(Decimal(settings.PARINDEX_EVIDENCE_MAX_BYTES) / (1024 * 1024), places=1)
        }
    return None


@transaction.atomic
def evidence_add(*, assessment: Assessment, code: str, upload=None, document_number: str = "", document_date=None,
                 page: str = "", description: str = "", actor=None, via=Via.WEB) -> Evidence:
    """Attach evidence to a self-assessed leaf: a file, or a reference to an issued document."""
    assessment = Assessment.objects.select_for_update().select_related("framework").get(pk=assessment.pk)
    framework_ensure_editable(assessment.framework)
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(_("Evidence can be added only before submission or when returned for explanation."))
    criterion = _leaves_by_code(assessment.framework, [code])[code]
    if criterion.source != CriterionSource.SELF:
        raise ValidationError(_("%(code)s is scored by the survey, not by the unit.") % {"code": code})
    if upload is None and not document_number.strip():
        raise ValidationError(_("Attach a file or give the number of an issued document."))
    if upload is not None:
        problem = evidence_file_problem(upload)
        if problem:
            raise ValidationError(problem)
    score, _created = Score.objects.get_or_create(assessment=assessment, criterion=criterion)
    evidence = Evidence(score=score, document_number=document_number.strip(), document_date=document_date,
                        page=page.strip(), description=description.strip(),
                        uploaded_by=actor if getattr(actor, "pk", None) else None)
    if upload is not None:
        evidence.file.save(upload.name.rsplit("/", 1)[-1], upload, save=False)
    evidence.full_clean()
    evidence.save()
    _audit(assessment.framework, assessment=assessment, criterion=criterion, action="evidence_add", field="evidence",
           new=evidence.file.name.rsplit("/", 1)[-1] if evidence.file else evidence.document_number, actor=actor,
           via=via).save()
    return evidence


@transaction.atomic
def evidence_delete(*, evidence: Evidence, actor=None, via=Via.WEB) -> None:
    score = Score.objects.select_related("assessment__framework", "criterion").get(pk=evidence.score_id)
    assessment = score.assessment
    framework_ensure_editable(assessment.framework)
    if assessment.status not in SELF_STATUSES:
        raise WorkflowError(_("Evidence can be removed only before submission or when returned for explanation."))
    label = evidence.file.name.rsplit("/", 1)[-1] if evidence.file else evidence.document_number
    stored = evidence.file.name if evidence.file else None
    storage = evidence.file.storage if evidence.file else None
    evidence.delete()
    if stored:
        transaction.on_commit(lambda: storage.delete(stored))
    _audit(assessment.framework, assessment=assessment, criterion=score.criterion, action="evidence_delete",
           field="evidence", old=label, actor=actor, via=via).save()


@transaction.atomic
def framework_copy(*, source: Framework, code: str, year: int, name: str, actor=None, via=Via.WEB) -> Framework:
    """Copy a framework's criteria tree and grade bands to a new year ("copy to next year")."""
    rows = [
        CriterionRow(code=c.code, title=c.title, max_points=c.max_points, kind=c.kind, source=c.source,
                     guidance=c.guidance)
        for c in source.criteria.order_by("order")
    ]
    bands = [Band(b.name, b.min_index) for b in source.grade_bands.all()]
    framework = framework_create(
        code=code, authority=source.authority, unit_kind=source.unit_kind, year=year, name=name, rows=rows,
        bands=bands, index_decimals=source.index_decimals, legal_basis=source.legal_basis, actor=actor, via=via,
    )
    not_applicable_rules = dict(source.criteria.values_list("code", "allows_not_applicable"))
    for criterion in framework.criteria.all():
        if criterion.allows_not_applicable != not_applicable_rules.get(criterion.code, True):
            criterion.allows_not_applicable = not_applicable_rules[criterion.code]
            criterion.save(update_fields=["allows_not_applicable"])
    _audit(framework, action="framework_copy", actor=actor, via=via, old=source.code, new=framework.code).save()
    return framework


# --- framework settings, criteria and grade bands -------------------------------------------------------
#
# The settings of a framework that may be corrected after it was created (its name, legal basis,
# decimals of the index, status), the wording of its criteria and its grade bands. The shape of the
# tree (codes, maxima, kinds, sources) comes from the framework file and is not edited here.

FRAMEWORK_SETTINGS = ("name", "legal_basis", "index_decimals", "status")
CRITERION_TEXTS = ("title", "guidance", "allows_not_applicable")


def _editable_framework(framework: Framework) -> Framework:
    """The framework locked for update; a published one is refused (framework_ensure_editable)."""
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    framework_ensure_editable(framework)
    return framework


def _clean_or_refuse(obj, **kwargs) -> None:
    """full_clean(), its ValidationError turned into ServiceErrors on the same fields."""
    try:
        obj.full_clean(**kwargs)
    except ServiceError:
        raise
    except ValidationError as error:
        raise ServiceError.group(
            ServiceError("%(message)s", params={"message": text}, obj=obj,
                         field=None if name == NON_FIELD_ERRORS else name)
            for name, texts in error.message_dict.items()
            for text in texts
        ) from error


@transaction.atomic
def framework_update(*, framework: Framework, changes: Mapping[str, object], actor=None, via=Via.WEB) -> Framework:
    """Correct settings of an unpublished framework (FRAMEWORK_SETTINGS), one audit row per changed field.

    Publishing is not a setting: it needs a decision (framework_publish)."""
    framework = _editable_framework(framework)
    unknown = sorted(set(changes) - set(FRAMEWORK_SETTINGS))
    if unknown:
        raise ServiceError(N_("These framework fields cannot be changed here: %(fields)s."),
                           params={"fields": ", ".join(unknown)}, obj=framework, field=unknown[0])
    if changes.get("status") == FrameworkStatus.PUBLISHED:
        raise ServiceError(N_("Publication needs a decision number and a decision date."),
                           code=ErrorCode.WORKFLOW, obj=framework, field="status")
    old = {name: getattr(framework, name) for name in changes}
    changed = [name for name, value in changes.items() if value != old[name]]
    if not changed:
        return framework
    for name in changed:
        setattr(framework, name, changes[name])
    _clean_or_refuse(framework)
    framework.save(update_fields=[*changed, "updated_at"])
    AuditEntry.objects.bulk_create(
        _audit(framework, action="framework_change", field=name, old=old[name], new=changes[name], actor=actor,
               via=via)
        for name in changed
    )
    if "index_decimals" in changed:
        results_recompute(framework)  # indices are rounded (and so ranked) to the framework's decimals
    return framework


@transaction.atomic
def framework_delete(*, framework: Framework, actor=None, via=Via.WEB) -> None:
    """Delete an unpublished framework with its criteria, assessments, scores and results."""
    framework = _editable_framework(framework)
    _audit(framework, action="framework_delete", field="framework", old=framework.code, actor=actor, via=via).save()
    framework.delete()


@transaction.atomic
def assessment_delete(*, assessment: Assessment, actor=None, via=Via.WEB) -> None:
    """Delete an assessment of an unpublished framework (its scores and evidence with it) and re-rank."""
    framework = _editable_framework(assessment.framework)
    assessment = Assessment.objects.select_related("unit").get(pk=assessment.pk)
    _audit(framework, action="assessment_delete", field="assessment", old=assessment.unit.code, actor=actor,
           via=via).save()
    assessment.delete()
    results_recompute(framework)


@transaction.atomic
def criterion_update(*, criterion: Criterion, changes: Mapping[str, object], actor=None, via=Via.WEB) -> Criterion:
    """Correct the wording of a criterion of an unpublished framework (title, guidance) and whether a
    unit may mark it not applicable; one audit row per changed field."""
    framework = _editable_framework(criterion.framework)
    criterion = Criterion.objects.select_for_update().get(pk=criterion.pk)
    unknown = sorted(set(changes) - set(CRITERION_TEXTS))
    if unknown:
        raise ServiceError(N_("These criterion fields cannot be changed here: %(fields)s."),
                           params={"fields": ", ".join(unknown)}, obj=criterion, field=unknown[0],
                           criterion=criterion.code)
    old = {name: getattr(criterion, name) for name in changes}
    changed = [name for name, value in changes.items() if value != old[name]]
    if not changed:
        return criterion
    for name in changed:
        setattr(criterion, name, changes[name])
    _clean_or_refuse(criterion, exclude=["framework", "parent", "area"])
    criterion.save(update_fields=changed)
    AuditEntry.objects.bulk_create(
        _audit(framework, criterion=criterion, action="criterion_change", field=name, old=old[name],
               new=changes[name], actor=actor, via=via)
        for name in changed
    )
    return criterion


def _bands_text(bands: Iterable) -> str:
    """"Xuất sắc:90, Tốt:80, …": the bands as the audit trail shows them (highest first)."""
    return ", ".join(f"{b.name}:{Decimal(b.min_index).normalize():f}"
                     for b in sorted(bands, key=lambda b: -Decimal(b.min_index)))


@transaction.atomic
def grade_bands_set(*, framework: Framework, bands: Iterable[Band], actor=None, via=Via.WEB) -> list[GradeBand]:
    """Replace the grade bands of an unpublished framework and regrade its results; one audit row
    with the bands before and after."""
    framework = _editable_framework(framework)
    bands = sorted(bands, key=lambda b: b.min_index, reverse=True)
    problems = []
    if len({b.name for b in bands}) != len(bands) or len({b.min_index for b in bands}) != len(bands):
        problems.append(ServiceError(N_("Grade bands must have different names and different minimum indices."),
                                     obj=framework, field="grade_bands"))
    rows = [GradeBand(framework=framework, name=b.name.strip(), min_index=b.min_index) for b in bands]
    for row in rows:
        try:
            _clean_or_refuse(row, exclude=["framework"], validate_constraints=False)
        except ServiceError as error:
            problems += error.all()
    if problems:
        raise ServiceError.group(problems)
    before = list(framework.grade_bands.all())
    if _bands_text(before) == _bands_text(rows):
        return before
    framework.grade_bands.all().delete()
    GradeBand.objects.bulk_create(rows)
    _audit(framework, action="grade_bands", field="grade_bands", old=_bands_text(before), new=_bands_text(rows),
           actor=actor, via=via).save()
    results_recompute(framework)
    return rows


SELF_FIELDS = ("self_points", "not_applicable", "note", "evidence_reference")
APPRAISAL_FIELDS = ("appraised_points", "appraisal_reason")


@transaction.atomic
def scores_apply_fields(
    *, assessment: Assessment, changes: Mapping[str, Mapping[str, object]], actor=None, via=Via.ADMIN
) -> None:
    """Apply field-by-field score changes {leaf code: {field: new value}} made on the office's side
    (a form or a file that holds every field of a score row) through the services of each part:
    the unit's figures (scores_apply_self, on its behalf), then the appraisal (scores_apply_appraisal),
    then the survey points of survey leaves (survey_apply). Nothing else is checked here."""
    assessment = Assessment.objects.select_related("framework", "unit").get(pk=assessment.pk)
    leaves = _leaves_by_code(assessment.framework, changes)
    current = {s.criterion.code: s for s in Score.objects.filter(assessment=assessment, criterion__in=leaves.values())
               .select_related("criterion")}
    self_entries: dict[str, SelfEntry] = {}
    appraisal_entries: dict[str, AppraisalEntry] = {}
    survey_entries: dict[str, Decimal | None] = {}
    for code, values in changes.items():
        score = current.get(code) or Score()

        def value(name, values=values, score=score):
            return values[name] if name in values else getattr(score, name)

        if set(values) & set(SELF_FIELDS):
            self_entries[code] = SelfEntry(
                value("self_points"), not_applicable=bool(value("not_applicable")),
                note=values.get("note"), evidence_reference=values.get("evidence_reference"),
            )
        if set(values) & set(APPRAISAL_FIELDS):
            if leaves[code].source == CriterionSource.SURVEY:
                survey_entries[code] = value("appraised_points")
            else:
                appraisal_entries[code] = AppraisalEntry(value("appraised_points"),
                                                         reason=value("appraisal_reason") or "")
    if self_entries:
        scores_apply_self(assessment=assessment, entries=self_entries, actor=actor, via=via, on_behalf=True)
    if appraisal_entries:
        scores_apply_appraisal(assessment=assessment, entries=appraisal_entries, actor=actor, via=via)
    if survey_entries:
        survey_apply(framework=assessment.framework, entries={assessment.unit.code: survey_entries}, actor=actor,
                     via=via)
