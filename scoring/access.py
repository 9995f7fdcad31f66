"""Who may see and change what: the one place for the access rules of DESIGN §1.

Every view, download, upload and command that acts for a user calls one helper per object type
first, named `get_<thing>_for_<purpose>(user, …)`:

- Http404 for what the user may not see;
- PermissionDenied (403) for what they may see but not do, with the reason (a published framework
  answers 403 with its lock message).

What a user sees (the one rule every helper follows):
- a unit: its officers, and the appraisers and leaders above it (their unit and its descendants);
- a framework: the appraisers and leaders of its authority, and the officers of a unit assessed in it.
  Pages of the whole framework (board, survey, activity, dashboards, reports) are for its overseers
  (appraisers and leaders), running it (deadlines, publication, survey entry) is for its appraisers:
  anybody else who sees the framework gets 403 on every such page, and whoever does not see it 404;
- an assessment, its score rows, evidence and uploads: whoever sees its unit.

Report jobs and remediation items live in `reports`, which builds its helpers on these in
`reports.access` (scoring never imports reports).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from parindex.numbers import when_text
from scoring.assessments.services import appraisal_status_error
from scoring.council.scope import council_member
from scoring.frameworks.phases import Act, phase_error, self_assessment_error
from scoring.frameworks.services import FrameworkLocked, framework_lock_error
from scoring.inspections.scope import team_role
from scoring.models import (
    Appeal,
    Assessment,
    AssessmentStatus,
    CouncilMember,
    Criterion,
    Evidence,
    FindingFile,
    Framework,
    ImportKind,
    ImportRecord,
    ImportStatus,
    InspectionPlan,
    InspectionVisit,
    Recommendation,
)
from units.models import Membership, Role, Unit, UnitKind

OVERSEERS = (Role.APPRAISER, Role.LEADER)


@dataclass(frozen=True)
class Reach:
    """A user's memberships, read once per request."""

    superuser: bool
    officer_unit_ids: frozenset[int]
    appraiser_paths: tuple[str, ...]
    leader_paths: tuple[str, ...]

    def paths(self, roles=OVERSEERS) -> tuple[str, ...]:
        paths: tuple[str, ...] = ()
        if Role.APPRAISER in roles:
            paths += self.appraiser_paths
        if Role.LEADER in roles:
            paths += self.leader_paths
        return paths

    def oversees(self, unit: Unit, roles=OVERSEERS) -> bool:
        """Whether the unit lies under the user's authority (the same rule as authority_condition)."""
        return self.superuser or any(unit.path.startswith(path) for path in self.paths(roles))

    def appraises(self, unit: Unit) -> bool:
        return self.oversees(unit, roles=(Role.APPRAISER,))

    def is_officer_of(self, unit: Unit) -> bool:
        return unit.pk in self.officer_unit_ids

    def sees_unit(self, unit: Unit) -> bool:
        return self.is_officer_of(unit) or self.oversees(unit)

    @property
    def is_appraiser(self) -> bool:
        return self.superuser or bool(self.appraiser_paths)

    @property
    def is_leader(self) -> bool:
        return bool(self.leader_paths)

    @property
    def is_overseer(self) -> bool:
        return self.is_appraiser or self.is_leader

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


# --- units under a user's authority -----------------------------------------------------------------


def authority_condition(
    r: Reach, path_field: str, *, roles=OVERSEERS, officer_unit_field: str | None = None
) -> Q:
    """Rows whose unit (its path in `path_field`) lies under the user's authority: under one of their
    memberships of `roles` (everything for a superuser). With officer_unit_field (the unit id field),
    also the rows of the units the user is an officer of. The one "units under my authority" filter."""
    if r.superuser:
        return Q()
    condition = Q(pk__in=[])
    for path in r.paths(roles):
        condition |= Q(**{f"{path_field}__startswith": path})
    if officer_unit_field and r.officer_unit_ids:
        condition |= Q(**{f"{officer_unit_field}__in": sorted(r.officer_unit_ids)})
    return condition


