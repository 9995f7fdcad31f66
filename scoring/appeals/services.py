"""Writes of appeals: a unit lodges an appeal (kiến nghị) against the preliminary points of one leaf;
the office answers it, accepted with new appraised points and a reason, or refused with a reason.

Each write is atomic and audited, asks the framework's phase first (scoring.frameworks.phases:
LODGE_APPEAL in the preliminary phase only, ANSWER_APPEAL then and in the appeals phase), and tells
the people concerned by e-mail. An accepted appeal moves the points through the appraisal service
(scores_apply_appraisal, with the phase act of an appeal answer), so that its rules (limits, scoring
rule, raw figures) and the recompute of the results are the same as in the appraisal.
"""

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import when_text
from scoring.assessments.services import (
    APPRAISED_SOURCES,
    AppraisalEntry,
    WorkflowError,
    entry_points,
    evidence_file_error,
    scores_apply_appraisal,
)
from scoring.concurrency import APPRAISAL, by_assessment, stale_scores
from scoring.frameworks.phases import Act, phase_error
from scoring.frameworks.services import audit, notify, refuse
from scoring.locking import assessment_for_update
from scoring.models import (
    Appeal,
    AppealStatus,
    Assessment,
    AssessmentStatus,
    Criterion,
    Score,
    Via,
)
from units.models import Membership, Role, Unit


def _when(value: datetime) -> str:
    return when_text(value)


def _is_officer_of(actor: User | None, unit: Unit) -> bool:
    return bool(
        getattr(actor, "pk", None)
        and Membership.objects.filter(user=actor, unit=unit, role=Role.OFFICER).exists()
    )


def _appraises(actor: User | None, unit: Unit) -> bool:
    """An appraiser of the unit or of a unit above it (the same rule as scoring.access.Reach.appraises)."""
    if not getattr(actor, "pk", None):
        return False
    if actor.is_superuser:
        return True
    ancestors = [int(part) for part in unit.path.strip("/").split("/") if part]
    return Membership.objects.filter(user=actor, unit_id__in=ancestors, role=Role.APPRAISER).exists()


def _final_points(score: Score | None) -> Decimal | None:
    if score is None or score.is_not_applicable:
        return None
    return score.final_points


def appeal_deadline_error(assessment: Assessment, now: datetime | None = None) -> ServiceError | None:
    """Why no appeal can be lodged now on this assessment (the phase, the deadline, its status), or
    None. Pages ask this to decide whether to show the forms; appeal_lodge raises it."""
    framework = assessment.framework
    error = phase_error(framework, Act.LODGE_APPEAL)
    if error is not None:
        return error
    deadline = framework.appeal_deadline
    if deadline is not None and (now or timezone.now()) > deadline:
        return WorkflowError(
            N_("The appeal deadline (%(deadline)s) has passed; appeals can no longer be lodged."),
            params={"deadline": _when(deadline)},
            obj=framework,
            field="appeal_deadline",
        )
    if assessment.status != AssessmentStatus.APPRAISED:
        return WorkflowError(
            N_("The assessment of %(unit)s is %(status)s; appeals are lodged against appraised results."),
            params={"unit": assessment.unit.code, "status": AssessmentStatus(assessment.status).label},
            obj=assessment,
            field="status",
        )
    return None


def _leaf_error(assessment: Assessment, criterion: Criterion | None, code: str) -> ServiceError | None:
    framework = assessment.framework
    if criterion is None:
        return ServiceError(
            N_("Criterion %(code)s is not in framework %(framework)s."),
            code=ErrorCode.NOT_FOUND,
            params={"code": code, "framework": framework.code},
            obj=framework,
            field="criterion",
            criterion=code,
        )
    if not criterion.is_leaf:
        return ServiceError(
            N_("Appeals are lodged on criteria of the last level; %(code)s has sub-criteria."),
            params={"code": code},
            obj=criterion,
            field="criterion",
            criterion=code,
        )
    if criterion.source not in APPRAISED_SOURCES:
        return ServiceError(
            N_(
                "%(code)s is scored by the sociological survey; its result is not appealed criterion by criterion."
            ),
            params={"code": code},
            obj=criterion,
            field="criterion",
            criterion=code,
        )
    return None


