"""Access helpers for the objects of `reports` (report jobs, remediation items), built on the rules of
scoring.access so that imports stay one way (reports → scoring): 404 for what the user may not see,
PermissionDenied (403) for what they may see but not change."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from reports.models import RemediationItem, ReportJob
from scoring.access import authority_condition, can_view_framework, ensure_framework_oversight, reach
from units.models import Unit, UnitKind


def ensure_reporter(user) -> None:
    """Dashboards and reports list the results of many units: leaders and appraisers only; anybody
    else has nothing to see there (404)."""
    if not reach(user).is_overseer:
        raise Http404


# --- report jobs ------------------------------------------------------------------------------------


def get_report_job_for_view(user, pk) -> ReportJob:
    """A report job: seen by whoever sees its framework, read (and retried) by the framework's overseers."""
    job = ReportJob.objects.select_related("framework__authority", "compare_framework").filter(pk=pk).first()
    if job is None or not can_view_framework(user, job.framework):
        raise Http404
    ensure_framework_oversight(user, job.framework)
    return job


def get_report_job_for_change(user, pk) -> ReportJob:
    """Retrying a report job is open to whoever may read it (the result depends on nobody's rights)."""
    return get_report_job_for_view(user, pk)


# --- remediation items ------------------------------------------------------------------------------


def can_change_remediation(user, item: RemediationItem) -> bool:
    """The unit's officers fill in their items; appraisers over the unit may correct them."""
    r = reach(user)
    unit = item.assessment.unit
    return r.is_officer_of(unit) or r.appraises(unit)


def can_report_remediation_result(user, item: RemediationItem) -> bool:
    """The result of a remediation item is the unit's own report: only its officers write it."""
    return reach(user).is_officer_of(item.assessment.unit)


def get_remediation_item_for_view(user, pk) -> RemediationItem:
    item = (
        RemediationItem.objects.select_related(
            "assessment__unit", "assessment__framework", "criterion", "updated_by"
        )
        .filter(pk=pk)
        .first()
    )
    if item is None or not reach(user).sees_unit(item.assessment.unit):
        raise Http404
    return item


def ensure_remediation_change(user, item: RemediationItem) -> None:
    if not can_change_remediation(user, item):
        raise PermissionDenied(_("Only the unit's officers fill in its remediation plan."))


def get_remediation_item_for_change(user, pk) -> RemediationItem:
    item = get_remediation_item_for_view(user, pk)
    ensure_remediation_change(user, item)
    return item


# --- the province view ------------------------------------------------------------------------------


def provinces_overseen_by(user) -> list[Unit]:
    """The provinces whose office and leaders the user belongs to (appraiser or leader of the province,
    or above it): the province views they may open. One query (none for a user with no such role)."""
    r = reach(user)
    if not r.is_overseer:
        return []
    return list(
        Unit.objects.filter(kind=UnitKind.PROVINCE).filter(authority_condition(r, "path")).order_by("name")
    )


def get_province_for_view(user, code: str) -> Unit:
    """A province whose view (all its units across frameworks and groups) the user reads: its
    appraisers and leaders. Anybody else — an officer of one of its communes, a district's staff,
    another province's staff — does not see it (404)."""
    province = Unit.objects.filter(code=code, kind=UnitKind.PROVINCE).first()
    if province is None or not reach(user).oversees(province):
        raise Http404
    return province