def units_under_authority(user, roles=OVERSEERS) -> QuerySet[Unit]:
    """Units under the user's appraiser/leader memberships: their units and every descendant."""
    r = reach(user)
    if not r.superuser and not r.paths(roles):
        return Unit.objects.none()
    return Unit.objects.filter(authority_condition(r, "path", roles=roles))


def get_unit_for_view(user, code: str) -> Unit:
    """A unit the user sees: their own (officer) or one under their authority."""
    unit = Unit.objects.filter(code=code).first()
    if unit is None or not reach(user).sees_unit(unit):
        raise Http404
    return unit


def get_unit_for_oversight(user, code: str) -> Unit:
    """A unit whose figures the user reads among others' (dashboards narrowed to a subtree)."""
    unit = get_unit_for_view(user, code)
    if not reach(user).oversees(unit):
        raise PermissionDenied(_("Only appraisers and leaders read the results of several units."))
    return unit


def get_unit_for_change(user, code: str) -> Unit:
    """A unit the user acts on for the office (opening its assessment): appraisers above it."""
    unit = get_unit_for_view(user, code)
    if not reach(user).appraises(unit):
        raise PermissionDenied(_("Only appraisers of the Home Affairs office act for this unit."))
    return unit


# --- frameworks -------------------------------------------------------------------------------------


def can_view_framework(user, framework: Framework) -> bool:
    r = reach(user)
    if r.oversees(framework.authority):
        return True
    # An officer sees the frameworks that assess their unit; a council member the council's framework.
    return (
        bool(r.officer_unit_ids)
        and Assessment.objects.filter(framework=framework, unit_id__in=r.officer_unit_ids).exists()
    ) or on_council(user, framework)


def can_oversee_framework(user, framework: Framework) -> bool:
    """Appraisers and leaders of the issuing authority (or above) read the framework's pages."""
    return reach(user).oversees(framework.authority)


def can_manage_framework(user, framework: Framework) -> bool:
    """Appraisers of the issuing authority (or above) run the framework: survey, deadlines, publication."""
    return reach(user).appraises(framework.authority)


def get_framework_for_view(user, code: str) -> Framework:
    framework = Framework.objects.select_related("authority").filter(code=code).first()
    if framework is None or not can_view_framework(user, framework):
        raise Http404
    return framework


def ensure_framework_oversight(user, framework: Framework) -> None:
    if not can_oversee_framework(user, framework):
        raise PermissionDenied(
            _("Only appraisers and leaders of %(authority)s read the pages of this framework.")
            % {"authority": framework.authority.name}
        )


def ensure_framework_management(user, framework: Framework) -> None:
    if not can_manage_framework(user, framework):
        raise PermissionDenied(
            _("Only appraisers of %(authority)s manage this framework.")
            % {"authority": framework.authority.name}
        )


def get_framework_for_oversight(user, code: str) -> Framework:
    """Pages of the whole framework (every unit's figures): its appraisers and leaders."""
    framework = get_framework_for_view(user, code)
    ensure_framework_oversight(user, framework)
    return framework


def get_framework_for_management(user, code: str) -> Framework:
    """Pages that run the framework (its forms, read also after publication): its appraisers."""
    framework = get_framework_for_view(user, code)
    ensure_framework_management(user, framework)
    return framework


def get_framework_for_change(user, code: str) -> Framework:
    """A change of the framework: its appraisers, while it is not published."""
    framework = get_framework_for_management(user, code)
    ensure_not_published(framework)
    return framework


def lock_message(framework: Framework) -> str:
    """The services' refusal of any change to a published framework (FrameworkLocked), as text."""
    return FrameworkLocked(framework).text()


def ensure_not_published(framework: Framework) -> None:
    """403 before a page that changes a published framework opens; the rule and its words are the
    services' (framework_lock_error)."""
    locked = framework_lock_error(framework)
    if locked is not None:
        raise PermissionDenied(locked.text())


