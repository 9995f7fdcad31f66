"""Faults that heal, on the real services (issue 15, deliverable 4):

- PostgreSQL: the backend of the connection doing an upload's check or confirmation is terminated
  from a second connection (pg_terminate_backend) at the moment it works; the step is retried on a
  fresh connection, or, when the connection keeps dying, the record is failed with the reason and
  can be checked again or cancelled — never left "checking" or stuck "failed".
- A real worker killed with SIGKILL in the middle of a report build or of an upload's check: the job
  or upload is failed by the sweep of the next worker that starts (no beat), then retried there.
"""

import signal
import time
from datetime import timedelta

import psycopg2
import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from parindex.audit.models import AuditEntry
from reports.jobs import report_request, report_retry, stale_after
from reports.models import JobStatus, ReportJob
from scoring.assessments.services import assessment_get_or_create
from scoring.exchange import uploads
from scoring.exchange.uploads import import_cancel, import_confirm, import_recheck
from scoring.models import ImportRecord, ImportStatus, Score
from scoring.tasks import import_check_task

from ..factories import make_framework, rows_from_spec
from ..test_faults import _large_upload, download, fill, upload
from ..test_views_files import TREE
from .conftest import WorkerProcess
from .test_report_worker import assert_workbook_matches, start_another_worker, wait_for
from .test_services import build_district_framework


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="XA-T")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """pg_terminate_backend(pid) from a second connection, as an administrator or a failover would."""
    settings_dict = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
    )
    try:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0] is True
    finally:
        other.close()


