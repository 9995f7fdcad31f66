"""Pages of the comparative report jobs: request a report, follow its progress, download it.

Same permissions as the dashboards (reports.access): leaders and appraisers of the framework; an
officer who sees the framework gets 403, anybody else 404. A download is checked the same way,
whoever asked for it.
"""

import os
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reports.access import ensure_reporter, get_report_job_for_change, get_report_job_for_view
from reports.jobs import report_fail_stale, report_request, report_retry
from reports.models import JobStatus, ReportFormat, ReportJob, ReportKind
from reports.selectors import default_framework
from scoring.access import can_oversee_framework, frameworks_overseen_by, get_framework_for_oversight
from scoring.results.engine import previous_framework

COMPARE_AUTO = "auto"
MY_REPORTS_SHOWN = 30
# What the form's "output" offers: the comparative workbook, or the annexes in Word or PDF.
OUTPUTS = {
    ReportFormat.XLSX.value: ReportKind.COMPARATIVE,
    ReportFormat.DOCX.value: ReportKind.ANNEX,
    ReportFormat.PDF.value: ReportKind.ANNEX,
}


def _report_frameworks(user) -> list:
    ensure_reporter(user)
    return list(frameworks_overseen_by(user).order_by("-year", "code"))


def _page(request, *, chosen=None, compare_value=COMPARE_AUTO, output=None, error="", status=200):
    report_fail_stale()  # a job whose worker died shows as failed (and retryable), beat or no beat
    frameworks = _report_frameworks(request.user)
    if output is None:  # kept when the form is redrawn for another framework
        output = request.GET.get("output") if request.GET.get("output") in OUTPUTS else ReportFormat.XLSX
    if chosen is None and frameworks:
        code = request.GET.get("framework")
        chosen = next((f for f in frameworks if f.code == code), None) or default_framework(frameworks)
    jobs = list(
        ReportJob.objects.filter(requested_by=request.user).select_related("framework", "compare_framework")[
            :MY_REPORTS_SHOWN
        ]
    )
    context = {
        "frameworks": frameworks,
        "chosen": chosen,
        "previous": previous_framework(chosen) if chosen else None,
        "compare_value": compare_value,
        "compare_auto": COMPARE_AUTO,
        "output": output,
        "jobs": jobs,
        "error": error,
    }
    return render(request, "reports/jobs/list.html", context, status=status)


@login_required
def job_list(request):
    return _page(request)


@login_required
@require_POST
def job_request(request):
    framework = get_framework_for_oversight(request.user, request.POST.get("framework", ""))
    frameworks = {f.code: f for f in _report_frameworks(request.user)}
    compare_value = request.POST.get("compare", COMPARE_AUTO)
    output = request.POST.get("output", ReportFormat.XLSX)
    if output not in OUTPUTS:
        raise Http404
    if compare_value == COMPARE_AUTO:
        compare = previous_framework(framework)
        if compare is not None and not can_oversee_framework(request.user, compare):
            compare = None
    elif compare_value == "":
        compare = None
    else:
        compare = frameworks.get(compare_value)
        if compare is None:
            raise Http404
    try:
        job = report_request(
            framework=framework, compare=compare, actor=request.user, kind=OUTPUTS[output], file_format=output
        )
    except ValidationError as exc:
        return _page(
            request,
            chosen=framework,
            compare_value=compare_value,
            output=output,
            error=" ".join(exc.messages),
            status=400,
        )
    job.refresh_from_db(fields=["status"])
    if job.status == JobStatus.FAILED:
        messages.error(
            request, _("The report could not be started: the job queue is unreachable. Retry it in a moment.")
        )
    elif job.status == JobStatus.SUCCEEDED:
        messages.success(
            request,
            _("Nothing changed since the last report of %(code)s: it is ready to download.")
            % {"code": framework.code},
        )
    else:
        messages.success(
            request, _("Report of %(code)s requested; it is being built.") % {"code": framework.code}
        )
    return redirect(f"{reverse('reports:job_list')}?{urlencode({'framework': framework.code})}")


@login_required
def job_status(request, pk):
    """One row of "my reports": what htmx polls while the job is queued or running."""
    job = get_report_job_for_view(request.user, pk)
    if not request.htmx:
        return redirect("reports:job_list")
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and report_fail_stale():
        job.refresh_from_db()
    return render(request, "reports/jobs/_row.html", {"job": job})


@login_required
def job_download(request, pk):
    job = get_report_job_for_view(request.user, pk)
    if job.status != JobStatus.SUCCEEDED or not job.file or not default_storage.exists(job.file.name):
        raise Http404
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=os.path.basename(job.file.name))


@login_required
@require_POST
def job_retry(request, pk):
    job = get_report_job_for_change(request.user, pk)
    try:
        job = report_retry(job, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        job.refresh_from_db()
        return render(request, "reports/jobs/_row.html", {"job": job})
    return redirect("reports:job_list")


urlpatterns = [
    path("reports/", job_list, name="job_list"),
    path("reports/request/", job_request, name="job_request"),
    path("reports/<int:pk>/", job_status, name="job_status"),
    path("reports/<int:pk>/download/", job_download, name="job_download"),
    path("reports/<int:pk>/retry/", job_retry, name="job_retry"),
]
