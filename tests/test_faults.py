"""Faults that heal (issue 15, deliverable 4), without outside services:

- the broker unreachable (Redis on a closed port, real Celery settings, not eager): a report request,
  a large upload, "return for explanation" and "mark appraised" answer at once, never 500; the report
  job and the upload are failed with a message in both languages and can be retried / checked again;
- reports and uploads left running by a dead worker are failed by a sweep on page view and on worker
  start (no beat needed);
- a database connection lost under a check or a confirmation is retried on a fresh connection; when
  it keeps failing the record is failed, and a failed upload can always be cancelled or checked again.

The same cases against a real PostgreSQL backend terminated mid-check (pg_terminate_backend) and a
worker killed with SIGKILL are in tests/integration/test_faults_services.py.
"""

import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.signals import worker_ready
from django.core import mail
from django.db import InterfaceError, OperationalError
from django.urls import reverse
from django.utils import timezone

from parindex.celery import app
from parindex.errors import ErrorCode, ServiceError
from reports.models import JobStatus, ReportJob
from scoring.assessments.services import assessment_get_or_create, assessment_submit
from scoring.exchange import uploads
from scoring.exchange.uploads import import_cancel, import_confirm, import_fail_stale, import_recheck
from scoring.models import AssessmentStatus, ImportRecord, ImportStatus, Score
from scoring.tasks import import_check_task
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec
from .integration.test_services import build_district_framework
from .test_views_appraisal import TREE as APPRAISAL_TREE
from .test_views_appraisal import _fill, _return_data
from .test_views_files import TREE, download, fill, upload

# Nothing listens here: connecting is refused at once, as when Redis is stopped.
CLOSED_PORT = "redis://127.0.0.1:6390/0"
# What a request may take with the broker down (it took 19 s before: the result store's reconnect loop).
QUICK = 5.0


@contextmanager
def broker_at(url: str):
    """Send tasks through the broker and result store at `url` with the project's real Celery
    settings (eager mode off), as a deployed web process does."""
    keys = ("task_always_eager", "broker_url", "result_backend")
    saved_conf = {key: app.conf[key] for key in keys}
    saved = (app._pool, app.amqp._producer_pool, app._backend_cache, getattr(app._local, "backend", None))

    def forget_connections():
        app._pool, app.amqp._producer_pool, app._backend_cache = None, None, None
        app._local.backend = None

    app.conf.update(task_always_eager=False, broker_url=url, result_backend=url)
    forget_connections()
    try:
        yield
    finally:
        app.conf.update(saved_conf)
        app._pool, app.amqp._producer_pool, app._backend_cache, app._local.backend = saved


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="XA-T")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def _timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


# --- the broker unreachable -----------------------------------------------------------------------------


def test_a_large_upload_with_the_broker_down_is_failed_clearly_then_checked_again(
    client, officer, assessment, settings, django_capture_on_commit_callbacks
):
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10  # every file goes to the worker
    client.force_login(officer)
    file = fill(download(client, assessment), {"1.1.1": "12,5"})
    with broker_at(CLOSED_PORT), django_capture_on_commit_callbacks(execute=True):
        response, seconds = _timed(lambda: upload(client, assessment, file))

    assert response.status_code == 302 and seconds < QUICK, seconds
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.FAILED
    assert "job queue is unreachable" in record.problems[0]["en"]
    assert "hàng đợi" in record.problems[0]["vi"]
    page = client.get(reverse("scoring:import_detail", args=[record.pk])).content.decode()
    assert "hàng đợi" in page and reverse("scoring:import_recheck", args=[record.pk]) in page
    assert reverse("scoring:import_cancel", args=[record.pk]) in page

    # The broker is back: checking it again sends it to the (eager) worker, then it is confirmed.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("scoring:import_recheck", args=[record.pk])).status_code == 302
    record.refresh_from_db()
    assert (record.status, record.problems, record.preview["changes"]) == (ImportStatus.PREVIEW, [], 1)
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED
    assert str(Score.objects.get(assessment=assessment, criterion__code="1.1.1").self_points) == "12.50"


def test_a_failed_upload_can_be_cancelled(
    client, officer, assessment, settings, django_capture_on_commit_callbacks
):
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10
    client.force_login(officer)
    file = fill(download(client, assessment), {"1.1.1": "12,5"})
    with broker_at(CLOSED_PORT), django_capture_on_commit_callbacks(execute=True):
        upload(client, assessment, file)
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.FAILED
    assert client.post(reverse("scoring:import_cancel", args=[record.pk])).status_code == 302
    record.refresh_from_db()
    assert record.status == ImportStatus.CANCELLED
    # Only a failed upload is checked again.
    with pytest.raises(ServiceError) as refused:
        import_recheck(record=record)
    assert refused.value.error_code == ErrorCode.CONFLICT
    assert client.post(reverse("scoring:import_recheck", args=[record.pk])).status_code == 403


