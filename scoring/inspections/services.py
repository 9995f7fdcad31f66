"""Writes of inspections (DESIGN §2.4): the plan, the visits and their teams, findings, the draft shared
with the unit and its response, the conclusion with recommendations, the unit's fix reports and the
office's closing. Each runs in one transaction, refuses with ServiceError (nothing half-saved) and is
audited (parindex.audit: subject "unit", the unit inspected, or the authority for the plan)."""

from collections.abc import Iterable, Sequence
from datetime import date

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from parindex.audit.models import Subject
from parindex.audit.services import audit_entry
from parindex.errors import ErrorCode, ServiceError
from scoring.assessments.services import evidence_file_error
from scoring.frameworks.services import notify, refuse
from scoring.inspections.models import (
    Conclusion,
    Finding,
    FindingFile,
    InspectionPlan,
    InspectionVisit,
    Recommendation,
    RecommendationStatus,
    TeamMember,
    VisitStatus,
)
from scoring.inspections.scope import is_unit_officer, may_lead_team, office_of, team_role
from scoring.inspections.selectors import unit_frameworks
from scoring.models import Criterion, Via
from units.models import Unit, UnitKind


def _name(user) -> str:
    return user.get_full_name() or user.username


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _audit(visit_or_plan, *, action, actor, via, field="", old="", new="", reason="", criterion=None):
    if isinstance(visit_or_plan, InspectionPlan):
        unit, label = visit_or_plan.authority, f"{visit_or_plan.year} · {visit_or_plan.name}"
    else:
        unit, label = visit_or_plan.unit, f"{visit_or_plan.plan.year} · {visit_or_plan.plan.name}"
    audit_entry(
        action=action,
        actor=actor,
        via=via,
        subject_type=Subject.UNIT,
        subject=visit_or_plan,
        subject_label=label,
        unit=unit,
        criterion=criterion,
        field=field,
        old=old,
        new=new,
        reason=reason,
    ).save()


def _forbidden(message: str, obj, **params) -> ServiceError:
    return ServiceError(message, code=ErrorCode.FORBIDDEN, obj=obj, params=params)


def _ensure_office(actor, authority: Unit, obj) -> None:
    """The authority's appraisers plan inspections (a command without a user runs as the office)."""
    if actor is not None and not office_of(actor, authority):
        raise _forbidden(
            N_("Only appraisers of %(authority)s plan its inspections."), obj, authority=authority.name
        )


def _locked_visit(visit: InspectionVisit) -> InspectionVisit:
    return (
        InspectionVisit.objects.select_for_update(of=("self",))
        .select_related("plan__authority", "unit")
        .get(pk=visit.pk)
    )


def _ensure_team(actor, visit: InspectionVisit, *, leader: bool = False) -> None:
    role = team_role(actor, visit) if actor is not None else "leader"
    if leader and role != "leader":
        raise _forbidden(N_("Only the leader of the inspection team does this."), visit)
    if role is None:
        raise _forbidden(N_("Only members of the inspection team do this."), visit)


def _ensure_not_concluded(visit: InspectionVisit) -> None:
    if visit.is_concluded:
        raise ServiceError(
            N_("The inspection of %(unit)s is concluded; its findings and recommendations are final."),
            code=ErrorCode.WORKFLOW,
            obj=visit,
            params={"unit": visit.unit.name},
        )


def _file_problems(files: Iterable[File | None], field: str = "file") -> list[ServiceError]:
    problems = []
    for upload in files:
        if upload is None:
            continue
        error = evidence_file_error(upload)
        if error is not None:
            error.field = field
            problems.append(error)
    return problems


def _save_file(field_file, upload: File, default: str) -> None:
    field_file.save((upload.name or default).rsplit("/", 1)[-1][-100:], upload, save=False)


# --- plans and visits ---------------------------------------------------------------------------------


