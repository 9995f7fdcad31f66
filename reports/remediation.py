"""Writes of remediation plans (kế hoạch khắc phục): suggesting items after publication, and the unit
filling them in. Both are audited in the framework's trail (parindex.audit)."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import AuditEntry, Subject
from parindex.audit.services import audit_entry
from parindex.errors import ErrorCode, ServiceError
from reports.access import can_change_remediation, can_report_remediation_result
from reports.models import RemediationItem, RemediationStatus
from scoring.inspections.scope import office_of
from scoring.models import (
    Assessment,
    Criterion,
    CriterionKind,
    CriterionSource,
    Framework,
    FrameworkStatus,
    Recommendation,
    Score,
    Via,
    VisitStatus,
)
from scoring.results.selectors import survey_left_out

ITEMS_PER_UNIT = 5


def weakest_criteria(
    framework: Framework, per_unit: int = ITEMS_PER_UNIT
) -> dict[int, list[tuple[int, Decimal]]]:
    """For each assessment of the framework, the scored leaves where it lost the most points
    (max − achieved, not-applicable leaves left out, an unscored leaf lost all its points), largest
    first, at most per_unit of them; the survey leaves of a unit whose optional survey the results
    leave out are left out too. Four queries whatever the number of units."""
    leaves = list(
        Criterion.objects.filter(framework=framework, is_leaf=True, kind=CriterionKind.SCORE)
        .order_by("order")
        .values_list("id", "max_points", "source")
    )
    order = {pk: i for i, (pk, _max, _source) in enumerate(leaves)}
    left_out = survey_left_out(framework)  # their survey leaves count nowhere, as in the results
    assessment_ids = list(Assessment.objects.filter(framework=framework).values_list("id", flat=True))
    achieved: dict[int, dict[int, Decimal | None]] = defaultdict(dict)  # None: not applicable
    # Not applicable as the results count it (Score.is_not_applicable), not the unit's proposal alone.
    for assessment_id, criterion_id, self_points, appraised_points, not_applicable in (
        Score.objects.filter(assessment__framework=framework, criterion__kind=CriterionKind.SCORE)
        .annotate(effective_na=Score.is_not_applicable_expression())
        .values_list("assessment_id", "criterion_id", "self_points", "appraised_points", "effective_na")
    ):
        final = appraised_points if appraised_points is not None else self_points
        achieved[assessment_id][criterion_id] = None if not_applicable else (final or Decimal("0"))
    weakest = {}
    for assessment_id in assessment_ids:
        points = achieved.get(assessment_id, {})
        losses = []
        for criterion_id, max_points, source in leaves:
            if criterion_id in points and points[criterion_id] is None:
                continue
            if source == CriterionSource.SURVEY and assessment_id in left_out:
                continue
            lost = max_points - (points.get(criterion_id) or Decimal("0"))
            if lost > 0:
                losses.append((criterion_id, lost))
        losses.sort(key=lambda item: (-item[1], order[item[0]]))
        weakest[assessment_id] = losses[:per_unit]
    return weakest


@transaction.atomic
def remediation_suggest(
    *, framework: Framework, per_unit: int = ITEMS_PER_UNIT, actor: User | None = None, via: str = Via.WEB
) -> int:
    """Create the suggested remediation items of a published framework: for each unit its weakest
    criteria. Items that exist already (and whatever the unit wrote in them) are kept. Returns how many
    items were created."""
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    if framework.status != FrameworkStatus.PUBLISHED:
        raise ServiceError(
            N_("Remediation items are suggested once the results are published."),
            code=ErrorCode.WORKFLOW,
            obj=framework,
        )
    existing = set(
        RemediationItem.objects.filter(assessment__framework=framework).values_list(
            "assessment_id", "criterion_id"
        )
    )
    new_items = [
        RemediationItem(assessment_id=assessment_id, criterion_id=criterion_id, points_lost=lost)
        for assessment_id, losses in weakest_criteria(framework, per_unit).items()
        for criterion_id, lost in losses
        if (assessment_id, criterion_id) not in existing
    ]
    RemediationItem.objects.bulk_create(new_items, batch_size=500)
    audit_entry(
        framework=framework,
        action="remediation_suggest",
        subject_type=Subject.REMEDIATION,
        actor=actor,
        via=via,
        field="remediation_items",
        new=len(new_items),
        reason=_("%(n)s per unit at most") % {"n": per_unit},
    ).save()
    return len(new_items)


EDITABLE_FIELDS = ("action", "responsible", "due_date", "status", "cause", "result")


@transaction.atomic
def remediation_update(
    *,
    item: RemediationItem,
    action: str,
    responsible: str,
    due_date: date | None,
    status: str,
    actor: User,
    via: str = Via.WEB,
    cause: str | None = None,
    result: str | None = None,
) -> RemediationItem:
    """Fill in a remediation item: action, person responsible, due date, status, the cause of the lost
    points and the result the unit reports (cause and result left as they are when None). Refused
    (nothing saved) for anybody but the unit's officers and its appraisers; the result is the unit's
    own report, so only its officers change it. Every changed field is audited."""
    item = (
        RemediationItem.objects.select_for_update()
        .select_related("assessment__unit", "assessment__framework", "criterion")
        .get(pk=item.pk)
    )
    if not can_change_remediation(actor, item):
        raise ServiceError(
            N_("Only the unit's officers fill in its remediation plan."), code=ErrorCode.FORBIDDEN, obj=item
        )
    if status not in RemediationStatus.values:
        raise ServiceError(
            N_("Unknown status %(status)s."), params={"status": status}, obj=item, field="status"
        )
    wanted = {
        "action": (action or "").strip(),
        "responsible": (responsible or "").strip(),
        "due_date": due_date,
        "status": status,
        "cause": item.cause if cause is None else cause.strip(),
        "result": item.result if result is None else result.strip(),
    }
    if wanted["result"] != item.result and not can_report_remediation_result(actor, item):
        raise ServiceError(
            N_("Only the unit's officers report the result of its remediation item."),
            code=ErrorCode.FORBIDDEN,
            obj=item,
            field="result",
        )
    changed = [name for name in EDITABLE_FIELDS if getattr(item, name) != wanted[name]]
    if not changed:
        return item
    old = {name: getattr(item, name) for name in changed}
    for name in changed:
        setattr(item, name, wanted[name])
    item.updated_by = actor if getattr(actor, "pk", None) else None
    stamped = []
    if "result" in changed:
        item.result_reported_at = timezone.now() if item.result else None
        stamped.append("result_reported_at")
    item.full_clean()
    item.save(update_fields=[*changed, *stamped, "updated_by", "updated_at"])
    AuditEntry.objects.bulk_create(
        [
            audit_entry(
                action="remediation_update",
                subject_type=Subject.REMEDIATION,
                subject=item,
                actor=actor,
                via=via,
                assessment=item.assessment,
                criterion=item.criterion,
                field=name,
                old=_text(old[name]),
                new=_text(wanted[name]),
            )
            for name in changed
        ]
    )
    return item


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


# --- from an inspection's recommendation (scoring.inspections) ----------------------------------------


@transaction.atomic
def remediation_from_recommendation(
    *, recommendation: Recommendation, actor: User | None, via: str = Via.WEB
) -> RemediationItem:
    """Make a concluded inspection's recommendation a remediation item of the unit's assessment in the
    framework of its criterion: the action, owner and deadline are the recommendation's, the points lost
    the criterion's as scored so far. The authority's appraisers do it; an item the unit already has for
    that criterion is kept (refused), and so is a recommendation that names no criterion."""
    recommendation = Recommendation.objects.select_related(
        "visit__unit", "visit__plan__authority", "criterion__framework"
    ).get(pk=recommendation.pk)
    visit = recommendation.visit
    if actor is not None and not office_of(actor, visit.plan.authority):
        raise ServiceError(
            N_("Only appraisers of %(authority)s make remediation items of its inspections."),
            code=ErrorCode.FORBIDDEN,
            obj=recommendation,
            params={"authority": visit.plan.authority.name},
        )
    if visit.status != VisitStatus.CONCLUDED:
        raise ServiceError(
            N_("Recommendations become remediation items once the inspection is concluded."),
            code=ErrorCode.WORKFLOW,
            obj=recommendation,
        )
    criterion = recommendation.criterion
    if criterion is None:
        raise ServiceError(
            N_("The recommendation names no criterion; a remediation item is about one."),
            obj=recommendation,
            field="criterion",
        )
    assessment = Assessment.objects.filter(unit=visit.unit, framework=criterion.framework).first()
    if assessment is None:
        raise ServiceError(
            N_("%(unit)s has no assessment in %(framework)s."),
            code=ErrorCode.WORKFLOW,
            obj=recommendation,
            params={"unit": visit.unit.name, "framework": criterion.framework.code},
        )
    if RemediationItem.objects.filter(assessment=assessment, criterion=criterion).exists():
        raise ServiceError(
            N_("%(unit)s already has a remediation item for %(code)s."),
            code=ErrorCode.CONFLICT,
            obj=recommendation,
            params={"unit": visit.unit.name, "code": criterion.code},
            criterion=criterion.code,
        )
    score = (
        Score.objects.filter(assessment=assessment, criterion=criterion)
        .annotate(effective_na=Score.is_not_applicable_expression())
        .first()
    )
    if score is not None and score.effective_na:
        lost = Decimal("0")
    else:
        final = (
            None
            if score is None
            else (score.appraised_points if score.appraised_points is not None else score.self_points)
        )
        lost = max(criterion.max_points - (final or Decimal("0")), Decimal("0"))
    item = RemediationItem(
        assessment=assessment,
        criterion=criterion,
        points_lost=lost,
        action=recommendation.text,
        responsible=recommendation.owner[:200],
        due_date=recommendation.deadline,
        status=RemediationStatus.PLANNED,
        updated_by=actor if getattr(actor, "pk", None) else None,
    )
    item.full_clean()
    item.save()
    audit_entry(
        action="remediation_from_inspection",
        subject_type=Subject.REMEDIATION,
        subject=item,
        actor=actor,
        via=via,
        assessment=assessment,
        criterion=criterion,
        field="recommendation",
        new=recommendation.pk,
        reason=recommendation.text,
    ).save()
    return item