def terminating(monkeypatch, name: str, times: int) -> list[int]:
    """uploads.<name> terminates the backend of this process's connection before its first `times`
    calls, then does its work (whose next query meets the dead connection). Returns the pids killed."""
    original = getattr(uploads, name)
    killed: list[int] = []

    def cut(*args, **kwargs):
        if len(killed) < times:
            pid = backend_pid()
            terminate(pid)
            killed.append(pid)
        return original(*args, **kwargs)

    monkeypatch.setattr(uploads, name, cut)
    return killed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_check_whose_backend_is_terminated_is_retried_on_a_fresh_connection(
    client, officer, assessment, settings, monkeypatch
):
    assert connection.vendor == "postgresql"
    record = _large_upload(client, officer, assessment, settings, monkeypatch)
    killed = terminating(monkeypatch, "_read", 1)

    assert import_check_task.apply(args=(record.pk,)).get() == ImportStatus.PREVIEW

    assert len(killed) == 1 and backend_pid() != killed[0]
    record.refresh_from_db()
    assert (record.status, record.progress, record.preview["changes"]) == (ImportStatus.PREVIEW, 100, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_check_whose_backend_keeps_dying_is_failed_then_checked_again_or_cancelled(
    client, officer, assessment, settings, monkeypatch
):
    record = _large_upload(client, officer, assessment, settings, monkeypatch)
    killed = terminating(monkeypatch, "_read", 1000)

    with pytest.raises(OperationalError):
        import_check_task.apply(args=(record.pk,), throw=True)

    assert len(killed) == 3  # the check tried three connections
    record.refresh_from_db()
    assert record.status == ImportStatus.FAILED and "database was lost" in record.problems[0]["en"]
    monkeypatch.undo()
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10**9  # checked at once this time
    assert import_recheck(record=record).status == ImportStatus.PREVIEW

    # Another one, failed the same way, is cancelled instead.
    other = ImportRecord.objects.create(
        kind=record.kind,
        framework=record.framework,
        assessment=record.assessment,
        original_name=record.original_name,
        file=record.file.name,
        size=record.size,
        requested_by=officer,
    )
    terminating(monkeypatch, "_read", 1000)
    with pytest.raises(OperationalError):
        import_check_task.apply(args=(other.pk,), throw=True)
    other.refresh_from_db()
    assert other.status == ImportStatus.FAILED
    import_cancel(record=other)
    other.refresh_from_db()
    assert other.status == ImportStatus.CANCELLED


def _previewed(client, officer, assessment, settings, monkeypatch) -> ImportRecord:
    record = _large_upload(client, officer, assessment, settings, monkeypatch)
    import_check_task.apply(args=(record.pk,))
    record.refresh_from_db()
    assert record.status == ImportStatus.PREVIEW
    return record


def _points(assessment) -> str | None:
    score = Score.objects.filter(assessment=assessment, criterion__code="1.1.1").first()
    return None if score is None or score.self_points is None else str(score.self_points)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_confirm_whose_backend_is_terminated_is_applied_once_on_a_fresh_connection(
    client, officer, assessment, settings, monkeypatch
):
    record = _previewed(client, officer, assessment, settings, monkeypatch)
    killed = terminating(monkeypatch, "apply_assessment", 1)

    record = import_confirm(record=record, actor=officer)

    assert len(killed) == 1 and record.status == ImportStatus.APPLIED and record.changed == 1
    assert _points(assessment) == "12.50"
    assert (
        AuditEntry.objects.filter(assessment_id=assessment.pk, field="self_points", new_value="12,5").count()
        <= 1
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_confirm_whose_backend_keeps_dying_is_failed_then_checked_again_and_confirmed(
    client, officer, assessment, settings, monkeypatch
):
    record = _previewed(client, officer, assessment, settings, monkeypatch)
    before = _points(assessment)
    terminating(monkeypatch, "apply_assessment", 1000)

    with pytest.raises(OperationalError):
        import_confirm(record=record, actor=officer)

    record.refresh_from_db()
    assert record.status == ImportStatus.FAILED and "database was lost" in record.problems[0]["en"]
    assert _points(assessment) == before  # all or nothing
    monkeypatch.undo()
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10**9
    record = import_recheck(record=record)
    assert record.status == ImportStatus.PREVIEW
    assert import_confirm(record=record, actor=officer).status == ImportStatus.APPLIED
    assert _points(assessment) == "12.50"


# --- a worker killed with SIGKILL ----------------------------------------------------------------------


def _kill(worker: WorkerProcess) -> None:
    worker.process.send_signal(signal.SIGKILL)  # no warm shutdown: the work is cut mid-way
    worker.process.wait(timeout=10)


def _stop(worker: WorkerProcess) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=20)
    except Exception:
        worker.process.kill()
        worker.process.wait(timeout=10)


@pytest.fixture
def build_seconds() -> float:
    return 8


@pytest.fixture
def slow_env(monkeypatch, settings, build_seconds):
    """Inherited by the workers: shared media folder, slow report builds and upload checks."""
    monkeypatch.setenv("PARINDEX_MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.setenv("PARINDEX_TEST_BUILD_SECONDS", str(build_seconds))
    monkeypatch.setenv("PARINDEX_TEST_CHECK_SECONDS", str(build_seconds))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_report_cut_by_sigkill_is_failed_when_a_worker_starts_then_retried(
    province, slow_env, celery_worker_process, settings, tmp_path
):
    settings.PARINDEX_REPORT_QUEUE = celery_worker_process.queue
    job = report_request(framework=build_district_framework(province))
    running = wait_for(
        job.pk, {JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED}, 30, celery_worker_process
    )
    assert running.status == JobStatus.RUNNING
    _kill(celery_worker_process)
    # Time passes: the dead worker's heartbeat grows old (beat never runs here).
    old = timezone.now() - stale_after() - timedelta(seconds=5)
    ReportJob.objects.filter(pk=job.pk).update(heartbeat_at=old)
    assert ReportJob.objects.get(pk=job.pk).status == JobStatus.RUNNING

    other = start_another_worker(celery_worker_process.queue, tmp_path / "second-worker.log")
    try:
        failed = wait_for(job.pk, {JobStatus.FAILED, JobStatus.SUCCEEDED}, 30, other)
        assert failed.status == JobStatus.FAILED and "retry" in failed.error  # failed by the start sweep
        report_retry(failed)
        done = wait_for(job.pk, {JobStatus.SUCCEEDED, JobStatus.FAILED}, 90, other)
        assert done.status == JobStatus.SUCCEEDED, (done.error, other.log())
        assert_workbook_matches(done)
    finally:
        _stop(other)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_upload_check_cut_by_sigkill_is_failed_when_a_worker_starts_then_checked_again(
    client, officer, assessment, slow_env, celery_worker_process, settings, tmp_path, monkeypatch
):
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10
    client.force_login(officer)
    file = fill(download(client, assessment), {"1.1.1": "12,5"})
    queue = celery_worker_process.queue
    monkeypatch.setattr(uploads, "enqueue_on_commit", _on_queue(uploads.enqueue_on_commit, queue))
    upload(client, assessment, file)
    record = ImportRecord.objects.get()
    deadline = time.monotonic() + 30
    while ImportRecord.objects.get(pk=record.pk).progress < 10:
        assert time.monotonic() < deadline, celery_worker_process.log()
        time.sleep(0.2)
    _kill(celery_worker_process)
    time.sleep(1)
    assert ImportRecord.objects.get(pk=record.pk).status == ImportStatus.CHECKING  # what a lost worker leaves
    old = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5)
    ImportRecord.objects.filter(pk=record.pk).update(heartbeat_at=old)

    other = start_another_worker(queue, tmp_path / "second-worker.log")
    try:
        deadline = time.monotonic() + 30
        while (cut := ImportRecord.objects.get(pk=record.pk)).status == ImportStatus.CHECKING:
            assert time.monotonic() < deadline, other.log()
            time.sleep(0.2)
        assert cut.status == ImportStatus.FAILED and "interrupted" in cut.problems[0]["en"]
        import_recheck(record=cut)
        deadline = time.monotonic() + 60
        while (done := ImportRecord.objects.get(pk=record.pk)).status == ImportStatus.CHECKING:
            assert time.monotonic() < deadline, other.log()
            time.sleep(0.2)
        assert done.status == ImportStatus.PREVIEW, (done.problems, other.log())
    finally:
        _stop(other)


def _on_queue(enqueue, queue: str):
    """enqueue_on_commit sending to the test worker's own queue."""

    def send(name, *args, **options):
        return enqueue(name, *args, queue=queue, **options)

    return send
