"""What-if on a unit's pages (DESIGN §2.4): which criteria would gain the unit the most places.

For whoever sees the unit: its officers, and the appraisers and leaders above it
(scoring.access.get_assessment_for_view; 404 for anybody else). The full page, or the table alone
for htmx (the unit's self-assessment page and its profile load it in place)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from scoring.access import get_assessment_for_view
from scoring.results.what_if import what_if

WHAT_IF_SHORT = 5


@login_required
def what_if_view(request, pk):
    assessment = get_assessment_for_view(request.user, pk)
    top = None
    if request.GET.get("top", "").isdigit() and int(request.GET["top"]) > 0:
        top = int(request.GET["top"])
    answer = what_if(assessment, top=top)
    context = {
        "assessment": assessment,
        "framework": assessment.framework,
        "unit": assessment.unit,
        "answer": answer,
        "short": top is not None,
    }
    if request.headers.get("HX-Request"):
        return render(request, "scoring/results/_what_if.html", context)
    return render(request, "scoring/results/what_if.html", context)


urlpatterns = [
    path("assessments/<int:pk>/what-if/", what_if_view, name="assessment_what_if"),
]
