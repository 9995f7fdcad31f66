"""A concluded inspection's recommendation made a remediation item (scoring.inspections → reports): the
action lives here because remediation items are reports' and scoring never imports reports."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from parindex.errors import ErrorCode, ServiceError
from reports.remediation import remediation_from_recommendation
from scoring.access import get_recommendation_for_view, reach
from scoring.models import Via


@login_required
@require_POST
def inspection_remediation(request, rec_id):
    recommendation = get_recommendation_for_view(request.user, rec_id)
    visit = recommendation.visit
    back = reverse("scoring:inspection_visit", args=[visit.pk]) + f"#rec-{recommendation.pk}"
    if not reach(request.user).appraises(visit.plan.authority):
        raise PermissionDenied(
            _("Only appraisers of %(authority)s make remediation items of its inspections.")
            % {"authority": visit.plan.authority.name}
        )
    try:
        item = remediation_from_recommendation(recommendation=recommendation, actor=request.user, via=Via.WEB)
    except ServiceError as error:
        forbidden = [e.text() for e in error.all() if e.error_code == ErrorCode.FORBIDDEN]
        if forbidden:
            context = {"reason": " ".join(forbidden), "back": back}
            return render(request, "scoring/inspections/refused.html", context, status=403)
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    messages.success(request, _("The remediation item is made."))
    return redirect("reports:remediation_edit", pk=item.pk)


urlpatterns = [
    path(
        "inspections/recommendations/<int:rec_id>/remediation/",
        inspection_remediation,
        name="inspection_remediation",
    ),
]
