"""Spreadsheet round trip in the browser: template download, upload → preview → confirm, survey and
framework files, framework export and "copy to next year". Same importers as the commands."""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from parindex.csv_export import csv_dialect
from parindex.spreadsheets import SpreadsheetError, render_problems
from scoring import access
from scoring.assessments.services import assessment_get_or_create
from scoring.exchange.forms import FrameworkCopyForm, FrameworkImportForm, SurveyUploadForm, UploadForm
from scoring.exchange.importers import import_framework_file
from scoring.exchange.uploads import (
    import_cancel,
    import_confirm,
    import_fail_stale,
    import_recheck,
    import_start,
    preview_line,
)
from scoring.exchange.workbooks import assessment_workbook, framework_csv, framework_workbook
from scoring.frameworks.services import framework_copy
from scoring.models import ImportKind, ImportRecord, ImportStatus, Via

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_response(workbook, filename: str) -> HttpResponse:
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def assessment_template(request, pk):
    assessment = access.get_assessment_for_view(request.user, pk)
    workbook = assessment_workbook(assessment=assessment)
    name = slugify(f"tu-danh-gia-{assessment.unit.code}-{assessment.framework.code}") or "tu-danh-gia"
    return _xlsx_response(workbook, f"{name}.xlsx")


@login_required
def assessment_upload(request, pk):
    assessment = access.get_assessment_for_view(request.user, pk)
    stages = access.upload_stages(request.user, assessment)
    if request.method == "POST":
        stages = access.ensure_upload(request.user, assessment)
        form = UploadForm(request.POST, request.FILES, stages=stages)
        if form.is_valid():
            try:
                record = import_start(
                    kind=form.cleaned_data["stage"],
                    upload=form.cleaned_data["file"],
                    actor=request.user,
                    assessment=assessment,
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return redirect("scoring:import_detail", record.pk)
    else:
        form = UploadForm(stages=stages or (ImportKind.SELF,))
    import_fail_stale()  # an upload whose worker died shows as failed (check it again or cancel), beat or no beat
    history = ImportRecord.objects.filter(assessment=assessment).select_related("requested_by")[:20]
    refusal = None if stages else access.self_edit_refusal(request.user, assessment)
    return render(
        request,
        "scoring/files/upload.html",
        {
            "assessment": assessment,
            "form": form,
            "history": history,
            "can_upload": bool(stages),
            "refusal": refusal,
        },
    )


def _record_back_url(record: ImportRecord) -> str:
    if record.assessment_id:
        return reverse("scoring:assessment_upload", args=[record.assessment_id])
    if record.kind == ImportKind.SURVEY:
        return reverse("scoring:survey_upload", args=[record.framework.code])
    return reverse("scoring:framework_list")


PROBLEMS_PER_PAGE = 50


@login_required
def import_detail(request, pk):
    record = access.get_upload_for_view(request.user, pk)
    if record.status in (ImportStatus.CHECKING, ImportStatus.APPLYING) and import_fail_stale():
        record = access.get_upload_for_view(request.user, pk)
    language = (request.LANGUAGE_CODE or "vi")[:2]
    problems = [p.get(language) or p.get("vi") for p in record.problems]
    lines = [preview_line(line) for line in record.preview.get("lines", [])]
    page = Paginator(lines, 200).get_page(request.GET.get("page"))
    # At most PARINDEX_MAX_PROBLEMS problems are stored (then one "and N more" line); shown by pages.
    problems_page = Paginator(problems, PROBLEMS_PER_PAGE).get_page(request.GET.get("problems_page"))
    context = {
        "record": record,
        "problems": problems,
        "problems_page": problems_page,
        "problems_total": record.preview.get("problems_total", len(problems)),
        "page": page,
        "back": _record_back_url(record),
        "may_confirm": access.may_confirm_upload(request.user, record),
        "may_cancel": access.may_cancel_upload(request.user, record),
        "may_recheck": access.may_recheck_upload(request.user, record),
    }
    if request.htmx:
        return render(request, "scoring/files/_import_status.html", context)
    return render(request, "scoring/files/import_detail.html", context)


@login_required
@require_POST
def import_confirm_view(request, pk):
    record = access.get_upload_for_confirm(request.user, pk)
    try:
        record = import_confirm(record=record, actor=request.user)
    except ValidationError as error:
        messages.error(
            request,
            " ".join(
                error.messages
                if not isinstance(error, SpreadsheetError)
                else render_problems(error.problems, record.original_name)
            ),
        )
        return redirect("scoring:import_detail", record.pk)
    messages.success(
        request,
        _("Saved: %(changed)d changed, %(unchanged)d unchanged.")
        % {"changed": record.changed, "unchanged": record.unchanged},
    )
    if record.assessment_id:
        return redirect("scoring:assessment_self", record.assessment_id)
    return redirect("scoring:framework_board", record.framework.code)


@login_required
@require_POST
def import_cancel_view(request, pk):
    record = access.get_upload_for_cancel(request.user, pk)
    try:
        import_cancel(record=record)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.info(request, _("The upload was cancelled; nothing was saved."))
    return redirect(_record_back_url(record))


@login_required
@require_POST
def import_recheck_view(request, pk):
    record = access.get_upload_for_recheck(request.user, pk)
    try:
        import_recheck(record=record)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("scoring:import_detail", record.pk)


@login_required
def import_file(request, pk):
    record = access.get_upload_for_view(request.user, pk)
    return FileResponse(record.file.open("rb"), as_attachment=True, filename=record.original_name)


@login_required
def survey_upload(request, code):
    framework = access.get_framework_for_management(request.user, code)
    if request.method == "POST":
        access.ensure_not_published(framework)
        form = SurveyUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                record = import_start(
                    kind=ImportKind.SURVEY,
                    upload=form.cleaned_data["file"],
                    actor=request.user,
                    framework=framework,
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return redirect("scoring:import_detail", record.pk)
    else:
        form = SurveyUploadForm()
    import_fail_stale()
    history = ImportRecord.objects.filter(framework=framework, kind=ImportKind.SURVEY).select_related(
        "requested_by"
    )[:20]
    return render(
        request,
        "scoring/files/survey_upload.html",
        {"framework": framework, "form": form, "history": history},
    )


@login_required
def framework_export(request, code):
    framework = access.get_framework_for_oversight(request.user, code)
    name = slugify(f"bo-chi-so-{framework.code}") or "bo-chi-so"
    if request.GET.get("format") == "csv":
        dialect = csv_dialect(get_language(), request.GET.get("sep"))
        response = HttpResponse(framework_csv(framework, dialect), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    return _xlsx_response(framework_workbook(framework), f"{name}.xlsx")


@login_required
def framework_import(request):
    authorities = access.get_authorities_for_framework_import(request.user)
    problems = []
    if request.method == "POST":
        form = FrameworkImportForm(request.POST, request.FILES, authorities=authorities)
        if form.is_valid():
            data = form.cleaned_data
            try:
                framework = import_framework_file(
                    data["file"],
                    code=data["code"],
                    authority=data["authority"],
                    unit_kind=",".join(data["unit_kind"]),
                    year=data["year"],
                    name=data["name"],
                    bands=data["bands"],
                    decimals=data["decimals"],
                    legal_basis=data["legal_basis"],
                    index_capped={"100": True, "none": False}.get(data["index_cap"]),
                    survey_optional={"optional": True, "required": False}.get(data["survey"]),
                    groups=data["groups"],
                    actor=request.user,
                    via=Via.IMPORT,
                    file_name=data["file"].name,
                )
            except SpreadsheetError as error:
                problems = render_problems(error.problems, data["file"].name)
            except ValidationError as error:
                problems = error.messages
            else:
                messages.success(
                    request,
                    _("Framework %(code)s imported with %(count)d criteria.")
                    % {"code": framework.code, "count": framework.criteria.count()},
                )
                return redirect("scoring:framework_board", framework.code)
    else:
        form = FrameworkImportForm(authorities=authorities)
    return render(request, "scoring/files/framework_import.html", {"form": form, "problems": problems})


@login_required
def framework_copy_view(request, code):
    source = access.get_framework_for_management(request.user, code)
    if request.method == "POST":
        form = FrameworkCopyForm(request.POST)
        if form.is_valid():
            try:
                framework = framework_copy(
                    source=source, actor=request.user, via=Via.WEB, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("Framework %(code)s created from %(source)s.")
                    % {"code": framework.code, "source": source.code},
                )
                return redirect("scoring:framework_board", framework.code)
    else:
        year = source.year + 1
        form = FrameworkCopyForm(
            initial={
                "year": year,
                "code": source.code.replace(str(source.year), str(year))
                if str(source.year) in source.code
                else f"{source.code}-{year}",
                "name": source.name.replace(str(source.year), str(year)),
            }
        )
    return render(request, "scoring/files/framework_copy.html", {"form": form, "source": source})


@login_required
@require_POST
def assessment_start(request, code, unit_code):
    """An appraiser opens an assessment for a unit that has none yet (e.g. to upload its workbook)."""
    framework = access.get_framework_for_change(request.user, code)
    unit = access.get_unit_for_change(request.user, unit_code)
    try:
        assessment = assessment_get_or_create(unit=unit, framework=framework, actor=request.user, via=Via.WEB)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("scoring:framework_board", framework.code)
    return redirect("scoring:assessment_self", assessment.pk)


urlpatterns = [
    path("assessments/<int:pk>/template.xlsx", assessment_template, name="assessment_template"),
    path("assessments/<int:pk>/upload/", assessment_upload, name="assessment_upload"),
    path("imports/<int:pk>/", import_detail, name="import_detail"),
    path("imports/<int:pk>/confirm/", import_confirm_view, name="import_confirm"),
    path("imports/<int:pk>/cancel/", import_cancel_view, name="import_cancel"),
    path("imports/<int:pk>/file/", import_file, name="import_file"),
    path("imports/<int:pk>/recheck/", import_recheck_view, name="import_recheck"),
    path("import/framework/", framework_import, name="framework_import"),
    path("frameworks/<str:code>/survey/upload/", survey_upload, name="survey_upload"),
    path("frameworks/<str:code>/export/", framework_export, name="framework_export"),
    path("frameworks/<str:code>/copy/", framework_copy_view, name="framework_copy"),
    path("frameworks/<str:code>/units/<str:unit_code>/start/", assessment_start, name="assessment_start"),
]