def frameworks_visible_to(user) -> QuerySet[Framework]:
    """Frameworks a user may see (the same rule as can_view_framework), with Exists() subqueries."""
    r = reach(user)
    qs = Framework.objects.select_related("authority")
    if r.superuser:
        return qs
    condition = authority_condition(r, "authority__path")
    if user.is_authenticated:
        condition |= Q(Exists(CouncilMember.objects.filter(framework=OuterRef("pk"), user=user)))
    if r.officer_unit_ids:
        condition |= Q(
            Exists(
                Assessment.objects.filter(framework=OuterRef("pk"), unit_id__in=sorted(r.officer_unit_ids))
            )
        )
    return qs.filter(condition)


def frameworks_overseen_by(user) -> QuerySet[Framework]:
    """Frameworks whose pages the user reads (dashboards, reports)."""
    return Framework.objects.select_related("authority").filter(
        authority_condition(reach(user), "authority__path")
    )


def get_authorities_for_framework_import(user) -> list[Unit]:
    """Units the user may issue a framework for (appraisers: their units and those below, communes
    excepted); 403 for a user who may issue none."""
    authorities = list(
        units_under_authority(user, roles=(Role.APPRAISER,)).exclude(kind=UnitKind.COMMUNE).order_by("path")
    )
    if not authorities:
        raise PermissionDenied(_("Only appraisers import frameworks."))
    return authorities


# --- assessments ------------------------------------------------------------------------------------


class Refused(PermissionDenied):
    """A change of an assessment the user may see but not make now; carries the reason, so that a page
    can answer 403 with it."""

    def __init__(self, assessment: Assessment, reason: str):
        super().__init__(reason)
        self.assessment, self.reason = assessment, reason


def can_view_assessment(user, assessment: Assessment) -> bool:
    return reach(user).sees_unit(assessment.unit) or on_council(user, assessment.framework)


def may_appraise(user, assessment: Assessment) -> bool:
    """The authority's appraisers, and the members of the framework's appraisal council (whose
    leaves the appraisal services limit to their areas: scoring.council.scope)."""
    return reach(user).appraises(assessment.unit) or on_council(user, assessment.framework)


def _assessment(pk) -> Assessment:
    assessment = Assessment.objects.select_related("unit", "framework__authority").filter(pk=pk).first()
    if assessment is None:
        raise Http404
    return assessment


def get_assessment_for_view(user, pk) -> Assessment:
    assessment = _assessment(pk)
    if not can_view_assessment(user, assessment):
        raise Http404
    return assessment


def self_edit_refusal(user, assessment: Assessment, now=None) -> str | None:
    """Why this user may not change the self-assessment now, or None when they may."""
    r = reach(user)
    locked = framework_lock_error(assessment.framework)
    if locked is not None:
        return locked.text()
    on_behalf = r.appraises(assessment.unit)
    if not (r.is_officer_of(assessment.unit) or on_behalf):
        return _("Only the unit's officers (or an appraiser on its behalf) fill in the self-assessment.")
    if assessment.status not in (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED):
        return _(
            "The self-assessment is %(status)s; it can be changed only before submission or when returned."
        ) % {"status": assessment.get_status_display()}
    # The phase and the unit's own deadline: the services' one rule.
    closed = self_assessment_error(assessment, by_unit=not on_behalf, now=now)
    return None if closed is None else closed.text()


def acts_on_behalf(user, assessment: Assessment) -> bool:
    """An appraiser filling in a unit's self-assessment for it (not one of its officers)."""
    return not reach(user).is_officer_of(assessment.unit)


def ensure_self_edit(user, assessment: Assessment) -> None:
    refusal = self_edit_refusal(user, assessment)
    if refusal:
        raise Refused(assessment, refusal)


def get_assessment_for_self_edit(user, pk) -> Assessment:
    """The assessment whose self-assessment the user may change now (Refused, a 403, with the reason)."""
    assessment = get_assessment_for_view(user, pk)
    ensure_self_edit(user, assessment)
    return assessment


