"""Writes of the appraisal council: members and the areas they appraise (by the framework's own
appraisers), the chair's mark that the council's appraisal is done, and its minutes. Every write is
atomic and audited; a published framework refuses them all. Which leaves a member may appraise is
scoring.council.scope's rule, applied by the appraisal services."""

from collections.abc import Iterable
from datetime import date

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from scoring.assessments.services import evidence_file_error
from scoring.council.models import CouncilMember, CouncilMinutes, CouncilRole, CouncilSignOff
from scoring.council.scope import appraises_authority, council_member
from scoring.council.selectors import open_council_leaves
from scoring.frameworks.phases import Act, phase_ensure
from scoring.frameworks.services import audit, editable_framework, refuse
from scoring.models import Criterion, Framework, Via
from units.models import Unit

# How many open leaves a refusal of "done" names before it says "and N more".
NAMED_OPEN_LEAVES = 10


def _ensure_runs_council(framework: Framework, actor: User | None) -> None:
    """The council is formed by the framework's own appraisers (a command without a user runs as the
    office); anybody else is refused."""
    if actor is not None and not appraises_authority(actor, framework):
        raise ServiceError(
            N_("Only appraisers of %(authority)s form the appraisal council of this framework."),
            code=ErrorCode.FORBIDDEN,
            obj=framework,
            params={"authority": framework.authority.name},
        )


def _areas_problems(framework: Framework, areas: Iterable[Criterion]) -> list[ServiceError]:
    return [
        ServiceError(
            N_("%(code)s is not an area of framework %(framework)s; assign areas (top-level criteria)."),
            obj=area,
            field="areas",
            params={"code": area.code, "framework": framework.code},
            criterion=area.code,
        )
        for area in areas
        if area.framework_id != framework.pk or area.parent_id is not None
    ]


def _chair_problems(
    framework: Framework, role: str, member: CouncilMember | None = None
) -> list[ServiceError]:
    if role != CouncilRole.CHAIR:
        return []
    chairs = CouncilMember.objects.filter(framework=framework, role=CouncilRole.CHAIR)
    if member is not None:
        chairs = chairs.exclude(pk=member.pk)
    chair = chairs.select_related("user").first()
    if chair is None:
        return []
    return [
        ServiceError(
            N_("The council already has a chair (%(user)s); a council has one chair."),
            code=ErrorCode.CONFLICT,
            obj=framework,
            field="role",
            params={"user": chair.user.get_full_name() or chair.user.username},
        )
    ]


def _codes(areas: Iterable[Criterion]) -> str:
    return ", ".join(sorted(area.code for area in areas))


def _name(user: User) -> str:
    return user.get_full_name() or user.username


@transaction.atomic
def council_member_add(
    *,
    framework: Framework,
    user: User,
    unit: Unit,
    role: str = CouncilRole.MEMBER,
    areas: Iterable[Criterion] = (),
    actor: User | None = None,
    via: str = Via.WEB,
) -> CouncilMember:
    """Put a user, from an office (unit), on the framework's council with the areas they appraise."""
    framework = editable_framework(framework)
    _ensure_runs_council(framework, actor)
    areas = list(areas)
    problems = _areas_problems(framework, areas) + _chair_problems(framework, role)
    if role not in CouncilRole.values:
        problems.append(
            ServiceError(
                N_("%(role)s is not a council role."), field="role", obj=framework, params={"role": role}
            )
        )
    if CouncilMember.objects.filter(framework=framework, user=user).exists():
        problems.append(
            ServiceError(
                N_("%(user)s is already on the council of %(framework)s."),
                code=ErrorCode.CONFLICT,
                obj=framework,
                field="user",
                params={"user": _name(user), "framework": framework.code},
            )
        )
    refuse(problems)
    member = CouncilMember.objects.create(framework=framework, user=user, unit=unit, role=role)
    member.areas.set(areas)
    audit(
        framework,
        action="council_member_add",
        actor=actor,
        via=via,
        field="council",
        new=f"{user.username} · {CouncilRole(role).label} · {unit.code} · {_codes(areas)}",
    ).save()
    return member


@transaction.atomic
def council_member_remove(*, member: CouncilMember, actor: User | None = None, via: str = Via.WEB) -> None:
    framework = editable_framework(member.framework)
    _ensure_runs_council(framework, actor)
    old = f"{member.user.username} · {member.get_role_display()} · {member.unit.code} · {_codes(member.areas.all())}"
    member.delete()
    audit(framework, action="council_member_remove", actor=actor, via=via, field="council", old=old).save()