def test_a_report_request_with_the_broker_down_fails_the_job_then_it_is_retried(
    client, province, django_capture_on_commit_callbacks
):
    framework = build_district_framework(province)
    leader = make_member(province, Role.LEADER, "lanhdao_t")
    client.force_login(leader)
    with broker_at(CLOSED_PORT), django_capture_on_commit_callbacks(execute=True):
        response, seconds = _timed(
            lambda: client.post(reverse("reports:job_request"), {"framework": framework.code, "compare": ""})
        )
    assert response.status_code == 302 and seconds < QUICK, seconds
    job = ReportJob.objects.get()
    assert job.status == JobStatus.FAILED and "job queue is unreachable" in job.error
    listing = client.get(response.url).content.decode()
    assert "hàng đợi" in listing and reverse("reports:job_retry", args=[job.pk]) in listing

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reports:job_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.file


@pytest.fixture
def submitted(district, commune, officer):
    framework = make_framework(district, rows=rows_from_spec(APPRAISAL_TREE), code="XA-A")
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    _fill(assessment, officer)
    assessment_submit(assessment=assessment, actor=officer)
    return assessment


def test_return_and_mark_appraised_with_the_broker_down_answer_at_once(
    client, submitted, appraiser, officer, django_capture_on_commit_callbacks
):
    client.force_login(appraiser)
    returned = reverse("scoring:assessment_return", args=[submitted.pk])
    with broker_at(CLOSED_PORT), django_capture_on_commit_callbacks(execute=True):
        response, seconds = _timed(
            lambda: client.post(returned, _return_data(submitted, {"1.1": "Thiếu quyết định"}))
        )
        assert response.status_code == 302 and seconds < QUICK, seconds
        submitted.refresh_from_db()
        assert submitted.status == AssessmentStatus.RETURNED
        assessment_submit(assessment=submitted, actor=officer)  # its notification cannot be sent either
        accept_all = reverse("scoring:appraisal_accept", args=[submitted.pk])
        response, seconds = _timed(lambda: client.post(accept_all, {"area": ""}))
    assert response.status_code == 302 and seconds < QUICK, seconds
    submitted.refresh_from_db()
    assert submitted.status == AssessmentStatus.APPRAISED
    assert mail.outbox == []  # the e-mails were not sent (logged), the work was saved


# --- sweeps without beat ------------------------------------------------------------------------------


def _checking(
    assessment, *, age: timedelta, progress: int = 10, status=ImportStatus.CHECKING
) -> ImportRecord:
    record = ImportRecord.objects.create(
        kind="self",
        framework=assessment.framework,
        assessment=assessment,
        original_name="a.xlsx",
        file="x",
        requested_by=assessment.unit.memberships.first().user
        if assessment.unit.memberships.exists()
        else None,
    )
    ImportRecord.objects.filter(pk=record.pk).update(
        status=status, progress=progress, heartbeat_at=timezone.now() - age
    )
    return record


def test_the_sweep_fails_only_uploads_whose_worker_died(assessment, settings):
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    dead = _checking(assessment, age=limit + timedelta(seconds=5))
    busy = _checking(assessment, age=limit - timedelta(seconds=30))
    waiting = _checking(assessment, age=limit + timedelta(seconds=5), progress=0)  # still queued
    lost = _checking(assessment, age=timedelta(hours=2), progress=0)
    cut = _checking(assessment, age=limit + timedelta(seconds=5), progress=50, status=ImportStatus.APPLYING)

    assert import_fail_stale() == 3
    states = {r.pk: r.status for r in ImportRecord.objects.all()}
    assert states == {
        dead.pk: ImportStatus.FAILED,
        busy.pk: ImportStatus.CHECKING,
        waiting.pk: ImportStatus.CHECKING,
        lost.pk: ImportStatus.FAILED,
        cut.pk: ImportStatus.FAILED,
    }
    assert "interrupted" in ImportRecord.objects.get(pk=dead.pk).problems[0]["en"]


def test_pages_sweep_stale_uploads_and_reports(client, officer, assessment, settings, province):
    dead = _checking(assessment, age=timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5))
    client.force_login(officer)
    page = client.get(reverse("scoring:import_detail", args=[dead.pk])).content.decode()
    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED
    assert reverse("scoring:import_recheck", args=[dead.pk]) in page and "every 1s" not in page
    other = _checking(assessment, age=timedelta(hours=2))
    client.get(reverse("scoring:assessment_upload", args=[assessment.pk]))
    other.refresh_from_db()
    assert other.status == ImportStatus.FAILED

    framework = build_district_framework(province)
    leader = make_member(province, Role.LEADER, "lanhdao_t")
    old = timezone.now() - timedelta(seconds=settings.PARINDEX_REPORT_STALE_SECONDS + 5)
    job = ReportJob.objects.create(
        framework=framework, status=JobStatus.RUNNING, requested_by=leader, started_at=old, heartbeat_at=old
    )
    client.force_login(leader)
    client.get(reverse("reports:job_list"))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error