def appraisal_refusal(user, assessment: Assessment, now=None) -> str | None:
    """Why the user may not act on the appraisal (return, mark appraised, extend), or None."""
    locked = framework_lock_error(assessment.framework)
    if locked is not None:
        return locked.text()
    if not may_appraise(user, assessment):
        return _("Only appraisers of the Home Affairs office appraise assessments.")
    closed = phase_error(assessment.framework, Act.APPRAISE)
    if closed is not None:
        return closed.text()
    deadline = assessment.framework.appraisal_deadline
    if deadline is not None and (now or timezone.now()) > deadline and not user.is_superuser:
        return _("The appraisal deadline (%(deadline)s) has passed.") % {"deadline": when_text(deadline)}
    return None


def appraisal_lock(user, assessment: Assessment) -> str | None:
    """Why the appraised points of this assessment cannot be changed now, or None when they can."""
    refusal = appraisal_refusal(user, assessment)
    if refusal:
        return refusal
    error = appraisal_status_error(assessment)
    return None if error is None else error.text()


def get_assessment_for_appraisal(user, pk) -> Assessment:
    """The appraisal tools of an assessment: its appraisers (403 for officers and leaders who see it)."""
    assessment = get_assessment_for_view(user, pk)
    if not reach(user).appraises(assessment.unit):
        raise PermissionDenied(_("Only appraisers of the Home Affairs office appraise assessments."))
    return assessment


def get_assessment_for_leaf_appraisal(user, pk) -> Assessment:
    """The appraisal page and its acts on leaves (rows, not applicable decisions, accepting the self
    points): the authority's appraisers and the framework's council members (403 for others who see it).
    Returning, marking appraised and deadlines stay with the appraisers (get_assessment_for_appraisal)."""
    assessment = get_assessment_for_view(user, pk)
    if not may_appraise(user, assessment):
        raise PermissionDenied(_("Only appraisers of the Home Affairs office appraise assessments."))
    return assessment


def get_assessment_for_appraisal_change(user, pk) -> Assessment:
    """An appraisal act on the assessment (return, mark appraised, extend its deadline): Refused with
    the reason on a published framework or after the appraisal deadline."""
    assessment = get_assessment_for_appraisal(user, pk)
    refusal = appraisal_refusal(user, assessment)
    if refusal:
        raise Refused(assessment, refusal)
    return assessment


def assessments_visible_to(user) -> QuerySet[Assessment]:
    """Assessments a user may see: their own unit's, and those of units under their authority."""
    r = reach(user)
    return Assessment.objects.select_related("unit", "framework").filter(
        authority_condition(r, "unit__path", officer_unit_field="unit_id")
    )


# --- score rows and evidence ------------------------------------------------------------------------


def _criterion(assessment: Assessment, criterion_id, *, leaf: bool) -> Criterion:
    # With its area: the row's answer shows the area's subtotal (no second query).
    criteria = Criterion.objects.filter(pk=criterion_id, framework_id=assessment.framework_id).select_related(
        "area"
    )
    if leaf:
        criteria = criteria.filter(is_leaf=True)
    criterion = criteria.first()
    if criterion is None:
        raise Http404
    return criterion


def get_score_row_for_view(user, pk, criterion_id) -> tuple[Assessment, Criterion]:
    """A row (criterion) of an assessment the user sees: its history, its evidence."""
    assessment = get_assessment_for_view(user, pk)
    return assessment, _criterion(assessment, criterion_id, leaf=False)


def get_score_row_for_self_edit(user, pk, criterion_id) -> tuple[Assessment, Criterion]:
    """A leaf row the user may fill in now (Refused with the reason otherwise)."""
    assessment = get_assessment_for_self_edit(user, pk)
    return assessment, _criterion(assessment, criterion_id, leaf=True)


def get_score_row_for_appraisal(user, pk, criterion_id) -> tuple[Assessment, Criterion]:
    """A leaf row of the appraisal tools (whether it may be changed now: appraisal_lock)."""
    assessment = get_assessment_for_appraisal(user, pk)
    return assessment, _criterion(assessment, criterion_id, leaf=True)


