"""Pages that belong to no single domain: the home page sends each person where their work is."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from scoring.access import reach


def _destination(user) -> str:
    r = reach(user)
    if r.is_appraiser:
        return reverse("scoring:framework_list")
    if r.is_leader:
        return reverse("reports:dashboard")
    if not r.is_officer:  # e.g. a member of an appraisal council from another office: its frameworks
        return reverse("scoring:framework_list")
    return reverse("scoring:my_assessments")


@login_required
def home(request):
    return redirect(_destination(request.user))


def navigation(request):
    """Context processor: the main menu for the signed-in user's roles."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    r = reach(user)
    items = []
    if r.is_officer:
        items.append((reverse("scoring:my_assessments"), _("My assessments")))
    if r.is_appraiser or r.is_leader or not r.is_officer:
        items.append((reverse("scoring:framework_list"), _("Frameworks")))
    if r.is_leader or r.is_appraiser:
        items.append((reverse("reports:dashboard"), _("Dashboards")))
        items.append((reverse("reports:job_list"), _("Reports")))
    if r.is_leader or r.is_appraiser or r.is_officer:
        items.append((reverse("reports:remediation_list"), _("Remediation plans")))
    if r.is_leader or r.is_appraiser:
        items.append((reverse("scoring:inspection_home"), _("Inspections")))
    if r.is_appraiser:
        items.append((reverse("scoring:unit_activity"), _("Unit changes")))
    if user.is_staff:
        items.append((reverse("admin:index"), _("Administration")))
    path = request.path
    # Only the most specific matching entry is active ("/reports/reports/" is not also "/reports/").
    matching = [url for url, _label in items if path.startswith(url)]
    current = max(matching, key=len) if matching else None
    return {"nav_items": [{"url": url, "label": label, "active": url == current} for url, label in items]}
