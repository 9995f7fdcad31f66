"""Services of the comparative report jobs: request, run, fail when stale, retry.

A job is claimed by a conditional UPDATE (queued → running, row count checked), so a duplicate
delivery of the task never builds twice; a redelivered message (worker lost, `acks_late`) carries
the same task id and may take over the job it was running. While it builds, the job's progress and
heartbeat are written after each step; a job whose heartbeat stops is failed by `report_fail_stale`
and can be retried. The workbook is written to a temporary file, then saved into the storage, and
only then recorded on the job: a job never points at a half-written file.

A request whose inputs (the frameworks' stored results, the parameters, the report version) have
not changed since a succeeded job reuses that job's file instead of building it again.
"""

import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import IO, Any, overload

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError, bilingual
from parindex.queue import enqueue_on_commit
from reports.annex.content import annex_document
from reports.annex.docx import write_docx
from reports.annex.pdf import soffice_program, write_pdf
from reports.models import JobStatus, ReportFormat, ReportJob, ReportKind, report_upload_to
from reports.report_workbook import build_workbook
from scoring.models import Framework
from units.models import unit_kinds_of_level

logger = logging.getLogger(__name__)

# Bump when the workbook's content or layout changes: files built by an older version are not reused.
REPORT_VERSION = 1
# The same for the annexes (reports.annex).
ANNEX_VERSION = 2  # 2: the PDF is the Word file converted by LibreOffice
# The formats each kind of report is written in.
KIND_FORMATS: dict[str, tuple[str, ...]] = {
    ReportKind.COMPARATIVE: (ReportFormat.XLSX,),
    ReportKind.ANNEX: (ReportFormat.DOCX, ReportFormat.PDF),
}
# Errors worth retrying the task for (database or connection trouble); anything else fails the job.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError)
# Recorded on a job whose task could not be sent (the broker is down): retrying it sends it again.
QUEUE_UNREACHABLE = N_("The report could not be started: the job queue is unreachable. Retry it in a moment.")
# Parameters that do not change the file (bookkeeping).
_NOT_INPUTS = ("reused_from",)


def stale_after() -> timedelta:
    """A running job whose heartbeat is older than this has lost its worker."""
    return timedelta(seconds=getattr(settings, "PARINDEX_REPORT_STALE_SECONDS", 600))


def queued_stale_after() -> timedelta:
    """A job still queued after this was never picked up (e.g. the broker lost it)."""
    return timedelta(seconds=getattr(settings, "PARINDEX_REPORT_QUEUED_STALE_SECONDS", 6 * 3600))


class ReportJobLost(Exception):
    """The job is no longer running for this worker (failed as stale meanwhile)."""


def inputs_fingerprint(
    framework: Framework,
    compare: Framework | None,
    parameters: dict[str, Any],
    *,
    kind: str = ReportKind.COMPARATIVE,
    file_format: str = ReportFormat.XLSX,
) -> str:
    """sha256 of what the file is built from: the frameworks and when their results were last
    computed or their details changed, the parameters, the kind and format and their version."""

    def part(fw: Framework | None) -> list[object] | None:
        if fw is None:
            return None
        return [
            fw.pk,
            fw.results_computed_at and fw.results_computed_at.isoformat(),
            fw.updated_at.isoformat(),
        ]

    payload: dict[str, Any] = {
        "version": REPORT_VERSION,
        "framework": part(framework),
        "compare": part(compare),
        "parameters": {k: v for k, v in sorted(parameters.items()) if k not in _NOT_INPUTS},
    }
    if kind != ReportKind.COMPARATIVE:  # the workbook's fingerprints stay what they were
        payload.update(kind=str(kind), format=str(file_format), version=ANNEX_VERSION)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@overload