def _evidence(evidence_id) -> Evidence:
    evidence = Evidence.objects.select_related("score__criterion").filter(pk=evidence_id).first()
    if evidence is None:
        raise Http404
    return evidence


def get_evidence_for_view(user, evidence_id) -> Evidence:
    evidence = _evidence(evidence_id)
    evidence.score.assessment = get_assessment_for_view(user, evidence.score.assessment_id)
    return evidence


def get_evidence_for_change(user, evidence_id) -> Evidence:
    """Evidence the user may remove now: whoever may change the self-assessment (Refused otherwise)."""
    evidence = _evidence(evidence_id)
    evidence.score.assessment = get_assessment_for_self_edit(user, evidence.score.assessment_id)
    return evidence


# --- uploads (scoring.models.ImportRecord) ----------------------------------------------------------


def upload_stages(user, assessment: Assessment) -> tuple[str, ...]:
    """Which workbooks the user may upload now: self (officer, or appraiser on behalf) and appraisal."""
    stages = []
    if self_edit_refusal(user, assessment) is None:
        stages.append(ImportKind.SELF)
    if may_appraise(user, assessment) and appraisal_refusal(user, assessment) is None:
        stages.append(ImportKind.APPRAISAL)
    return tuple(stages)


def ensure_upload(user, assessment: Assessment) -> tuple[str, ...]:
    """The stages the user may upload for the assessment; 403 with the reason when none."""
    stages = upload_stages(user, assessment)
    if not stages:
        raise PermissionDenied(self_edit_refusal(user, assessment) or _("Uploads are closed."))
    return stages


def get_upload_for_view(user, pk) -> ImportRecord:
    """An uploaded file and its check: whoever sees the assessment it was made for; a survey or
    framework file like the framework's pages that run it."""
    record = (
        ImportRecord.objects.select_related("framework__authority", "assessment__unit", "requested_by")
        .filter(pk=pk)
        .first()
    )
    if record is None:
        raise Http404
    if record.assessment_id:
        record.assessment = get_assessment_for_view(user, record.assessment_id)
    elif record.framework is None or not can_view_framework(user, record.framework):
        raise Http404
    else:
        ensure_framework_management(user, record.framework)
    return record


def may_act_on_upload(user, record: ImportRecord) -> bool:
    """Who may apply or cancel a pending upload: whoever may upload that stage now (or run the survey)."""
    if record.assessment_id is None:
        return can_manage_framework(user, record.framework) and not record.framework.is_published
    return record.kind in upload_stages(user, record.assessment)


def may_confirm_upload(user, record: ImportRecord) -> bool:
    return record.status == ImportStatus.PREVIEW and may_act_on_upload(user, record)


def may_cancel_upload(user, record: ImportRecord) -> bool:
    return record.status in (
        ImportStatus.PREVIEW,
        ImportStatus.CHECKING,
        ImportStatus.FAILED,
    ) and may_act_on_upload(user, record)


def may_recheck_upload(user, record: ImportRecord) -> bool:
    """A failed upload (a lost worker, queue or database connection) is checked again by whoever may act on it."""
    return record.status == ImportStatus.FAILED and may_act_on_upload(user, record)


def get_upload_for_confirm(user, pk) -> ImportRecord:
    record = get_upload_for_view(user, pk)
    if not may_confirm_upload(user, record):
        raise PermissionDenied(_("This file cannot be applied now."))
    return record


def get_upload_for_cancel(user, pk) -> ImportRecord:
    record = get_upload_for_view(user, pk)
    if not may_cancel_upload(user, record):
        raise PermissionDenied(_("This file cannot be cancelled now."))
    return record


def get_upload_for_recheck(user, pk) -> ImportRecord:
    record = get_upload_for_view(user, pk)
    if not may_recheck_upload(user, record):
        raise PermissionDenied(_("This file cannot be checked again now."))
    return record


