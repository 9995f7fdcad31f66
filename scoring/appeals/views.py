"""Pages of the preliminary results and appeals (DESIGN §2.3).

- the unit's preliminary results page: its points per criterion, total, index, provisional place and
  grade, the appeal deadline, a form per criterion to lodge an appeal (its officers, while the window
  is open), and its appeals with their answers;
- the office's list of a framework's appeals (open / answered), each open one with its accept (new
  points and reason) and refuse (reason) forms, answered in place with htmx.

Access first (scoring.access: 404 for what the user may not see, 403 for what they may see but not
do); every rule is the services' (scoring.appeals.services), whose refusals are shown as they are.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import NotANumber, parse_decimal
from scoring.access import (
    can_manage_framework,
    get_appeal_for_answer,
    get_appeal_for_view,
    get_assessment_for_appeal,
    get_assessment_for_view,
    get_framework_for_oversight,
    reach,
)
from scoring.appeals.selectors import ANSWERED, OPEN, appeal_counts, assessment_appeals, framework_appeals
from scoring.appeals.services import ACCEPT, appeal_answer, appeal_deadline_error, appeal_lodge
from scoring.assessments.selectors import assessment_sheet
from scoring.concurrency import reload_url, stale_in, version_of
from scoring.frameworks.phases import Act, phase_allows
from scoring.models import AssessmentResult, FrameworkStatus, Via

NOTIFIED = (
    FrameworkStatus.PRELIMINARY,
    FrameworkStatus.APPEALS,
    FrameworkStatus.FINAL,
    FrameworkStatus.PUBLISHED,
)


def _refusal(error: ServiceError) -> None:
    """A refusal the user may not overcome by typing (not their unit, not their office, a published
    framework): 403 with the service's words."""
    if error.error_code in (ErrorCode.FORBIDDEN, ErrorCode.LOCKED):
        raise PermissionDenied(error.text())


# --- the unit's preliminary results -----------------------------------------------------------------


def _preliminary_context(request, assessment, *, errors=None, entered=None) -> dict:
    framework = assessment.framework
    sheet = assessment_sheet(assessment)
    result = sheet.result
    places = 0
    if result is not None and result.rank:
        places = AssessmentResult.objects.filter(
            framework=framework,
            rank__isnull=False,
            assessment__ranking_group_id=assessment.ranking_group_id,
        ).count()
    appeals = list(assessment_appeals(assessment))
    by_criterion: dict[int, list] = {}
    for appeal in appeals:
        by_criterion.setdefault(appeal.criterion_id, []).append(appeal)
    officer = reach(request.user).is_officer_of(assessment.unit)
    window = appeal_deadline_error(assessment)
    can_lodge = officer and window is None
    for row in sheet.leaves:
        row.appeals = by_criterion.get(row.criterion.pk, [])
        row.appeal_open = any(appeal.is_open for appeal in row.appeals)
        row.may_appeal = can_lodge and not row.appeal_open and not row.is_survey
        row.appeal_errors = (errors or {}).get(row.criterion.code, [])
        row.appeal_entered = (entered or {}).get(row.criterion.code, {})
    return {
        "assessment": assessment,
        "framework": framework,
        "unit": assessment.unit,
        "sheet": sheet,
        "result": result,
        "places": places,
        "appeals": appeals,
        "notified": framework.status in NOTIFIED,
        "officer": officer,
        "can_lodge": can_lodge,
        "window": window.text() if officer and window is not None else "",
        "appeals_open": sum(1 for appeal in appeals if appeal.is_open),
    }


@login_required
def assessment_preliminary(request, pk):
    assessment = get_assessment_for_view(request.user, pk)
    return render(request, "scoring/appeals/preliminary.html", _preliminary_context(request, assessment))


@login_required
@require_POST
def appeal_lodge_view(request, pk):
    assessment = get_assessment_for_appeal(request.user, pk)
    code = request.POST.get("code", "").strip()
    try:
        appeal_lodge(
            assessment=assessment,
            code=code,
            text=request.POST.get("text", ""),
            evidence_reference=request.POST.get("evidence_reference", ""),
            upload=request.FILES.get("evidence_file"),
            actor=request.user,
            via=Via.WEB,
        )
    except ServiceError as error:
        _refusal(error)
        if not any(row.criterion.code == code for row in assessment_sheet(assessment).leaves):
            messages.error(request, " ".join(error.texts()))  # no row to show it beside
        context = _preliminary_context(
            request,
            assessment,
            errors={code: error.texts()},
            entered={
                code: {
                    "text": request.POST.get("text", ""),
                    "evidence_reference": request.POST.get("evidence_reference", ""),
                }
            },
        )
        return render(request, "scoring/appeals/preliminary.html", context, status=400)
    messages.success(request, _("Your appeal on %(code)s is lodged.") % {"code": code})
    return redirect(f"{reverse('scoring:assessment_preliminary', args=[assessment.pk])}#c-{code}")