@transaction.atomic
def appeal_lodge(
    *,
    assessment: Assessment,
    code: str,
    text: str,
    evidence_reference: str = "",
    upload: File | None = None,
    actor: User,
    via: str = Via.WEB,
    now: datetime | None = None,
) -> Appeal:
    """The unit's appeal against the preliminary points of one leaf (by code), with its argument and,
    optionally, evidence: a file and/or the reference of an issued document. Only an officer of the
    unit lodges it, while the framework's phase allows appeals and before the appeal deadline, on an
    appraised assessment; one open appeal per criterion. The appraisers over the unit are told."""
    assessment = assessment_for_update(assessment)
    framework = assessment.framework
    if not _is_officer_of(actor, assessment.unit):
        raise ServiceError(
            N_("Only the officers of %(unit)s lodge its appeals."),
            code=ErrorCode.FORBIDDEN,
            params={"unit": assessment.unit.name},
            obj=assessment,
        )
    window = appeal_deadline_error(assessment, now)
    if window is not None:
        raise window
    criterion = Criterion.objects.filter(framework=framework, code=code).first()
    problems = [error for error in [_leaf_error(assessment, criterion, code)] if error]
    text = (text or "").strip()
    if not text:
        problems.append(
            ServiceError(
                N_("Say what the unit appeals against and why."), obj=assessment, field="text", criterion=code
            )
        )
    if upload is not None:
        problems += [error for error in [evidence_file_error(upload)] if error]
    if (
        criterion is not None
        and Appeal.objects.filter(
            assessment=assessment, criterion=criterion, status=AppealStatus.LODGED
        ).exists()
    ):
        problems.append(
            ServiceError(
                N_("The unit already has an open appeal on %(code)s; wait for its answer."),
                code=ErrorCode.CONFLICT,
                params={"code": code},
                obj=criterion,
                field="criterion",
                criterion=code,
            )
        )
    refuse(problems)
    assert criterion is not None  # refused above otherwise
    score = Score.objects.filter(assessment=assessment, criterion=criterion).first()
    appeal = Appeal(
        framework=framework,
        assessment=assessment,
        criterion=criterion,
        text=text,
        evidence_reference=(evidence_reference or "").strip(),
        old_points=_final_points(score),
        lodged_by=actor,
        lodged_at=now or timezone.now(),
    )
    if upload is not None:
        appeal.evidence_file.save((upload.name or "").rsplit("/", 1)[-1], upload, save=False)
    appeal.full_clean()
    appeal.save()
    audit(
        framework,
        assessment=assessment,
        criterion=criterion,
        action="appeal_lodge",
        field="appeal",
        new=AppealStatus.LODGED,
        reason=text,
        actor=actor,
        via=via,
    ).save()
    notify("appeal_lodged", appeal.pk)
    return appeal


ACCEPT, REFUSE = "accept", "refuse"


