"""Who may see and change what. Every view calls one of the get_* helpers first:
404 for what the user may not see, PermissionDenied (403) for what they may see but not change.

Rules (DESIGN §1): a unit officer sees and edits only their own unit, and only while its phase is
open; appraisers and leaders see the units under their authority (their unit and its descendants);
only appraisers change anything of other units; nobody edits a published framework.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from units.models import Membership, Role, Unit

from .models import Assessment, AssessmentStatus, Framework, FrameworkStatus


@dataclass(frozen=True)
class Reach:
    """A user's memberships, read once per request."""

    superuser: bool
    officer_unit_ids: frozenset[int]
    appraiser_paths: tuple[str, ...]
    leader_paths: tuple[str, ...]

    def oversees(self, unit: Unit, roles=("appraiser", "leader")) -> bool:
        if self.superuser:
            return True
        paths = ()
        if "appraiser" in roles:
            paths += self.appraiser_paths
        if "leader" in roles:
            paths += self.leader_paths
        return any(unit.path.startswith(path) for path in paths)

    def appraises(self, unit: Unit) -> bool:
        return self.superuser or any(unit.path.startswith(path) for path in self.appraiser_paths)

    def is_officer_of(self, unit: Unit) -> bool:
        return unit.pk in self.officer_unit_ids

    @property
    def is_appraiser(self) -> bool:
        return self.superuser or bool(self.appraiser_paths)

    @property
    def is_leader(self) -> bool:
        return bool(self.leader_paths)

    @property
    def is_officer(self) -> bool:
        return bool(self.officer_unit_ids)


def reach(user) -> Reach:
    if not user.is_authenticated:
        return Reach(False, frozenset(), (), ())
    cached = getattr(user, "_parindex_reach", None)
    if cached is None:
        rows = list(Membership.objects.filter(user=user).values_list("role", "unit_id", "unit__path"))
        cached = Reach(
            superuser=user.is_superuser,
            officer_unit_ids=frozenset(unit_id for role, unit_id, _path in rows if role == Role.OFFICER),
            appraiser_paths=tuple(path for role, _unit, path in rows if role == Role.APPRAISER),
            leader_paths=tuple(path for role, _unit, path in rows if role == Role.LEADER),
        )
        user._parindex_reach = cached
    return cached


# --- frameworks -------------------------------------------------------------------------------------


def can_view_framework(user, framework: Framework) -> bool:
    r = reach(user)
    if r.oversees(framework.authority):
        return True
    # An officer sees the frameworks that assess their unit.
    return bool(r.officer_unit_ids) and Assessment.objects.filter(
        framework=framework, unit_id__in=r.officer_unit_ids
    ).exists()


def can_manage_framework(user, framework: Framework) -> bool:
    """Appraisers of the issuing authority (or above) run the framework: survey, deadlines, publication."""
    return reach(user).appraises(framework.authority)


def get_framework_for_user(user, code: str) -> Framework:
    framework = Framework.objects.select_related("authority").filter(code=code).first()
    if framework is None or not can_view_framework(user, framework):
        raise Http404
    return framework


def get_framework_for_manager(user, code: str) -> Framework:
    framework = get_framework_for_user(user, code)
    if not can_manage_framework(user, framework):
        raise PermissionDenied(_("Only appraisers of %(authority)s manage this framework.")
                               % {"authority": framework.authority.name})
    return framework


def get_framework_for_change(user, code: str) -> Framework:
    framework = get_framework_for_manager(user, code)
    ensure_not_published(framework)
    return framework


def ensure_not_published(framework: Framework) -> None:
    if framework.status == FrameworkStatus.PUBLISHED:
        raise PermissionDenied(
            _("Framework %(code)s is published (decision %(decision)s) and can no longer be changed.")
            % {"code": framework.code, "decision": framework.decision_number}
        )


# --- assessments ------------------------------------------------------------------------------------


def can_view_assessment(user, assessment: Assessment) -> bool:
    r = reach(user)
    return r.is_officer_of(assessment.unit) or r.oversees(assessment.unit)