def ensure_assessment_import(user, *, framework: Framework, unit: Unit, stage: str) -> None:
    """A workbook of `stage` (self or appraisal) imported for the user outside the upload page (a
    command run with --user): the same stages the upload page offers. An assessment that does not exist
    yet is opened by the import, for the unit's officers and its appraisers, while the framework is open."""
    r = reach(user)
    if not (r.sees_unit(unit) or on_council(user, framework)):
        raise Http404
    assessment = (
        Assessment.objects.select_related("unit", "framework__authority")
        .filter(framework=framework, unit=unit)
        .first()
    )
    if assessment is not None:
        if stage not in upload_stages(user, assessment):
            refusal = self_edit_refusal(user, assessment) if stage == ImportKind.SELF else None
            refusal = refusal or appraisal_refusal(user, assessment) or _("Uploads are closed.")
            raise Refused(assessment, refusal)
        return
    ensure_not_published(framework)
    if stage == ImportKind.SELF and not (r.is_officer_of(unit) or r.appraises(unit)):
        raise PermissionDenied(
            _("Only the unit's officers (or an appraiser on its behalf) fill in the self-assessment.")
        )
    if stage == ImportKind.APPRAISAL and not r.appraises(unit):
        raise PermissionDenied(_("Only appraisers of the Home Affairs office appraise assessments."))


def get_units_for_activity_log(user) -> QuerySet[Unit]:
    """The units whose change log (units and roles) this user reads: those under their appraiser
    memberships. A leader sees those units but not who changed them (403); anyone else, 404."""
    r = reach(user)
    if not r.is_appraiser:
        if r.is_leader:
            raise PermissionDenied(_("Only appraisers see who changed units and roles."))
        raise Http404
    return units_under_authority(user, roles=(Role.APPRAISER,))


# --- appeals (scoring.appeals) ----------------------------------------------------------------------


def get_assessment_for_appeal(user, pk) -> Assessment:
    """An assessment whose appeals the user lodges: its unit's officers (403 for the others who see it;
    whether the window is open is the service's to say)."""
    assessment = get_assessment_for_view(user, pk)
    if not reach(user).is_officer_of(assessment.unit):
        raise PermissionDenied(_("Only the unit's officers lodge its appeals."))
    return assessment


def get_appeal_for_view(user, pk) -> Appeal:
    """An appeal (and its evidence): whoever sees its assessment."""
    appeal = (
        Appeal.objects.select_related("assessment__unit", "framework__authority", "criterion")
        .filter(pk=pk)
        .first()
    )
    if appeal is None or not can_view_assessment(user, appeal.assessment):
        raise Http404
    return appeal


def get_appeal_for_answer(user, pk) -> Appeal:
    """An appeal the user answers: appraisers over its unit (403 for officers and leaders who see it)."""
    appeal = get_appeal_for_view(user, pk)
    if not reach(user).appraises(appeal.assessment.unit):
        raise PermissionDenied(_("Only appraisers of the Home Affairs office answer appeals."))
    return appeal


# --- the appraisal council (scoring.council) --------------------------------------------------------


def on_council(user, framework: Framework) -> bool:
    """Whether the user sits on the framework's appraisal council (read once per request)."""
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_parindex_councils", None)
    if cache is None:
        cache = user._parindex_councils = {}
    if framework.pk not in cache:
        cache[framework.pk] = council_member(user, framework)
    return cache[framework.pk] is not None


def get_framework_for_council(user, code: str) -> Framework:
    """The council page: the framework's appraisers and leaders, and its council members."""
    framework = get_framework_for_view(user, code)
    if not (can_oversee_framework(user, framework) or on_council(user, framework)):
        raise PermissionDenied(
            _("Only the appraisal council and the office see the council of this framework.")
        )
    return framework


def get_framework_for_council_appraisal(user, code: str) -> Framework:
    """The cross-unit grid: whoever appraises the framework's units (its appraisers, its council)."""
    framework = get_framework_for_view(user, code)
    if not (can_manage_framework(user, framework) or on_council(user, framework)):
        raise PermissionDenied(_("Only appraisers and the appraisal council appraise this framework."))
    return framework