def _fresh(framework: Framework) -> Framework: ...
@overload
def _fresh(framework: None) -> None: ...
@overload
def _fresh(framework: Framework | None) -> Framework | None: ...
def _fresh(framework: Framework | None) -> Framework | None:
    return None if framework is None else Framework.objects.select_related("authority").get(pk=framework.pk)


def _enqueue(job: ReportJob) -> None:
    """Send the task once the transaction commits, so the worker sees the job row."""
    options: dict[str, Any] = {"task_id": job.task_id}
    queue = getattr(settings, "PARINDEX_REPORT_QUEUE", "")
    if queue:
        options["queue"] = queue
    job_id = job.pk

    def queue_unreachable(_error: BaseException) -> None:
        report_mark_failed(job_id, bilingual(QUEUE_UNREACHABLE))

    enqueue_on_commit("reports.tasks.build_report_task", job.pk, on_failure=queue_unreachable, **options)


def _ensure_comparable(framework: Framework, compare: Framework | None) -> None:
    if compare is not None and compare.pk == framework.pk:
        raise ServiceError(N_("A framework cannot be compared with itself."), obj=compare, field="compare")
    if compare is not None and compare.unit_kind not in unit_kinds_of_level(framework.unit_kind):
        # Communes against departments: their criteria, points and ranks have nothing in common.
        raise ServiceError(
            N_(
                "%(framework)s assesses %(kinds)s and %(compare)s assesses %(compare_kinds)s: only "
                "frameworks of units of the same level can be compared."
            ),
            code=ErrorCode.CONFLICT,
            params={
                "framework": f"{framework.name} ({framework.code})",
                "kinds": framework.kinds_display,
                "compare": f"{compare.name} ({compare.code})",
                "compare_kinds": compare.kinds_display,
            },
            obj=compare,
            field="compare",
        )


def _ensure_format(kind: str, file_format: str) -> None:
    formats = KIND_FORMATS.get(kind, ())
    if file_format not in formats:
        raise ServiceError(
            N_("This report is not written as %(format)s; choose one of: %(formats)s."),
            params={"format": file_format, "formats": ", ".join(formats) or "—"},
            field="file_format",
        )


def report_request(
    *,
    framework: Framework,
    compare: Framework | None = None,
    actor: User | AnonymousUser | None = None,
    parameters: dict[str, Any] | None = None,
    kind: str = ReportKind.COMPARATIVE,
    file_format: str | None = None,
) -> ReportJob:
    """Ask for a report: the comparative workbook, or the annexes and draft decision (Word or PDF).
    Returns the new job: already succeeded when an unchanged report exists (its file is reused), or
    queued (the build is sent to Celery on commit). The same user asking again while their
    identical report is being built gets that job back."""
    file_format = file_format or KIND_FORMATS.get(kind, (ReportFormat.XLSX,))[0]
    _ensure_format(kind, file_format)
    _ensure_comparable(framework, compare)
    params = dict(parameters or {})
    params.setdefault("language", translation.get_language() or settings.LANGUAGE_CODE)
    framework, compare = _fresh(framework), _fresh(compare)
    fingerprint = inputs_fingerprint(framework, compare, params, kind=kind, file_format=file_format)
    user = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        if user is not None:
            in_flight = ReportJob.objects.filter(
                inputs_fingerprint=fingerprint,
                requested_by=user,
                status__in=(JobStatus.QUEUED, JobStatus.RUNNING),
            ).first()
            if in_flight is not None:
                return in_flight
        done = (
            ReportJob.objects.filter(inputs_fingerprint=fingerprint, status=JobStatus.SUCCEEDED)
            .exclude(file="")
            .order_by("-finished_at", "-id")
            .first()
        )
        now = timezone.now()
        if done is not None and default_storage.exists(done.file.name):
            return ReportJob.objects.create(
                kind=kind,
                file_format=file_format,
                framework=framework,
                compare_framework=compare,
                parameters={**params, "reused_from": done.pk},
                status=JobStatus.SUCCEEDED,
                progress=100,
                file=done.file.name,
                inputs_fingerprint=fingerprint,
                requested_by=user,
                started_at=now,
                heartbeat_at=now,
                finished_at=now,
            )
        job = ReportJob.objects.create(
            kind=kind,
            file_format=file_format,
            framework=framework,
            compare_framework=compare,
            parameters=params,
            status=JobStatus.QUEUED,
            inputs_fingerprint=fingerprint,
            requested_by=user,
            task_id=uuid.uuid4().hex,
        )
        _enqueue(job)
    return job