def _assessment(pk) -> Assessment:
    assessment = Assessment.objects.select_related("unit", "framework__authority").filter(pk=pk).first()
    if assessment is None:
        raise Http404
    return assessment


def get_assessment_for_user(user, pk) -> Assessment:
    assessment = _assessment(pk)
    if not can_view_assessment(user, assessment):
        raise Http404
    return assessment


def self_edit_refusal(user, assessment: Assessment, now=None) -> str | None:
    """Why this user may not change the self-assessment now, or None when they may."""
    r = reach(user)
    if assessment.framework.status == FrameworkStatus.PUBLISHED:
        return _("The framework is published; nothing can be changed.")
    on_behalf = r.appraises(assessment.unit)
    if not (r.is_officer_of(assessment.unit) or on_behalf):
        return _("Only the unit's officers (or an appraiser on its behalf) fill in the self-assessment.")
    if assessment.status not in (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED):
        return _("The self-assessment is %(status)s; it can be changed only before submission or when returned.") % {
            "status": assessment.get_status_display()
        }
    deadline = assessment.self_deadline
    if (
        not on_behalf
        and assessment.status == AssessmentStatus.DRAFT
        and deadline is not None
        and (now or timezone.now()) > deadline
    ):
        return _("The self-assessment deadline (%(deadline)s) has passed; ask the Home Affairs office for an "
                 "extension.") % {"deadline": timezone.localtime(deadline).strftime("%d/%m/%Y %H:%M")}
    return None


def get_assessment_for_self_edit(user, pk) -> Assessment:
    assessment = get_assessment_for_user(user, pk)
    refusal = self_edit_refusal(user, assessment)
    if refusal:
        raise PermissionDenied(refusal)
    return assessment


def appraisal_refusal(user, assessment: Assessment, now=None) -> str | None:
    if assessment.framework.status == FrameworkStatus.PUBLISHED:
        return _("The framework is published; nothing can be changed.")
    if not reach(user).appraises(assessment.unit):
        return _("Only appraisers of the Home Affairs office appraise assessments.")
    deadline = assessment.framework.appraisal_deadline
    if deadline is not None and (now or timezone.now()) > deadline and not user.is_superuser:
        return _("The appraisal deadline (%(deadline)s) has passed.") % {
            "deadline": timezone.localtime(deadline).strftime("%d/%m/%Y %H:%M")
        }
    return None


def get_assessment_for_appraisal(user, pk) -> Assessment:
    assessment = get_assessment_for_user(user, pk)
    if not reach(user).oversees(assessment.unit, roles=("appraiser",)):
        # Officers and leaders may see the assessment but never the appraisal tools.
        raise PermissionDenied(_("Only appraisers of the Home Affairs office appraise assessments."))
    return assessment


def get_assessment_for_appraisal_change(user, pk) -> Assessment:
    assessment = get_assessment_for_appraisal(user, pk)
    refusal = appraisal_refusal(user, assessment)
    if refusal:
        raise PermissionDenied(refusal)
    return assessment


def _oversight_condition(r: Reach, path_field: str) -> Q:
    """Rows whose unit path lies under one of the user's appraiser or leader memberships."""
    condition = Q(pk__in=[])
    for path in r.appraiser_paths + r.leader_paths:
        condition |= Q(**{f"{path_field}__startswith": path})
    return condition


def assessments_visible_to(user):
    """Assessments a user may see: their own unit's, and those of units under their authority."""
    r = reach(user)
    qs = Assessment.objects.select_related("unit", "framework")
    if r.superuser:
        return qs
    return qs.filter(Q(unit_id__in=r.officer_unit_ids) | _oversight_condition(r, "unit__path"))


def frameworks_visible_to(user):
    r = reach(user)
    qs = Framework.objects.select_related("authority")
    if r.superuser:
        return qs
    return qs.filter(
        Q(assessments__unit_id__in=r.officer_unit_ids) | _oversight_condition(r, "authority__path")
    ).distinct()