# --- inspections (scoring.inspections) --------------------------------------------------------------
# The office side of a plan and its visits: the authority's appraisers (who plan) and leaders (who read),
# and the members of a visit's team. The unit inspected: its officers, once the draft findings are shared
# (before that the visit does not exist for them: 404); they get 403 on the office side.


def on_inspection_team(user, visit: InspectionVisit) -> bool:
    return team_role(user, visit) is not None


def inspection_plans_visible_to(user) -> QuerySet[InspectionPlan]:
    """Plans of authorities under the user's appraiser/leader memberships, and plans with a visit whose
    team the user is on."""
    r = reach(user)
    condition = authority_condition(r, "authority__path")
    if user.is_authenticated:
        condition |= Q(Exists(InspectionVisit.objects.filter(plan=OuterRef("pk"), team__user=user)))
    return InspectionPlan.objects.select_related("authority").filter(condition)


def ensure_inspections_reader(user) -> None:
    """The inspections' home lists plans: overseers and team members; anybody else has nothing there."""
    if not (reach(user).is_overseer or InspectionVisit.objects.filter(team__user=user).exists()):
        raise Http404


def get_plan_for_view(user, pk) -> InspectionPlan:
    plan = InspectionPlan.objects.select_related("authority").filter(pk=pk).first()
    if plan is None:
        raise Http404
    if not (
        reach(user).oversees(plan.authority)
        or InspectionVisit.objects.filter(plan=plan, team__user=user).exists()
    ):
        raise Http404
    return plan


def get_plan_for_change(user, pk) -> InspectionPlan:
    """A plan's settings and its visits: the authority's appraisers (403 for its leaders and teams)."""
    plan = get_plan_for_view(user, pk)
    if not reach(user).appraises(plan.authority):
        raise PermissionDenied(
            _("Only appraisers of %(authority)s plan its inspections.") % {"authority": plan.authority.name}
        )
    return plan


def _visit(pk) -> InspectionVisit:
    visit = (
        InspectionVisit.objects.select_related("plan__authority", "unit")
        .prefetch_related("team")
        .filter(pk=pk)
        .first()
    )
    if visit is None:
        raise Http404
    return visit


def sees_visit_as_office(user, visit: InspectionVisit) -> bool:
    return reach(user).oversees(visit.plan.authority) or on_inspection_team(user, visit)


def sees_visit_as_unit(user, visit: InspectionVisit) -> bool:
    """The unit's officers, once the draft findings are shared."""
    return visit.is_shared and reach(user).is_officer_of(visit.unit)


def get_visit_for_office(user, pk) -> InspectionVisit:
    """The office's page of a visit (team, findings, conclusion): the authority's overseers and the team;
    the unit's officers who see the visit get 403, everybody else 404."""
    visit = _visit(pk)
    if sees_visit_as_office(user, visit):
        return visit
    if sees_visit_as_unit(user, visit):
        raise PermissionDenied(_("The unit reads its inspections on its own page."))
    raise Http404


def get_visit_for_unit(user, pk) -> InspectionVisit:
    """A visit as the unit reads it (its response, its fix reports): its officers once the draft
    findings are shared, and the office side."""
    visit = _visit(pk)
    if not (sees_visit_as_unit(user, visit) or sees_visit_as_office(user, visit)):
        raise Http404
    return visit


def get_finding_file_for_view(user, pk) -> FindingFile:
    attached = FindingFile.objects.select_related("finding").filter(pk=pk).first()
    if attached is None:
        raise Http404
    attached.finding.visit = get_visit_for_unit(user, attached.finding.visit_id)
    return attached


def get_recommendation_for_view(user, pk) -> Recommendation:
    recommendation = Recommendation.objects.select_related("criterion").filter(pk=pk).first()
    if recommendation is None:
        raise Http404
    recommendation.visit = get_visit_for_unit(user, recommendation.visit_id)
    return recommendation


def get_unit_for_inspections(user, code: str) -> Unit:
    """A unit's inspections page: whoever sees the unit (its officers, the overseers above it)."""
    return get_unit_for_view(user, code)