@transaction.atomic
def appeal_answer(
    *,
    appeal: Appeal,
    decision: str,
    reason: str,
    points: Decimal | None = None,
    raw: str | None = None,
    actor: User,
    via: str = Via.WEB,
    version: int | None = None,
) -> Appeal:
    """The office's answer to an open appeal: `accept` with the new appraised points (or raw figure,
    under the leaf's rule) and a reason, or `refuse` with a reason. Only an appraiser over the unit
    answers, while the phase allows answering appeals. An accepted appeal stores the points through
    the appraisal service (audited, results recomputed); the unit's officers are told either way.

    `version`: the score row's version the answer form showed (its points now). An answer to points
    another person changed since is refused (StaleEdit: the points now, who and when), accepted or
    refused alike, since either answers the points shown; an accepted one is checked again under the
    assessment's lock by the appraisal service."""
    appeal = (
        Appeal.objects.select_for_update(of=("self",))  # never the framework row (scoring.locking)
        .select_related("assessment__unit", "assessment__framework", "criterion")
        .get(pk=appeal.pk)
    )
    assessment, criterion = appeal.assessment, appeal.criterion
    framework = assessment.framework
    if not _appraises(actor, assessment.unit):
        raise ServiceError(
            N_("Only appraisers of the Home Affairs office answer appeals."),
            code=ErrorCode.FORBIDDEN,
            obj=appeal,
        )
    refuse([error for error in [phase_error(framework, Act.ANSWER_APPEAL)] if error])
    if appeal.status != AppealStatus.LODGED:
        raise WorkflowError(
            N_("The appeal on %(code)s is already answered (%(status)s)."),
            code=ErrorCode.CONFLICT,
            params={"code": criterion.code, "status": AppealStatus(appeal.status).label},
            obj=appeal,
            field="status",
            criterion=criterion.code,
        )
    # Points changed since the form was read: refused before anything else is said of them.
    refuse(
        stale_scores(
            by_assessment(assessment.pk, {criterion.code: version}),
            {criterion.code: criterion},
            part=APPRAISAL,
        )
    )
    reason = (reason or "").strip()
    problems: list[ServiceError] = []
    if decision not in (ACCEPT, REFUSE):
        problems.append(
            ServiceError(
                N_("%(value)s is not an answer to an appeal; accept or refuse it."),
                params={"value": decision},
                obj=appeal,
                field="decision",
                criterion=criterion.code,
            )
        )
    if not reason:
        problems.append(
            ServiceError(
                N_("Give the reason of the answer to the appeal on %(code)s."),
                params={"code": criterion.code},
                obj=appeal,
                field="answer",
                criterion=criterion.code,
            )
        )
    score = Score.objects.filter(assessment=assessment, criterion=criterion).first()
    current = _final_points(score)
    new_points = None
    if decision == ACCEPT:
        new_points, _raw, entry_problems = entry_points(
            criterion, points, raw, points_field="appraised_points"
        )
        problems += entry_problems
        if not entry_problems and new_points is None:
            problems.append(
                ServiceError(
                    N_("An accepted appeal gives the new points of %(code)s."),
                    params={"code": criterion.code},
                    obj=appeal,
                    field="appraised_points",
                    criterion=criterion.code,
                )
            )
        elif new_points is not None and new_points == current:
            problems.append(
                ServiceError(
                    N_("%(value)s are already the points of %(code)s; an accepted appeal changes them."),
                    params={"value": new_points, "code": criterion.code},
                    obj=appeal,
                    field="appraised_points",
                    criterion=criterion.code,
                )
            )
    refuse(problems)
    if decision == ACCEPT:
        # What was entered goes to the appraisal service as entered (points, or the raw figure of a
        # rule that takes one), which checks it again by the same rule (entry_points).
        scores_apply_appraisal(
            assessment=assessment,
            entries={criterion.code: AppraisalEntry(points, reason, raw=(raw or "").strip() or None)},
            actor=actor,
            via=via,
            _phase_act=Act.ANSWER_APPEAL,
            versions={criterion.code: version},
        )
    appeal.status = AppealStatus.ACCEPTED if decision == ACCEPT else AppealStatus.REFUSED
    appeal.answer = reason
    appeal.new_points = new_points
    appeal.answered_by = actor
    appeal.answered_at = timezone.now()
    appeal.save(update_fields=["status", "answer", "new_points", "answered_by", "answered_at"])
    audit(
        framework,
        assessment=assessment,
        criterion=criterion,
        action="appeal_answer",
        field="appeal",
        old=AppealStatus.LODGED,
        new=appeal.status,
        reason=reason,
        actor=actor,
        via=via,
    ).save()
    notify("appeal_answered", appeal.pk)
    return appeal
