"""Appraisal pages for the Home Affairs office: self vs appraised per leaf, a reason for every
change, accepting the self score per row, per area or at once, returning for explanation, and
marking an assessment appraised.

Every view calls scoring.access first (404 for units outside the user's authority, 403 for
officers and leaders); changes are refused with a 403 and the reason from appraisal_refusal on a
published framework or after the appraisal deadline, and while the assessment is not submitted."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import NotANumber, parse_decimal
from scoring.access import (
    appraisal_lock,
    appraisal_refusal,
    get_assessment_for_appraisal,
    get_assessment_for_leaf_appraisal,
    reach,
)
from scoring.assessments import services
from scoring.assessments.appraisal_forms import AppraisalRowForm, ReturnForm
from scoring.assessments.selectors import assessment_sheet
from scoring.concurrency import reload_url, stale_in, version_of, versions_from_text
from scoring.council.scope import council_areas
from scoring.inspections.selectors import findings_by_area
from scoring.models import AssessmentStatus, Via


def _forbidden(request, assessment, reason: str):
    """A refused change: 403 with the reason (a fragment for htmx, a page otherwise)."""
    template = "scoring/appraisal/refused_partial.html" if request.htmx else "scoring/appraisal/refused.html"
    return render(request, template, {"assessment": assessment, "reason": reason}, status=403)


def _refusal(error: ServiceError) -> str | None:
    """The text of the refusals of the actor themself (a council member's leaf outside their areas),
    answered with 403 rather than shown beside the row, or None."""
    texts = [e.text() for e in error.all() if e.error_code == ErrorCode.FORBIDDEN]
    return " ".join(texts) or None


def _page_context(request, assessment, sheet, **extra):
    lock = appraisal_lock(request.user, assessment)
    # Return and "mark appraised" follow their own status rules, enforced by the services.
    # Council members from other offices appraise leaves; returning and marking stay the office's.
    workflow_open = (
        appraisal_refusal(request.user, assessment) is None
        and assessment.status == AssessmentStatus.SUBMITTED
        and reach(request.user).appraises(assessment.unit)
    )
    context = {
        "assessment": assessment,
        "framework": assessment.framework,
        "sheet": sheet,
        "lock": lock,
        "editable": lock is None,
        "can_return": workflow_open,
        "can_mark": workflow_open,
        # A council member's areas (None: every area): the others are shown read-only.
        "council_areas": council_areas(request.user, assessment.framework),
    }
    # The rows "accept all" would fill, as shown, with their versions (of the actor's areas).
    context["pending_versions"] = sheet.pending_versions(context["council_areas"])
    # Findings of the year's inspections of the unit, beside the areas and criteria they concern (one query).
    findings = findings_by_area(assessment.unit, assessment.framework.year)
    for area in sheet.areas:
        area.inspection_findings = findings.get(area.area.pk, [])
    context["inspection_findings"] = findings.get(None, [])
    context.update(extra)
    return context


def _page_url(assessment, anchor: str = "") -> str:
    url = reverse("scoring:assessment_appraise", args=[assessment.pk])
    return f"{url}#{anchor}" if anchor else url


@login_required
def assessment_appraise(request, pk):
    assessment = get_assessment_for_leaf_appraisal(request.user, pk)
    sheet = assessment_sheet(assessment)
    return render(request, "scoring/appraisal/page.html", _page_context(request, assessment, sheet))


def save_row(request, assessment, row) -> tuple[bool, list[str], str | None]:
    """Read one row's form (points or raw figure, reason, or "accept the self points") and save it
    through services.scores_apply_appraisal: (saved, errors shown on the row, a refusal to answer with
    403). The per-unit page and the council's cross-unit grid both save rows here. The form sends the
    row's version it read; a stale row sets `row.conflict` (the view answers 409)."""
    form = AppraisalRowForm(request.POST)
    if not form.is_valid():
        return False, [message for field_errors in form.errors.values() for message in field_errors], None
    if form.cleaned_data["accept_self"]:
        entry = (
            services.accept_self_entry(row.score)
            if row.score is not None
            else services.AppraisalEntry(row.self_points, "")
        )
    elif row.rule.takes_raw:
        # Appraised by the raw figure; the points follow from the leaf's rule.
        entry = services.AppraisalEntry(
            None, form.cleaned_data["reason"], raw=form.cleaned_data["raw"].strip() or None
        )
    else:
        entry = services.AppraisalEntry(form.cleaned_data["points"], form.cleaned_data["reason"])
    try:
        services.scores_apply_appraisal(
            assessment=assessment,
            entries={row.criterion.code: entry},
            actor=request.user,
            via=Via.WEB,
            versions={row.criterion.code: version_of(request.POST.get("version"))},
        )
    except ServiceError as exc:
        refusal = _refusal(exc)
        # Another person saved the row after it was read: the row says so, with a reload link (409).
        row.conflict = bool(stale_in(exc))
        return False, ([] if refusal else exc.messages), refusal
    except ValidationError as exc:
        return False, exc.messages, None
    return True, [], None


@login_required
@require_POST
def appraisal_row_save(request, pk, criterion_id):
    assessment = get_assessment_for_leaf_appraisal(request.user, pk)
    lock = appraisal_lock(request.user, assessment)
    if lock:
        return _forbidden(request, assessment, lock)
    sheet = assessment_sheet(assessment)
    row = sheet.row(criterion_id)
    if row is None:
        raise Http404
    if not row.appraisable:
        return _forbidden(
            request,
            assessment,
            _("%(code)s is not appraised here: it is scored by the survey or not applicable to the unit.")
            % {"code": row.criterion.code},
        )
    saved, errors, refusal = save_row(request, assessment, row)
    if refusal:
        return _forbidden(request, assessment, refusal)
    if saved:
        if not request.htmx:
            messages.success(request, _("Appraisal of %(code)s saved.") % {"code": row.criterion.code})
            return redirect(_page_url(assessment, f"row-{criterion_id}"))
        assessment.refresh_from_db(fields=["status", "appraised_at"])
        sheet = assessment_sheet(assessment)
        row = sheet.row(criterion_id)
        row.saved = True
    else:
        # Show what was typed with the errors; nothing was saved.
        row.errors = errors
        row.entered = {
            "points": request.POST.get("points", ""),
            "raw": request.POST.get("raw", ""),
            "reason": request.POST.get("reason", ""),
            "version": version_of(request.POST.get("version")),
        }
    if request.htmx:
        context = _page_context(
            request,
            assessment,
            sheet,
            row=row,
            area=sheet.area_of(criterion_id),
            reload_url=reload_url(_page_url(assessment), f"row-{criterion_id}"),
        )
        status = 409 if getattr(row, "conflict", False) else 200
        return render(request, "scoring/appraisal/row_saved.html", context, status=status)
    return render(request, "scoring/appraisal/page.html", _page_context(request, assessment, sheet))


@login_required
@require_POST
def appraisal_not_applicable(request, pk, criterion_id):
    """The appraiser's decision on not applicable for one leaf (POST decision=confirm|refuse|impose,
    reason, and for a refusal optionally the points): confirm or refuse the unit's proposal, or
    impose not applicable on a leaf the unit scored. The area is shown again (htmx) or the page."""
    assessment = get_assessment_for_leaf_appraisal(request.user, pk)
    lock = appraisal_lock(request.user, assessment)
    if lock:
        return _forbidden(request, assessment, lock)
    sheet = assessment_sheet(assessment)
    row = sheet.row(criterion_id)
    if row is None:
        raise Http404
    decision = request.POST.get("decision", "").strip()
    reason = request.POST.get("reason", "").strip()
    points_text = request.POST.get("points", "").strip()
    errors: list[str] = []
    points = None
    try:
        points = parse_decimal(points_text)
    except NotANumber:
        errors = [_("“%(text)s” is not a number.") % {"text": points_text}]
    if not errors:
        try:
            services.not_applicable_decide(
                assessment=assessment,
                code=row.criterion.code,
                decision=decision,
                reason=reason,
                points=points,
                actor=request.user,
                via=Via.WEB,
                version=version_of(request.POST.get("version")),
            )
        except ServiceError as exc:
            if _refusal(exc):
                return _forbidden(request, assessment, _refusal(exc))
            errors = exc.messages
            row.na_conflict = bool(stale_in(exc))
        except ValidationError as exc:
            errors = exc.messages
    if not errors and not request.htmx:
        messages.success(request, _("Decision on %(code)s saved.") % {"code": row.criterion.code})
        return redirect(_page_url(assessment, f"row-{criterion_id}"))
    if not errors:
        assessment.refresh_from_db(fields=["status", "appraised_at"])
        sheet = assessment_sheet(assessment)
        row = sheet.row(criterion_id)
        row.na_saved = True
    else:
        row.na_errors = errors
        row.na_entered = {
            "decision": decision,
            "reason": reason,
            "points": points_text,
            "version": version_of(request.POST.get("version")),
        }
    if request.htmx:
        context = _page_context(
            request,
            assessment,
            sheet,
            area=sheet.area_of(criterion_id),
            reload_url=reload_url(_page_url(assessment), f"row-{criterion_id}"),
        )
        status = 409 if getattr(row, "na_conflict", False) else 200
        return render(request, "scoring/appraisal/area_saved.html", context, status=status)
    return render(request, "scoring/appraisal/page.html", _page_context(request, assessment, sheet))


@login_required
@require_POST
def appraisal_accept(request, pk):
    """Accept the unit's own points as appraised: of one area (POST area=<code>) or of every leaf."""
    assessment = get_assessment_for_leaf_appraisal(request.user, pk)
    lock = appraisal_lock(request.user, assessment)
    if lock:
        return _forbidden(request, assessment, lock)
    area_code = request.POST.get("area", "").strip() or None
    sheet = assessment_sheet(assessment)
    if area_code and sheet.area_by_code(area_code) is None:
        raise Http404
    conflict = False
    try:
        # The rows the page showed waiting, with their versions: only those are accepted, and none
        # if one changed since (the service refuses with StaleEdit).
        result = services.appraisal_accept_self(
            assessment=assessment,
            area_code=area_code,
            actor=request.user,
            via=Via.WEB,
            shown=versions_from_text(request.POST.get("versions")),
        )
        notice = ngettext(
            "Accepted the self-assessed points of %(n)d criterion.",
            "Accepted the self-assessed points of %(n)d criteria.",
            result.changed,
        ) % {"n": result.changed}
        level = messages.SUCCESS
    except ServiceError as exc:
        if _refusal(exc):
            return _forbidden(request, assessment, _refusal(exc))
        notice, level = " ".join(exc.messages), messages.ERROR
        conflict = bool(stale_in(exc))
    except ValidationError as exc:
        notice, level = " ".join(exc.messages), messages.ERROR
    if not request.htmx:
        messages.add_message(request, level, notice)
        return redirect(_page_url(assessment, f"area-{area_code}" if area_code else ""))
    assessment.refresh_from_db(fields=["status", "appraised_at"])
    sheet = assessment_sheet(assessment)
    context = _page_context(
        request,
        assessment,
        sheet,
        notice=notice,
        notice_ok=level == messages.SUCCESS,
        # Refused because rows changed since the page was read: the areas are shown as they are now
        # (new versions), the notice names the rows, with a reload link (409).
        conflict=conflict,
        reload_url=reload_url(_page_url(assessment), f"area-{area_code}" if area_code else ""),
    )
    status = 409 if conflict else 200
    if area_code:
        context["area"] = sheet.area_by_code(area_code)
        return render(request, "scoring/appraisal/area_saved.html", context, status=status)
    return render(request, "scoring/appraisal/areas_saved.html", context, status=status)


@login_required
def assessment_return(request, pk):
    """Return a submitted assessment for explanation: a message and a reason per chosen criterion."""
    assessment = get_assessment_for_appraisal(request.user, pk)
    refusal = appraisal_refusal(request.user, assessment)
    sheet = assessment_sheet(assessment)
    leaves = [row.criterion for row in sheet.leaves if not row.is_survey]
    conflict = False
    if request.method == "POST":
        if refusal:
            return _forbidden(request, assessment, refusal)
        form = ReturnForm(request.POST, leaves=leaves)
        if form.is_valid():
            try:
                services.assessment_return(
                    assessment=assessment,
                    message=form.cleaned_data["message"],
                    criteria=form.criteria(),
                    actor=request.user,
                    via=Via.WEB,
                    versions=form.versions(),
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
                # Rows changed since the form was read: shown again as they are now (their new versions).
                conflict = isinstance(exc, ServiceError) and bool(stale_in(exc))
            else:
                count = len(form.criteria())
                messages.success(
                    request,
                    ngettext(
                        "Returned to %(unit)s for explanation of %(n)d criterion.",
                        "Returned to %(unit)s for explanation of %(n)d criteria.",
                        count,
                    )
                    % {"unit": assessment.unit.name, "n": count},
                )
                return redirect(_page_url(assessment))
    else:
        chosen = set(request.GET.getlist("criterion"))
        form = ReturnForm(leaves=leaves, initial={f"pick_{c.pk}": True for c in leaves if c.code in chosen})
    fields = {criterion.pk: (pick, reason) for criterion, pick, reason in form.lines()}
    groups = [
        (area.area, [(row, *fields[row.criterion.pk]) for row in area.leaves if row.criterion.pk in fields])
        for area in sheet.areas
    ]
    groups = [(area, lines) for area, lines in groups if lines]
    context = _page_context(
        request,
        assessment,
        sheet,
        form=form,
        groups=groups,
        refusal=refusal,
        conflict=conflict,
        reload_url=reload_url(reverse("scoring:assessment_return", args=[assessment.pk])),
    )
    return render(request, "scoring/appraisal/return.html", context, status=409 if conflict else 200)


@login_required
@require_POST
def assessment_mark_appraised(request, pk):
    assessment = get_assessment_for_appraisal(request.user, pk)
    refusal = appraisal_refusal(request.user, assessment)
    if refusal:
        return _forbidden(request, assessment, refusal)
    try:
        services.assessment_mark_appraised(assessment=assessment, actor=request.user, via=Via.WEB)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(unit)s is marked appraised.") % {"unit": assessment.unit.name})
    return redirect(_page_url(assessment))


urlpatterns = [
    path("assessments/<int:pk>/appraisal/", assessment_appraise, name="assessment_appraise"),
    path(
        "assessments/<int:pk>/appraisal/rows/<int:criterion_id>/",
        appraisal_row_save,
        name="appraisal_row_save",
    ),
    path("assessments/<int:pk>/appraisal/accept/", appraisal_accept, name="appraisal_accept"),
    path(
        "assessments/<int:pk>/appraisal/rows/<int:criterion_id>/not-applicable/",
        appraisal_not_applicable,
        name="appraisal_not_applicable",
    ),
    path("assessments/<int:pk>/return/", assessment_return, name="assessment_return"),
    path("assessments/<int:pk>/appraised/", assessment_mark_appraised, name="assessment_mark_appraised"),
]