# Transactional: the handlers end with close_old_connections(), as a worker process must; inside a test's
# transaction that would close the test's own PostgreSQL connection.
@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_sweeps_stale_uploads_and_reports(assessment, settings, province):
    dead = _checking(assessment, age=timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5))
    old = timezone.now() - timedelta(seconds=settings.PARINDEX_REPORT_STALE_SECONDS + 5)
    job = ReportJob.objects.create(
        framework=build_district_framework(province),
        status=JobStatus.RUNNING,
        started_at=old,
        heartbeat_at=old,
    )
    worker_ready.send(sender=None)
    dead.refresh_from_db()
    job.refresh_from_db()
    assert (dead.status, job.status) == (ImportStatus.FAILED, JobStatus.FAILED)


def test_broker_visibility_timeout_covers_the_task_time_limit(settings):
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] >= settings.CELERY_TASK_TIME_LIMIT
    assert app.conf.broker_transport_options["visibility_timeout"] >= app.conf.task_time_limit


# --- a lost database connection (simulated here; for real on PostgreSQL in tests/integration) ----------


def _large_upload(client, officer, assessment, settings, monkeypatch) -> ImportRecord:
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10
    client.force_login(officer)
    file = fill(download(client, assessment), {"1.1.1": "12,5"})
    with monkeypatch.context() as patch:
        patch.setattr(uploads, "_enqueue_check", lambda record_id: None)  # the test runs the check
        upload(client, assessment, file)
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.CHECKING
    return record


def _losing(monkeypatch, module, name, error, times):
    """Make module.name raise `error` on its first `times` calls, then behave."""
    original = getattr(module, name)
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise error("server closed the connection unexpectedly")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_check_that_loses_its_connection_is_retried(client, officer, assessment, settings, monkeypatch):
    record = _large_upload(client, officer, assessment, settings, monkeypatch)
    calls = _losing(monkeypatch, uploads, "_read", InterfaceError, 1)
    assert import_check_task.apply(args=(record.pk,)).get() == ImportStatus.PREVIEW
    assert len(calls) == 2
    record.refresh_from_db()
    assert record.status == ImportStatus.PREVIEW


@pytest.mark.django_db(transaction=True)
def test_a_check_that_keeps_losing_its_connection_is_failed_then_checked_again(
    client, officer, assessment, settings, monkeypatch
):
    record = _large_upload(client, officer, assessment, settings, monkeypatch)
    _losing(monkeypatch, uploads, "_read", OperationalError, 1000)
    with pytest.raises(OperationalError):
        import_check_task.apply(args=(record.pk,), throw=True)
    record.refresh_from_db()
    assert record.status == ImportStatus.FAILED and "database was lost" in record.problems[0]["en"]
    monkeypatch.undo()
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10**9  # checked at once this time
    assert import_recheck(record=record).status == ImportStatus.PREVIEW


@pytest.mark.django_db(transaction=True)
def test_a_confirm_that_loses_its_connection_is_retried_or_failed_then_cancelled(
    client, officer, assessment, settings, monkeypatch
):
    record = _large_upload(client, officer, assessment, settings, monkeypatch)
    import_check_task.apply(args=(record.pk,))
    record.refresh_from_db()
    calls = _losing(monkeypatch, uploads, "apply_assessment", OperationalError, 1)
    assert import_confirm(record=record, actor=officer).status == ImportStatus.APPLIED
    assert len(calls) == 2
    monkeypatch.undo()

    file = fill(download(client, assessment), {"1.1.1": "7"})
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10**9  # checked at once
    upload(client, assessment, file)
    again = ImportRecord.objects.exclude(pk=record.pk).get()
    assert again.status == ImportStatus.PREVIEW
    _losing(monkeypatch, uploads, "apply_assessment", InterfaceError, 1000)
    with pytest.raises(InterfaceError):
        import_confirm(record=again, actor=officer)
    again.refresh_from_db()
    assert again.status == ImportStatus.FAILED and "database was lost" in again.problems[0]["en"]
    assert str(Score.objects.get(assessment=assessment, criterion__code="1.1.1").self_points) == "12.50"
    import_cancel(record=again)
    again.refresh_from_db()
    assert again.status == ImportStatus.CANCELLED