@login_required
def appeal_evidence(request, pk):
    appeal = get_appeal_for_view(request.user, pk)
    if not appeal.evidence_file:
        raise Http404
    return FileResponse(
        appeal.evidence_file.open("rb"), as_attachment=True, filename=appeal.evidence_filename
    )


# --- the office's list ------------------------------------------------------------------------------


def _list_url(framework, state: str = "") -> str:
    url = reverse("scoring:framework_appeals", args=[framework.code])
    return f"{url}?state={state}" if state else url


@login_required
def framework_appeals_view(request, code):
    framework = get_framework_for_oversight(request.user, code)
    state = request.GET.get("state", OPEN)
    if state not in (OPEN, ANSWERED, "all"):
        state = OPEN
    can_answer = can_manage_framework(request.user, framework) and phase_allows(framework, Act.ANSWER_APPEAL)
    return render(
        request,
        "scoring/appeals/list.html",
        {
            "framework": framework,
            "appeals": framework_appeals(framework, "" if state == "all" else state),
            "state": state,
            "counts": appeal_counts(framework),
            "can_answer": can_answer,
            "manages": can_manage_framework(request.user, framework),
            "heading": _("Appeals"),
        },
    )


@login_required
@require_POST
def appeal_answer_view(request, pk):
    appeal = get_appeal_for_answer(request.user, pk)
    framework = appeal.framework
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    points_text = request.POST.get("points", "").strip()
    raw = request.POST.get("raw", "").strip()
    errors: list[str] = []
    conflict = False
    points = None
    try:
        points = parse_decimal(points_text)
    except NotANumber:
        errors = [_("“%(text)s” is not a number.") % {"text": points_text}]
    if not errors:
        try:
            appeal_answer(
                appeal=appeal,
                decision=decision,
                reason=reason,
                points=points if decision == ACCEPT else None,
                raw=raw if decision == ACCEPT else None,
                actor=request.user,
                via=Via.WEB,
                version=version_of(request.POST.get("version")),
            )
        except ServiceError as error:
            _refusal(error)
            errors = error.texts()
            conflict = bool(stale_in(error))
    if not request.htmx:
        if errors:
            for message in errors:
                messages.error(request, message)
        else:
            messages.success(
                request, _("The appeal on %(code)s is answered.") % {"code": appeal.criterion.code}
            )
        return redirect(f"{_list_url(framework, request.POST.get('state', ''))}#appeal-{appeal.pk}")
    row = framework_appeals(framework).get(pk=appeal.pk)
    row.errors = errors
    row.entered = (
        {
            "decision": decision,
            "reason": reason,
            "points": points_text,
            "raw": raw,
            # The version read stays in the form: a stale answer is refused again until reloaded.
            "version": version_of(request.POST.get("version")),
        }
        if errors
        else {}
    )
    row.saved = not errors
    # The points were changed by another person after the form was read: 409 with a reload link.
    row.conflict = conflict
    can_answer = can_manage_framework(request.user, framework) and phase_allows(framework, Act.ANSWER_APPEAL)
    return render(
        request,
        "scoring/appeals/_appeal_row.html",
        {
            "appeal": row,
            "framework": framework,
            "can_answer": can_answer,
            "counts": appeal_counts(framework),
            "state": request.POST.get("state", ""),
            "oob": True,
            "reload_url": reload_url(
                _list_url(framework, request.POST.get("state", "")), f"appeal-{appeal.pk}"
            ),
        },
        status=409 if conflict else 200,
    )


urlpatterns = [
    path("assessments/<int:pk>/preliminary/", assessment_preliminary, name="assessment_preliminary"),
    path("assessments/<int:pk>/appeals/", appeal_lodge_view, name="appeal_lodge"),
    path("appeals/<int:pk>/evidence/", appeal_evidence, name="appeal_evidence"),
    path("appeals/<int:pk>/answer/", appeal_answer_view, name="appeal_answer"),
    path("frameworks/<str:code>/appeals/", framework_appeals_view, name="framework_appeals"),
]
