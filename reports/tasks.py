"""Celery tasks of the reports app: thin wrappers that take ids and call reports.jobs."""

import logging

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from reports.jobs import TRANSIENT_ERRORS, report_fail_stale, report_mark_failed, report_run

logger = logging.getLogger(__name__)


class ReportTask(Task):
    """Records the final failure (retries exhausted, or an error report_run let through) on the job."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id is None:
            return
        try:
            report_mark_failed(job_id, exc)
        except Exception:  # the database itself may be what failed: report_fail_stale catches it later
            logger.exception("build_report_task: could not record the failure of job %s", job_id)


@shared_task(
    bind=True,
    base=ReportTask,
    acks_late=True,
    # A worker killed mid-job gives the message back to the broker, and another worker (same task id)
    # takes the job over; see reports.jobs.report_claim.
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=4,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def build_report_task(self, job_id: int) -> dict:
    """Build the workbook of one report job. Idempotent: only a queued job (or the one this very
    task id was running) is claimed."""
    job = report_run(job_id, task_id=self.request.id)
    return {
        "job_id": job_id,
        "status": job.status if job else "skipped",
        "worker": self.request.hostname,
    }


@worker_ready.connect
def fail_stale_reports_on_worker_start(**_kwargs) -> None:
    """A worker that starts (after a crash, a `kill -9`, a redeploy) fails the jobs left behind by a
    worker that died, without waiting for beat (optional in compose); the pages sweep too."""
    try:
        report_fail_stale()
    except Exception:
        logger.exception("fail_stale_reports_on_worker_start: the sweep failed")
    finally:
        close_old_connections()


@shared_task(acks_late=True)
def fail_stale_reports() -> int:
    """Celery beat runs this every few minutes: a report job never stays "running" forever."""
    return report_fail_stale()
