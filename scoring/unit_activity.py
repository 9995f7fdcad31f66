"""The unit activity log: who created, renamed, moved, merged or closed a unit, and who gave or took
away a role in it (officer, appraiser, leader). Appraisers see the units under their authority;
leaders may see those units but not this log (403); officers have no units under them (404)."""

from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy

from parindex.audit.models import AuditEntry
from parindex.audit.selectors import trail_filtered, unit_trail
from scoring.access import get_units_for_activity_log
from scoring.frameworks.forms import ActivityFilterForm
from units.models import Role, Unit, UnitKind
from units.selectors import unit_subtree

UNIT_ACTION_LABELS = {
    "unit_create": gettext_lazy("Unit created"),
    "unit_rename": gettext_lazy("Unit renamed"),
    "unit_change": gettext_lazy("Unit changed"),
    "unit_move": gettext_lazy("Unit moved"),
    "unit_merge": gettext_lazy("Formed from other units"),
    "unit_deactivate": gettext_lazy("Unit closed"),
    "unit_delete": gettext_lazy("Unit deleted"),
    "membership_grant": gettext_lazy("Role given"),
    "membership_revoke": gettext_lazy("Role removed"),
}

UNIT_FIELD_LABELS = {
    "name": gettext_lazy("name"),
    "kind": gettext_lazy("kind"),
    "parent": gettext_lazy("parent unit"),
    "predecessors": gettext_lazy("formed from"),
    "active_from": gettext_lazy("active from year"),
    "active_to": gettext_lazy("active until year"),
    "role": gettext_lazy("role"),
}


class UnitActivityFilterForm(ActivityFilterForm):
    """The activity filters, with a unit code typed in (an authority may hold thousands of units)."""

    unit = forms.CharField(label=gettext_lazy("Unit code"), required=False, max_length=40)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        del self.fields["criterion"]


@dataclass
class UnitAuditLine:
    entry: AuditEntry
    action: str
    field: str
    old: str
    new: str
    unit_name: str = ""


def _value(field: str, value: str) -> str:
    labels = {"role": Role, "kind": UnitKind}.get(field)
    if labels is not None and value in labels.values:
        return str(labels(value).label)
    return value.replace(";", ", ")


def unit_audit_lines(entries) -> list[UnitAuditLine]:
    lines = [
        UnitAuditLine(
            entry,
            str(UNIT_ACTION_LABELS.get(entry.action, entry.action)),
            str(UNIT_FIELD_LABELS.get(entry.field, entry.field)) if entry.action.startswith("unit_") else "",
            _value(entry.field, entry.old_value),
            _value(entry.field, entry.new_value),
        )
        for entry in entries
    ]
    names = dict(Unit.objects.filter(pk__in={line.entry.unit_id for line in lines}).values_list("pk", "name"))
    for line in lines:
        line.unit_name = names.get(line.entry.unit_id, "")
    return lines


@login_required
def unit_activity(request):
    units = get_units_for_activity_log(request.user)
    base = unit_trail(units.values("pk"))
    actions = [(a, str(UNIT_ACTION_LABELS.get(a, a))) for a in UNIT_ACTION_LABELS]
    actors = list(
        base.filter(actor__isnull=False)
        .order_by("actor__username")
        .values_list("actor_id", "actor__username")
        .distinct()
    )
    form = UnitActivityFilterForm(request.GET or None, actions=actions, actors=actors)
    entries = base
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        code = data["unit"].strip()
        if code:  # the unit and everything under it, within the user's authority
            unit = units.filter(code=code).first()
            entries = entries.filter(unit_id__in=unit_subtree(unit).values("pk")) if unit else entries.none()
        entries = trail_filtered(entries, data)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "scoring/units/activity.html",
        {"form": form, "page": page, "lines": unit_audit_lines(page.object_list), "query": query.urlencode()},
    )


urlpatterns = [
    path("units/activity/", unit_activity, name="unit_activity"),
]
