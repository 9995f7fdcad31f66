"""Celery tasks of the scoring app: thin wrappers that take ids, load the rows and call a service."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction

from scoring.appeals.notifications import APPEAL_EVENTS, send_appeal_event
from scoring.assessments.notifications import send_deadline_reminders as send_reminders
from scoring.assessments.notifications import send_event
from scoring.exchange.uploads import import_check, import_fail
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
    transaction.on_commit(lambda: results_recompute_task.apply_async((framework_id,), **options))


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
    return send_event(event, object_id)


@shared_task(acks_late=True)
def send_deadline_reminders() -> int:
    """Celery beat runs this hourly; each reminder is recorded and sent once."""
    return send_reminders()


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3)
def import_check_task(self, record_id: int) -> str:
    """Check a large uploaded file in the background. Idempotent: only a record still being checked is checked."""
    record = (
        ImportRecord.objects.filter(pk=record_id, status=ImportStatus.CHECKING)
        .select_related("framework", "assessment__unit")
        .first()
    )
    if record is None:
        return "skipped"
    try:
        import_check(record)
    except Exception:
        import_fail(record_id)
        raise
    return record.status
