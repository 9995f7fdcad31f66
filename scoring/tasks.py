"""Celery tasks of the scoring app: thin wrappers that take ids, load the rows and call a service."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import OperationalError, close_old_connections

from parindex.dbguard import CONNECTION_ERRORS, close_broken_connection
from parindex.queue import enqueue_on_commit
from scoring.appeals.notifications import APPEAL_EVENTS, send_appeal_event
from scoring.assessments.notifications import send_deadline_reminders as send_reminders
from scoring.assessments.notifications import send_event
from scoring.exchange.uploads import CONNECTION_LOST, import_check, import_fail, import_fail_stale
from scoring.inspections.notifications import INSPECTION_EVENTS, send_inspection_event
from scoring.models import Framework, ImportRecord, ImportStatus
from scoring.results.engine import results_rank_job, results_recompute

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
    # The whole recompute is one transaction: hitting the soft limit rolls it back cleanly.
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def results_recompute_task(self, framework_id: int) -> dict:
    """Recompute the stored results of one framework. Idempotent: a recompute only rewrites results."""
    framework = Framework.objects.filter(pk=framework_id).first()
    if framework is not None and framework.is_published:
        # Published results are frozen (publication stored them; the database refuses a change).
        return {"framework_id": framework_id, "recomputed": False, "worker": self.request.hostname}
    if framework is None:
        # Deleted between enqueue and run: nothing to compute, and retrying would not help.
        logger.warning("results_recompute_task: framework %s no longer exists", framework_id)
        return {"framework_id": framework_id, "recomputed": False, "worker": self.request.hostname}
    results_recompute(framework)
    return {
        "framework_id": framework_id,
        "recomputed": True,
        "assessments": framework.results.count(),
        "worker": self.request.hostname,
    }


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,  # nobody waits for it: a rush would fill the result store
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def results_rank_task(self, framework_id: int) -> dict:
    """Ranks, area ranks and year on year of one framework after saves (coalesced: see
    scoring.results.engine.ranks_schedule). Idempotent, and only one runs at a time per framework."""
    return {"framework_id": framework_id, "outcome": results_rank_job(framework_id)}


@shared_task
def ping() -> str:
    """Health check: a worker that answers 'pong' is consuming the queue and can reach the result backend."""
    return "pong"


def enqueue_results_recompute(framework: Framework, **options) -> None:
    """Queue a recompute once the current transaction commits, so the worker sees the committed rows."""
    framework_id = int(framework.pk)
    enqueue_on_commit("scoring.tasks.results_recompute_task", framework_id, **options)  # never a 500


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OSError,),  # SMTP and connection errors
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def send_notification(self, event: str, object_id: int) -> int:
    """E-mail the people concerned by a workflow event. Reads the current state, so a stale event
    (e.g. the assessment moved on) sends nothing."""
    if event in APPEAL_EVENTS:
        return send_appeal_event(event, object_id)
    if event in INSPECTION_EVENTS:
        return send_inspection_event(event, object_id)
    return send_event(event, object_id)


@shared_task(acks_late=True)
def send_deadline_reminders() -> int:
    """Celery beat runs this hourly; each reminder is recorded and sent once."""
    return send_reminders()


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=3,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def import_check_task(self, record_id: int) -> str:
    """Check a large uploaded file in the background. Idempotent: only a record still being checked is
    checked. A lost database connection is retried by the check itself, then by the task (a fresh
    connection each time); when it keeps failing, or on any other error, the record is failed with
    the reason and can be checked again or cancelled — never left "checking"."""
    try:
        record = (
            ImportRecord.objects.filter(pk=record_id, status=ImportStatus.CHECKING)
            .select_related("framework", "assessment__unit")
            .first()
        )
        if record is None:
            return "skipped"
        import_check(record)
    except CONNECTION_ERRORS as error:
        close_broken_connection()
        if not self.request.is_eager and self.request.retries < self.max_retries:  # later, on a worker
            raise self.retry(exc=error, countdown=min(60, 5 * 2**self.request.retries)) from error
        import_fail(record_id, CONNECTION_LOST)
        raise
    except Exception:
        import_fail(record_id)
        raise
    return record.status


@worker_ready.connect
def fail_stale_imports_on_worker_start(**_kwargs) -> None:
    """A worker that starts fails the uploads left "checking" by a worker that died (beat is optional)."""
    try:
        import_fail_stale()
    except Exception:
        logger.exception("fail_stale_imports_on_worker_start: the sweep failed")
    finally:
        close_old_connections()