@transaction.atomic
def council_assign_areas(
    *,
    member: CouncilMember,
    areas: Iterable[Criterion],
    role: str | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> CouncilMember:
    """Set the areas a member appraises (and, when given, their role)."""
    framework = editable_framework(member.framework)
    _ensure_runs_council(framework, actor)
    areas = list(areas)
    problems = _areas_problems(framework, areas)
    if role is not None:
        problems += _chair_problems(framework, role, member)
    refuse(problems)
    old_areas = _codes(member.areas.all())
    member.areas.set(areas)
    if old_areas != _codes(areas):
        audit(
            framework,
            action="council_assign_areas",
            actor=actor,
            via=via,
            field=f"areas:{member.user.username}",
            old=old_areas,
            new=_codes(areas),
        ).save()
    if role is not None and role != member.role:
        old_role = member.role
        member.role = role
        member.full_clean()
        member.save(update_fields=["role"])
        audit(
            framework,
            action="council_assign_areas",
            actor=actor,
            via=via,
            field=f"role:{member.user.username}",
            old=old_role,
            new=role,
        ).save()
    return member


def council_done_problems(framework: Framework) -> list[ServiceError]:
    """Why the council's appraisal is not done yet: no area assigned, or leaves of the council's areas
    still open for a unit under appraisal (submitted, returned or appraised; see open_council_leaves)."""
    if not CouncilMember.areas.through.objects.filter(councilmember__framework=framework).exists():
        return [
            ServiceError(
                N_("No area is assigned to the council yet."), code=ErrorCode.WORKFLOW, obj=framework
            )
        ]
    open_leaves = open_council_leaves(framework)
    if not open_leaves:
        return []
    named = "; ".join(f"{unit} {code}" for unit, code in open_leaves[:NAMED_OPEN_LEAVES])
    if len(open_leaves) > NAMED_OPEN_LEAVES:
        named += " …"
    return [
        ServiceError(
            N_("The council has %(n)s criteria of its areas still to appraise: %(leaves)s."),
            code=ErrorCode.WORKFLOW,
            obj=framework,
            params={"n": len(open_leaves), "leaves": named},
        )
    ]


@transaction.atomic
def council_mark_done(*, framework: Framework, actor: User | None, via: str = Via.WEB) -> CouncilSignOff:
    """The chair marks the council's appraisal done, once every leaf of the council's areas is appraised
    for every unit under appraisal (council_done_problems). Only the chair may."""
    framework = editable_framework(framework)
    phase_ensure(framework, Act.APPRAISE)
    member = council_member(actor, framework)
    if member is None or not member.is_chair:
        raise ServiceError(
            N_("Only the chair of the appraisal council marks its appraisal done."),
            code=ErrorCode.FORBIDDEN,
            obj=framework,
        )
    if CouncilSignOff.objects.filter(framework=framework).exists():
        raise ServiceError(
            N_("The council's appraisal is already marked done."), code=ErrorCode.CONFLICT, obj=framework
        )
    refuse(council_done_problems(framework))
    signoff = CouncilSignOff.objects.create(framework=framework, done_at=timezone.now(), done_by=actor)
    audit(framework, action="council_done", actor=actor, via=via, field="council_done", new="done").save()
    return signoff


def minutes_refusal(actor: User | None, framework: Framework) -> ServiceError | None:
    """Who records the council's minutes: the framework's appraisers or the council's chair (a command
    without a user runs as the office)."""
    if actor is None or appraises_authority(actor, framework):
        return None
    member = council_member(actor, framework)
    if member is not None and member.is_chair:
        return None
    return ServiceError(
        N_("Only the council's chair or the appraisers of %(authority)s record its minutes."),
        code=ErrorCode.FORBIDDEN,
        obj=framework,
        params={"authority": framework.authority.name},
    )


@transaction.atomic
def minutes_record(
    *,
    framework: Framework,
    meeting_date: date,
    present: Iterable[CouncilMember],
    conclusions: str,
    file: File | None = None,
    actor: User | None = None,
    via: str = Via.WEB,
) -> CouncilMinutes:
    """Record the minutes of a council meeting: the framework's appraisers or the council's chair."""
    framework = editable_framework(framework)
    refusal = minutes_refusal(actor, framework)
    if refusal is not None:
        raise refusal
    present = list(present)
    problems = []
    conclusions = (conclusions or "").strip()
    if not conclusions:
        problems.append(
            ServiceError(N_("Write the council's conclusions."), obj=framework, field="conclusions")
        )
    if meeting_date > timezone.localdate():
        problems.append(
            ServiceError(N_("The meeting date cannot be in the future."), obj=framework, field="meeting_date")
        )
    if any(m.framework_id != framework.pk for m in present):
        problems.append(
            ServiceError(N_("Only members of this council can be present."), obj=framework, field="present")
        )
    if file is not None:
        error = evidence_file_error(file)
        if error is not None:
            problems.append(error)
    refuse(problems)
    minutes = CouncilMinutes(
        framework=framework,
        meeting_date=meeting_date,
        conclusions=conclusions,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    if file is not None:
        minutes.file.save((file.name or "minutes").rsplit("/", 1)[-1][-100:], file, save=False)
    minutes.save()
    minutes.present.set(present)
    audit(
        framework,
        action="council_minutes",
        actor=actor,
        via=via,
        field="minutes",
        new=f"{meeting_date:%d/%m/%Y} · {', '.join(sorted(m.user.username for m in present))}",
        reason=conclusions,
    ).save()
    return minutes