def _plan_problems(name: str, document_date: date | None, obj) -> list[ServiceError]:
    problems = []
    if not name:
        problems.append(ServiceError(N_("Give the plan a name."), obj=obj, field="name"))
    if document_date is not None and document_date > timezone.localdate():
        problems.append(
            ServiceError(N_("The plan's date cannot be in the future."), obj=obj, field="document_date")
        )
    return problems


@transaction.atomic
def plan_create(
    *,
    authority: Unit,
    year: int,
    name: str,
    document_number: str = "",
    document_date: date | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> InspectionPlan:
    """The authority's inspection plan of a year (one per authority and year)."""
    _ensure_office(actor, authority, authority)
    name, document_number = (name or "").strip(), (document_number or "").strip()
    problems = _plan_problems(name, document_date, authority)
    if authority.kind == UnitKind.COMMUNE:
        problems.append(
            ServiceError(
                N_("%(unit)s is not an authority that inspects units."),
                obj=authority,
                field="authority",
                params={"unit": authority.name},
            )
        )
    if InspectionPlan.objects.filter(authority=authority, year=year).exists():
        problems.append(
            ServiceError(
                N_("%(authority)s already has an inspection plan for %(year)s."),
                code=ErrorCode.CONFLICT,
                obj=authority,
                field="year",
                params={"authority": authority.name, "year": year},
            )
        )
    refuse(problems)
    plan = InspectionPlan(
        authority=authority,
        year=year,
        name=name,
        document_number=document_number,
        document_date=document_date,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    plan.full_clean()
    plan.save()
    _audit(
        plan,
        action="inspection_plan_create",
        actor=actor,
        via=via,
        field="plan",
        new=f"{year} · {name} · {document_number} {_day(document_date)}".strip(),
    )
    return plan


@transaction.atomic
def plan_update(
    *,
    plan: InspectionPlan,
    name: str,
    document_number: str = "",
    document_date: date | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> InspectionPlan:
    plan = InspectionPlan.objects.select_for_update().select_related("authority").get(pk=plan.pk)
    _ensure_office(actor, plan.authority, plan)
    name, document_number = (name or "").strip(), (document_number or "").strip()
    refuse(_plan_problems(name, document_date, plan))
    wanted: dict[str, object] = {
        "name": name,
        "document_number": document_number,
        "document_date": document_date,
    }
    changed = [field for field, value in wanted.items() if getattr(plan, field) != value]
    for field in changed:
        old = getattr(plan, field)
        setattr(plan, field, wanted[field])
        _audit(
            plan,
            action="inspection_plan_update",
            actor=actor,
            via=via,
            field=field,
            old=_day(old) if field == "document_date" else old,
            new=_day(document_date) if field == "document_date" else wanted[field],
        )
    if changed:
        plan.full_clean()
        plan.save(update_fields=changed)
    return plan


@transaction.atomic
def visit_schedule(
    *,
    plan: InspectionPlan,
    unit: Unit,
    start_date: date,
    end_date: date,
    actor: User | None = None,
    via: str = Via.WEB,
) -> InspectionVisit:
    """Schedule a visit of a unit under the plan's authority, within the plan's year."""
    plan = InspectionPlan.objects.select_for_update().select_related("authority").get(pk=plan.pk)
    _ensure_office(actor, plan.authority, plan)
    problems = []
    if unit.pk == plan.authority_id or not unit.path.startswith(plan.authority.path):
        problems.append(
            ServiceError(
                N_("%(unit)s is not a unit under %(authority)s."),
                obj=plan,
                field="unit",
                params={"unit": unit.name, "authority": plan.authority.name},
            )
        )
    if end_date < start_date:
        problems.append(ServiceError(N_("The visit ends before it starts."), obj=plan, field="end_date"))
    if start_date.year != plan.year or end_date.year != plan.year:
        problems.append(
            ServiceError(
                N_("The visit falls outside %(year)s, the plan's year."),
                obj=plan,
                field="start_date",
                params={"year": plan.year},
            )
        )
    refuse(problems)
    visit = InspectionVisit.objects.create(plan=plan, unit=unit, start_date=start_date, end_date=end_date)
    visit.plan = plan
    _audit(
        visit,
        action="inspection_visit_schedule",
        actor=actor,
        via=via,
        field="visit",
        new=f"{unit.code} · {_day(start_date)}–{_day(end_date)}",
    )
    return visit


@transaction.atomic
def team_set(
    *,
    visit: InspectionVisit,
    members: Sequence[tuple[User, Unit]],
    leader: User,
    actor: User | None = None,
    via: str = Via.WEB,
) -> list[TeamMember]:
    """Set the visit's team: users with their offices, one of them its leader (a Home Affairs leader or
    appraiser of the authority). The authority's appraisers set it, until the visit is concluded."""
    visit = _locked_visit(visit)
    _ensure_office(actor, visit.plan.authority, visit)
    _ensure_not_concluded(visit)
    problems = []
    users = [user for user, _office in members]
    if not members:
        problems.append(ServiceError(N_("A team has at least one member."), obj=visit, field="members"))
    if len({user.pk for user in users}) != len(users):
        problems.append(ServiceError(N_("A member is listed twice."), obj=visit, field="members"))
    if leader.pk not in {user.pk for user in users}:
        problems.append(
            ServiceError(N_("The team leader must be a member of the team."), obj=visit, field="leader")
        )
    elif not may_lead_team(leader, visit.plan.authority):
        problems.append(
            ServiceError(
                N_("%(user)s cannot lead the team: the leader is a leader or appraiser of %(office)s."),
                obj=visit,
                field="leader",
                params={"user": _name(leader), "office": visit.plan.authority.home_affairs_office},
            )
        )
    officers = [user for user in users if is_unit_officer(user, visit.unit)]
    if officers:
        problems.append(
            ServiceError(
                N_("%(user)s is an officer of the unit inspected and cannot be on its team."),
                obj=visit,
                field="members",
                params={"user": _name(officers[0])},
            )
        )
    refuse(problems)
    old = "; ".join(
        f"{m.user.username} · {m.office.code}{' · leader' if m.is_leader else ''}"
        for m in visit.team.select_related("user", "office")
    )
    visit.team.all().delete()
    team = TeamMember.objects.bulk_create(
        [
            TeamMember(visit=visit, user=user, office=office, is_leader=user.pk == leader.pk)
            for user, office in members
        ]
    )
    new = "; ".join(
        f"{user.username} · {office.code}{' · leader' if user.pk == leader.pk else ''}"
        for user, office in members
    )
    _audit(visit, action="inspection_team_set", actor=actor, via=via, field="team", old=old, new=new)
    return team


# --- findings -----------------------------------------------------------------------------------------


def _criteria_problems(visit: InspectionVisit, area: Criterion | None, criterion: Criterion | None):
    """Area and criterion (both optional) belong to a framework of the unit for the plan's year: an
    area is a top-level criterion, a criterion a leaf (of that area when both are given)."""
    framework_ids = {framework.pk for framework in unit_frameworks(visit.unit, visit.plan.year)}
    problems = []
    for value, field in ((area, "area"), (criterion, "criterion")):
        if value is not None and value.framework_id not in framework_ids:
            problems.append(
                ServiceError(
                    N_("%(code)s is not a criterion of %(unit)s's framework for %(year)s."),
                    obj=visit,
                    field=field,
                    criterion=value.code,
                    params={"code": value.code, "unit": visit.unit.name, "year": visit.plan.year},
                )
            )
    if problems:
        return problems
    if area is not None and area.parent_id is not None:
        problems.append(
            ServiceError(
                N_("%(code)s is not an area (a top-level criterion)."),
                obj=visit,
                field="area",
                criterion=area.code,
                params={"code": area.code},
            )
        )
    if criterion is not None and not criterion.is_leaf:
        problems.append(
            ServiceError(
                N_("%(code)s is not a scored criterion; choose a leaf."),
                obj=visit,
                field="criterion",
                criterion=criterion.code,
                params={"code": criterion.code},
            )
        )
    if area is not None and criterion is not None and criterion.area_id != area.pk:
        problems.append(
            ServiceError(
                N_("%(code)s is not under area %(area)s."),
                obj=visit,
                field="criterion",
                criterion=criterion.code,
                params={"code": criterion.code, "area": area.code},
            )
        )
    return problems


def _finding_label(area: Criterion | None, criterion: Criterion | None) -> str:
    named = criterion or area
    return named.code if named is not None else ""


@transaction.atomic
def finding_add(
    *,
    visit: InspectionVisit,
    text: str,
    area: Criterion | None = None,
    criterion: Criterion | None = None,
    files: Iterable[File] = (),
    actor: User | None = None,
    via: str = Via.WEB,
) -> Finding:
    """A team member records a finding (until the conclusion); the first one starts the visit."""
    visit = _locked_visit(visit)
    _ensure_team(actor, visit)
    _ensure_not_concluded(visit)
    files = [f for f in files if f is not None]
    text = (text or "").strip()
    problems = _criteria_problems(visit, area, criterion) + _file_problems(files)
    if not text:
        problems.append(ServiceError(N_("Write the finding."), obj=visit, field="text"))
    refuse(problems)
    if criterion is not None and area is None:
        area = Criterion.objects.get(pk=criterion.area_id) if criterion.area_id else None
    finding = Finding.objects.create(
        visit=visit,
        area=area,
        criterion=criterion,
        text=text,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _attach(finding, files, actor)
    if visit.status == VisitStatus.PLANNED:
        visit.status = VisitStatus.VISITING
        visit.save(update_fields=["status"])
        _audit(
            visit,
            action="inspection_visit_status",
            actor=actor,
            via=via,
            field="status",
            old=VisitStatus.PLANNED,
            new=VisitStatus.VISITING,
        )
    _audit(
        visit,
        action="inspection_finding_add",
        actor=actor,
        via=via,
        field=f"finding:{finding.pk}",
        new=text,
        criterion=criterion or area,
        reason=", ".join(FindingFile.objects.filter(finding=finding).values_list("file", flat=True)),
    )
    return finding


def _attach(finding: Finding, files: Iterable[File], actor) -> None:
    for upload in files:
        attached = FindingFile(finding=finding, uploaded_by=actor if getattr(actor, "pk", None) else None)
        _save_file(attached.file, upload, "finding")
        attached.save()


def _locked_finding(finding: Finding) -> tuple[Finding, InspectionVisit]:
    finding = Finding.objects.select_for_update(of=("self",)).get(pk=finding.pk)
    return finding, _locked_visit(finding.visit)


@transaction.atomic
def finding_update(
    *,
    finding: Finding,
    text: str,
    area: Criterion | None = None,
    criterion: Criterion | None = None,
    files: Iterable[File] = (),
    actor: User | None = None,
    via: str = Via.WEB,
) -> Finding:
    """Correct a finding (and add files to it): the team, until the conclusion."""
    finding, visit = _locked_finding(finding)
    _ensure_team(actor, visit)
    _ensure_not_concluded(visit)
    files = [f for f in files if f is not None]
    text = (text or "").strip()
    problems = _criteria_problems(visit, area, criterion) + _file_problems(files)
    if not text:
        problems.append(ServiceError(N_("Write the finding."), obj=visit, field="text"))
    refuse(problems)
    if criterion is not None and area is None:
        area = Criterion.objects.get(pk=criterion.area_id) if criterion.area_id else None
    old = f"{_finding_label(finding.area, finding.criterion)} {finding.text}".strip()
    finding.text, finding.area, finding.criterion = text, area, criterion
    finding.save(update_fields=["text", "area", "criterion", "updated_at"])
    _attach(finding, files, actor)
    _audit(
        visit,
        action="inspection_finding_update",
        actor=actor,
        via=via,
        field=f"finding:{finding.pk}",
        old=old,
        new=f"{_finding_label(area, criterion)} {text}".strip(),
        criterion=criterion or area,
    )
    return finding


@transaction.atomic
def finding_delete(*, finding: Finding, actor: User | None = None, via: str = Via.WEB) -> None:
    finding, visit = _locked_finding(finding)
    _ensure_team(actor, visit)
    _ensure_not_concluded(visit)
    old = f"{_finding_label(finding.area, finding.criterion)} {finding.text}".strip()
    pk = finding.pk
    finding.delete()
    _audit(visit, action="inspection_finding_delete", actor=actor, via=via, field=f"finding:{pk}", old=old)


# --- the draft, the response, the conclusion ----------------------------------------------------------


@transaction.atomic
def draft_share(*, visit: InspectionVisit, actor: User | None = None, via: str = Via.WEB) -> InspectionVisit:
    """The team leader shares the draft findings with the unit (its officers are told): once the visit
    has findings, and only once."""
    visit = _locked_visit(visit)
    _ensure_team(actor, visit, leader=True)
    if visit.status != VisitStatus.VISITING:
        raise ServiceError(
            N_("Draft findings are shared once, after the visit has recorded findings."),
            code=ErrorCode.WORKFLOW,
            obj=visit,
        )
    old = visit.status
    visit.status, visit.draft_shared_at = VisitStatus.DRAFT_SHARED, timezone.now()
    visit.save(update_fields=["status", "draft_shared_at"])
    _audit(
        visit,
        action="inspection_draft_share",
        actor=actor,
        via=via,
        field="status",
        old=old,
        new=visit.status,
        reason=str(visit.findings.count()),
    )
    notify("inspection_draft_shared", visit.pk)
    return visit


@transaction.atomic
def visit_respond(
    *,
    visit: InspectionVisit,
    text: str,
    file: File | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> InspectionVisit:
    """The unit's officers answer the draft findings (while they are shared, before the conclusion);
    a later answer replaces the earlier one."""
    visit = _locked_visit(visit)
    if actor is not None and not is_unit_officer(actor, visit.unit):
        raise _forbidden(
            N_("Only the officers of %(unit)s respond to its draft findings."), visit, unit=visit.unit.name
        )
    if visit.status != VisitStatus.DRAFT_SHARED:
        raise ServiceError(
            N_("The unit responds while the draft findings are shared, before the conclusion."),
            code=ErrorCode.WORKFLOW,
            obj=visit,
        )
    text = (text or "").strip()
    problems = _file_problems([file])
    if not text:
        problems.append(ServiceError(N_("Write the unit's response."), obj=visit, field="text"))
    refuse(problems)
    old = visit.response_text
    visit.response_text, visit.responded_at = text, timezone.now()
    visit.responded_by = actor if getattr(actor, "pk", None) else None
    fields = ["response_text", "responded_at", "responded_by"]
    if file is not None:
        _save_file(visit.response_file, file, "response")
        fields.append("response_file")
    visit.save(update_fields=fields)
    _audit(
        visit,
        action="inspection_respond",
        actor=actor,
        via=via,
        field="response",
        old=old,
        new=text,
        reason=visit.response_filename,
    )
    return visit


@transaction.atomic
def recommendation_add(
    *,
    visit: InspectionVisit,
    text: str,
    owner: str,
    deadline: date | None,
    criterion: Criterion | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> Recommendation:
    """A recommendation of the coming conclusion: the team, until the visit is concluded."""
    visit = _locked_visit(visit)
    _ensure_team(actor, visit)
    _ensure_not_concluded(visit)
    text, owner = (text or "").strip(), (owner or "").strip()
    problems = _criteria_problems(visit, None, criterion)
    if not text:
        problems.append(ServiceError(N_("Write the recommendation."), obj=visit, field="text"))
    if not owner:
        problems.append(ServiceError(N_("Say who owns the recommendation."), obj=visit, field="owner"))
    if deadline is None:
        problems.append(ServiceError(N_("Give the recommendation a deadline."), obj=visit, field="deadline"))
    elif deadline < visit.start_date:
        problems.append(ServiceError(N_("The deadline is before the visit."), obj=visit, field="deadline"))
    refuse(problems)
    assert deadline is not None  # refused above
    recommendation = Recommendation.objects.create(
        visit=visit, text=text, owner=owner, deadline=deadline, criterion=criterion
    )
    _audit(
        visit,
        action="inspection_recommendation_add",
        actor=actor,
        via=via,
        field=f"recommendation:{recommendation.pk}",
        new=f"{text} · {owner} · {_day(deadline)}",
        criterion=criterion,
    )
    return recommendation


@transaction.atomic
def recommendation_delete(*, recommendation: Recommendation, actor: User | None = None, via: str = Via.WEB):
    visit = _locked_visit(recommendation.visit)
    _ensure_team(actor, visit)
    _ensure_not_concluded(visit)
    recommendation = Recommendation.objects.get(pk=recommendation.pk)
    old = f"{recommendation.text} · {recommendation.owner} · {_day(recommendation.deadline)}"
    pk = recommendation.pk
    recommendation.delete()
    _audit(
        visit,
        action="inspection_recommendation_delete",
        actor=actor,
        via=via,
        field=f"recommendation:{pk}",
        old=old,
    )


@transaction.atomic
def visit_conclude(
    *,
    visit: InspectionVisit,
    conclusion_date: date | None,
    text: str,
    no_recommendations: bool = False,
    actor: User | None = None,
    via: str = Via.WEB,
) -> Conclusion:
    """The team leader concludes the visit once the draft findings were shared: the conclusion with its
    recommendations (at least one, or an explicit "no recommendations"). The unit's officers are told."""
    visit = _locked_visit(visit)
    _ensure_team(actor, visit, leader=True)
    if visit.status != VisitStatus.DRAFT_SHARED:
        raise ServiceError(
            N_("A visit is concluded after its draft findings were shared with the unit."),
            code=ErrorCode.WORKFLOW,
            obj=visit,
        )
    text = (text or "").strip()
    problems = []
    count = visit.recommendations.count()
    if not text:
        problems.append(ServiceError(N_("Write the conclusion."), obj=visit, field="text"))
    if conclusion_date is None:
        problems.append(ServiceError(N_("Give the conclusion's date."), obj=visit, field="conclusion_date"))
    elif conclusion_date > timezone.localdate():
        problems.append(
            ServiceError(
                N_("The conclusion's date cannot be in the future."), obj=visit, field="conclusion_date"
            )
        )
    elif conclusion_date < visit.start_date:
        problems.append(
            ServiceError(N_("The conclusion's date is before the visit."), obj=visit, field="conclusion_date")
        )
    if count == 0 and not no_recommendations:
        problems.append(
            ServiceError(
                N_("Add at least one recommendation, or state that the conclusion has none."),
                code=ErrorCode.WORKFLOW,
                obj=visit,
                field="no_recommendations",
            )
        )
    if count and no_recommendations:
        problems.append(
            ServiceError(
                N_("The visit has %(n)s recommendations; remove them to conclude without any."),
                obj=visit,
                field="no_recommendations",
                params={"n": count},
            )
        )
    refuse(problems)
    assert conclusion_date is not None  # refused above
    conclusion = Conclusion.objects.create(
        visit=visit,
        date=conclusion_date,
        text=text,
        concluded_by=actor if getattr(actor, "pk", None) else None,
    )
    old = visit.status
    visit.status, visit.no_recommendations = VisitStatus.CONCLUDED, bool(no_recommendations)
    visit.save(update_fields=["status", "no_recommendations"])
    _audit(
        visit,
        action="inspection_conclude",
        actor=actor,
        via=via,
        field="status",
        old=old,
        new=visit.status,
        reason=f"{_day(conclusion_date)} · {count}",
    )
    notify("inspection_concluded", visit.pk)
    return conclusion


# --- recommendations fixed and closed -----------------------------------------------------------------


def _locked_recommendation(recommendation: Recommendation) -> Recommendation:
    recommendation = Recommendation.objects.select_for_update(of=("self",)).get(pk=recommendation.pk)
    recommendation.visit = _locked_visit(recommendation.visit)
    return recommendation


@transaction.atomic
def recommendation_report_fixed(
    *,
    recommendation: Recommendation,
    report: str,
    file: File | None,
    fix_date: date | None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> Recommendation:
    """The unit's officers report a recommendation fixed, with an evidence file and the date."""
    recommendation = _locked_recommendation(recommendation)
    visit = recommendation.visit
    if actor is not None and not is_unit_officer(actor, visit.unit):
        raise _forbidden(
            N_("Only the officers of %(unit)s report its recommendations fixed."), visit, unit=visit.unit.name
        )
    if not visit.is_concluded:
        raise ServiceError(
            N_("Recommendations are reported fixed once the inspection is concluded."),
            code=ErrorCode.WORKFLOW,
            obj=recommendation,
        )
    if recommendation.status != RecommendationStatus.OPEN:
        raise ServiceError(
            N_("This recommendation is %(status)s; only an open one is reported fixed."),
            code=ErrorCode.WORKFLOW,
            obj=recommendation,
            params={"status": recommendation.get_status_display()},
        )
    report = (report or "").strip()
    problems = _file_problems([file])
    if not report:
        problems.append(ServiceError(N_("Say what was fixed."), obj=recommendation, field="report"))
    if file is None:
        problems.append(ServiceError(N_("Attach the evidence of the fix."), obj=recommendation, field="file"))
    if fix_date is None:
        problems.append(ServiceError(N_("Give the date of the fix."), obj=recommendation, field="fix_date"))
    elif fix_date > timezone.localdate():
        problems.append(
            ServiceError(
                N_("The date of the fix cannot be in the future."), obj=recommendation, field="fix_date"
            )
        )
    refuse(problems)
    recommendation.status = RecommendationStatus.REPORTED_FIXED
    recommendation.fix_report, recommendation.fix_date = report, fix_date
    recommendation.fix_reported_by = actor if getattr(actor, "pk", None) else None
    assert file is not None  # refused above
    _save_file(recommendation.fix_file, file, "fix")
    recommendation.save(update_fields=["status", "fix_report", "fix_date", "fix_reported_by", "fix_file"])
    _audit(
        visit,
        action="inspection_report_fixed",
        actor=actor,
        via=via,
        field=f"recommendation:{recommendation.pk}",
        old=RecommendationStatus.OPEN,
        new=recommendation.status,
        reason=f"{report} · {recommendation.fix_filename}",
    )
    return recommendation


@transaction.atomic
def recommendation_close(
    *, recommendation: Recommendation, actor: User | None = None, via: str = Via.WEB
) -> Recommendation:
    """The office (the authority's appraisers, or the team leader) closes a recommendation reported fixed."""
    recommendation = _locked_recommendation(recommendation)
    visit = recommendation.visit
    if actor is not None and not (
        office_of(actor, visit.plan.authority) or team_role(actor, visit) == "leader"
    ):
        raise _forbidden(
            N_("Only the office of %(authority)s closes recommendations."),
            visit,
            authority=visit.plan.authority.name,
        )
    if recommendation.status != RecommendationStatus.REPORTED_FIXED:
        raise ServiceError(
            N_("A recommendation is closed once the unit reported it fixed."),
            code=ErrorCode.WORKFLOW,
            obj=recommendation,
        )
    recommendation.status, recommendation.closed_at = RecommendationStatus.CLOSED, timezone.now()
    recommendation.closed_by = actor if getattr(actor, "pk", None) else None
    recommendation.save(update_fields=["status", "closed_at", "closed_by"])
    _audit(
        visit,
        action="inspection_recommendation_close",
        actor=actor,
        via=via,
        field=f"recommendation:{recommendation.pk}",
        old=RecommendationStatus.REPORTED_FIXED,
        new=recommendation.status,
    )
    return recommendation