def report_retry(job: ReportJob, actor: User | AnonymousUser | None = None) -> ReportJob:
    """Queue a failed job again (a conditional UPDATE: only a failed job is retried, once)."""
    with transaction.atomic():
        task_id = uuid.uuid4().hex
        updated = ReportJob.objects.filter(pk=job.pk, status=JobStatus.FAILED).update(
            status=JobStatus.QUEUED,
            progress=0,
            error="",
            task_id=task_id,
            started_at=None,
            heartbeat_at=None,
            finished_at=None,
        )
        if not updated:
            raise ServiceError(N_("Only a failed report can be retried."), code=ErrorCode.WORKFLOW, obj=job)
        job.refresh_from_db()
        _enqueue(job)
    return job


def report_mark_failed(job_id: int, error: str | BaseException) -> bool:
    """Record the final failure of a job that is still queued or running."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return bool(
        ReportJob.objects.filter(pk=job_id, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).update(
            status=JobStatus.FAILED, error=message[:4000], finished_at=timezone.now()
        )
    )


def report_fail_stale(now: datetime | None = None) -> int:
    """Fail running jobs whose heartbeat stopped (their worker died) and queued jobs nobody picked up,
    so that they can be retried instead of staying "running" forever. Returns how many were failed."""
    now = now or timezone.now()
    cutoff = now - stale_after()
    running = ReportJob.objects.filter(status=JobStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=cutoff)
    )
    failed = running.update(
        status=JobStatus.FAILED,
        finished_at=now,
        error=bilingual("The report stopped responding (its worker stopped mid-way); retry it."),
    )
    failed += ReportJob.objects.filter(
        status=JobStatus.QUEUED, created_at__lt=now - queued_stale_after()
    ).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error=bilingual("The report was never started (the job queue lost it); retry it."),
    )
    if failed:
        logger.warning("report_fail_stale: %d report job(s) failed as stale", failed)
    return failed


def report_file_name(job: ReportJob) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    compare = job.compare_framework if job.compare_framework_id else None
    against = f"-{compare.code}" if compare is not None else ""
    prefix = "phu-luc" if job.kind == ReportKind.ANNEX else "bao-cao"
    return f"{prefix}-{job.framework.code}{against}-{stamp}-{job.pk}.{job.file_format or ReportFormat.XLSX}"


def _store(job: ReportJob, write: Callable[[str], None]) -> str:
    """Write the file to a temporary path, then save it into the storage; returns the stored name."""
    handle, temporary = tempfile.mkstemp(prefix="parindex-report-", suffix=f".{job.file_format}.part")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as stream:
            return default_storage.save(report_upload_to(job, report_file_name(job)), File(stream))
    finally:
        os.unlink(temporary)


def report_claim(job_id: int, task_id: str | None = None) -> bool:
    """queued → running by a conditional UPDATE. A redelivered task (same task id) may take over the
    job it was running when its worker was lost."""
    now = timezone.now()
    claim = Q(status=JobStatus.QUEUED)
    if task_id:
        claim |= Q(status=JobStatus.RUNNING, task_id=task_id)
    return bool(
        ReportJob.objects.filter(claim, pk=job_id).update(
            status=JobStatus.RUNNING,
            progress=0,
            error="",
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            attempts=F("attempts") + 1,
            task_id=task_id or F("task_id"),
        )
    )


def report_run(job_id: int, task_id: str | None = None) -> ReportJob | None:
    """Build the report of a queued job. Returns the job, or None when it was not ours to run
    (already claimed, finished or deleted). Transient errors propagate (the task retries them with
    the same task id, which may reclaim the job); any other error fails the job with its message."""
    if not report_claim(job_id, task_id):
        logger.info("report_run: job %s is not queued for this task; skipped", job_id)
        return None
    job = ReportJob.objects.select_related("framework__authority", "compare_framework", "requested_by").get(
        pk=job_id
    )

    def beat(percent: int) -> None:
        if not ReportJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            progress=max(0, min(99, int(percent))), heartbeat_at=timezone.now()
        ):
            raise ReportJobLost(job_id)

    try:
        fingerprint = inputs_fingerprint(
            job.framework, job.compare_framework, job.parameters, kind=job.kind, file_format=job.file_format
        )
        by = job.requested_by
        write: Callable[[str], None]
        if job.kind == ReportKind.ANNEX:
            write = _annex_writer(job.framework, job.compare_framework, job.file_format, progress=beat)
        else:
            with translation.override(job.parameters.get("language") or settings.LANGUAGE_CODE):
                workbook = build_workbook(
                    job.framework,
                    job.compare_framework,
                    progress=beat,
                    generated_by=(by.get_full_name() or by.username) if by else "",
                    generated_at=timezone.now(),
                )
            write = workbook.save
        name = _store(job, write)
    except TRANSIENT_ERRORS:
        raise
    except ReportJobLost:
        logger.warning("report_run: job %s was failed while it ran (stale); its result is dropped", job_id)
        job.refresh_from_db()
        return job
    except (
        ServiceError
    ) as refusal:  # e.g. no LibreOffice for the PDF: said in both languages, as commands say it
        logger.warning("report_run: job %s refused: %s", job_id, refusal.bilingual())
        report_mark_failed(job_id, refusal.bilingual())
        job.refresh_from_db()
        return job
    except Exception as exc:
        logger.exception("report_run: job %s failed", job_id)
        report_mark_failed(job_id, exc)
        job.refresh_from_db()
        return job
    now = timezone.now()
    done = ReportJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.SUCCEEDED,
        progress=100,
        file=name,
        inputs_fingerprint=fingerprint,
        finished_at=now,
        heartbeat_at=now,
        error="",
    )
    if not done:  # failed as stale meanwhile: keep no orphan file
        default_storage.delete(name)
    job.refresh_from_db()
    return job


def report_build_file(
    framework: Framework, compare: Framework | None, out: str | IO[bytes], *, generated_by: str = ""
) -> None:
    """Build the same workbook synchronously into a path or binary file (manage.py build_report)."""
    _ensure_comparable(framework, compare)
    build_workbook(framework, compare, generated_by=generated_by, generated_at=timezone.now()).save(out)


def _annex_writer(
    framework: Framework,
    compare: Framework | None,
    file_format: str,
    progress: Callable[[int], None] | None = None,
) -> Callable[[str | IO[bytes]], None]:
    """Build the annexes' document model now; return what writes it as Word or PDF."""
    _ensure_format(ReportKind.ANNEX, file_format)
    _ensure_comparable(framework, compare)
    if file_format == ReportFormat.PDF:
        soffice_program()  # refuse before building anything when LibreOffice Writer is missing
    document = annex_document(framework, compare, progress=progress)
    if progress is not None:
        progress(85)
    if file_format == ReportFormat.PDF:
        return lambda out: write_pdf(document, out)
    return lambda out: write_docx(document, out)


def annex_build_file(
    framework: Framework, compare: Framework | None, file_format: str, out: str | IO[bytes]
) -> None:
    """Build the annexes synchronously into a path or binary file (manage.py build_annex): the same
    code as the report jobs of kind annex."""
    _annex_writer(framework, compare, file_format)(out)
