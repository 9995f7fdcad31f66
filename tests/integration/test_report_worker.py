"""Report jobs on a real Celery worker (PostgreSQL + Redis): request → progress → file; a failed build
recorded and retried; a worker killed mid-job leaves a job that is failed as stale and can be retried,
never one stuck "running".

The worker shares this process's media folder (PARINDEX_MEDIA_ROOT). It is started by
tests/integration/slow_worker.py, whose builds wait `build_seconds` first (PARINDEX_TEST_BUILD_SECONDS),
long enough to watch a job run or kill its worker mid-build.
"""

import io
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from reports.jobs import report_fail_stale, report_request, report_retry, stale_after
from reports.models import JobStatus, ReportJob
from reports.report_workbook import SHEET_RANKING
from scoring.results.selectors import ranking

from .conftest import WORKER_START_TIMEOUT, WorkerProcess, spawn_worker
from .test_services import build_district_framework

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def build_seconds() -> float:
    """How long each report build of the test's worker waits before building (a test may override it)."""
    return 2


@pytest.fixture
def report_env(monkeypatch, settings, build_seconds):
    """Set before the worker starts: it inherits this environment."""
    monkeypatch.setenv("PARINDEX_MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.setenv("PARINDEX_TEST_BUILD_SECONDS", str(build_seconds))


@pytest.fixture
def report_worker(report_env, celery_worker_process, settings):
    settings.PARINDEX_REPORT_QUEUE = celery_worker_process.queue
    return celery_worker_process


def start_another_worker(queue: str, log_path: Path) -> WorkerProcess:
    """A second worker on the same queue (the first was killed), started like the conftest fixture's."""
    from parindex.celery import app

    hostname = f"{queue}-2@localhost"
    worker, _log_file = spawn_worker(queue, hostname, log_path)  # its log closes with the process
    process = worker.process
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while not app.control.ping(destination=[hostname], timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"second celery worker did not start:\n{worker.log()}", pytrace=False)
    return worker


def wait_for(job_id: int, statuses, timeout: float, worker: WorkerProcess) -> ReportJob:
    deadline = time.monotonic() + timeout
    while True:
        job = ReportJob.objects.get(pk=job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            pytest.fail(
                f"job {job_id} is {job.status} ({job.progress} %) after {timeout} s:\n{worker.log()}",
                pytrace=False,
            )
        time.sleep(0.2)


def assert_workbook_matches(job: ReportJob) -> None:
    with default_storage.open(job.file.name, "rb") as stream:
        sheet = openpyxl.load_workbook(io.BytesIO(stream.read()))[SHEET_RANKING]
    rows = [(r[0], r[1]) for r in sheet.iter_rows(min_row=2, values_only=True) if r[1]]
    assert rows == [(line.rank, line.unit_code) for line in ranking(job.framework)]


def test_request_progress_file(province, report_worker):
    framework = build_district_framework(province)
    job = report_request(framework=framework)

    running = wait_for(job.pk, {JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED}, 30, report_worker)
    assert running.status == JobStatus.RUNNING, running.error
    assert running.heartbeat_at is not None and running.task_id == job.task_id
    done = wait_for(job.pk, {JobStatus.SUCCEEDED, JobStatus.FAILED}, 60, report_worker)

    assert done.status == JobStatus.SUCCEEDED, (done.error, report_worker.log())
    assert done.progress == 100 and done.attempts == 1 and default_storage.exists(done.file.name)
    assert_workbook_matches(done)
    assert report_worker.hostname in report_worker.log()


def test_a_failed_build_is_recorded_and_retried(province, report_worker, settings):
    framework = build_district_framework(province)
    # The storage cannot create the report's folder: a file stands where it should be.
    blocker = Path(settings.MEDIA_ROOT) / "reports" / str(framework.pk)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")

    job = report_request(framework=framework)
    failed = wait_for(job.pk, {JobStatus.SUCCEEDED, JobStatus.FAILED}, 60, report_worker)
    assert failed.status == JobStatus.FAILED and "Error" in failed.error and not failed.file

    blocker.unlink()
    report_retry(failed)
    done = wait_for(job.pk, {JobStatus.SUCCEEDED, JobStatus.FAILED}, 60, report_worker)
    assert done.status == JobStatus.SUCCEEDED, (done.error, report_worker.log())
    assert done.attempts == 2 and done.error == ""
    assert_workbook_matches(done)


@pytest.mark.parametrize("build_seconds", [6])
def test_a_worker_killed_mid_job_leaves_a_job_failed_as_stale_then_retried(province, report_worker, tmp_path):
    framework = build_district_framework(province)
    job = report_request(framework=framework)
    running = wait_for(job.pk, {JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED}, 30, report_worker)
    assert running.status == JobStatus.RUNNING

    report_worker.process.send_signal(signal.SIGKILL)  # no warm shutdown: the job is cut mid-build
    report_worker.process.wait(timeout=10)
    time.sleep(1)
    cut = ReportJob.objects.get(pk=job.pk)
    assert cut.status == JobStatus.RUNNING and not cut.file  # what a lost worker leaves behind

    # Not stale yet: the periodic check leaves it alone; once the heartbeat is old enough, it fails it.
    assert report_fail_stale(timezone.now()) == 0
    assert report_fail_stale(timezone.now() + stale_after() + timedelta(seconds=1)) == 1
    stale = ReportJob.objects.get(pk=job.pk)
    assert stale.status == JobStatus.FAILED and stale.error

    other = start_another_worker(report_worker.queue, tmp_path / "second-worker.log")
    try:
        report_retry(stale)
        done = wait_for(job.pk, {JobStatus.SUCCEEDED, JobStatus.FAILED}, 90, other)
        assert done.status == JobStatus.SUCCEEDED, (done.error, other.log())
        assert done.attempts == 2
        assert_workbook_matches(done)
    finally:
        other.process.terminate()
        try:
            other.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            other.process.kill()
            other.process.wait(timeout=10)


@pytest.mark.libreoffice
def test_pdf_annex_is_the_word_file_converted_by_libreoffice_in_the_worker(province, report_worker):
    from reports.models import ReportKind

    from ..poppler import pdf_fonts, pdf_pages

    framework = build_district_framework(province)
    job = report_request(framework=framework, kind=ReportKind.ANNEX, file_format="pdf")
    done = wait_for(job.pk, {JobStatus.SUCCEEDED, JobStatus.FAILED}, 180, report_worker)

    assert done.status == JobStatus.SUCCEEDED, (done.error, report_worker.log())
    assert done.file.name.endswith(".pdf") and report_worker.hostname in report_worker.log()
    with default_storage.open(done.file.name, "rb") as stream:
        content = stream.read()
    pages = pdf_pages(content)
    annex = next(text for text in pages if any(line.strip() == "PHỤ LỤC I" for line in text.splitlines()))
    lines = [line for line in ranking(framework) if line.ranked and line.rank is not None]
    assert lines
    positions = [annex.index(f"  {line.unit_name}  ") for line in lines]
    assert positions == sorted(positions)  # Phụ lục I in ranking order, as the selector says
    assert all(text.strip().splitlines()[0].strip() == "DỰ THẢO" for text in pages)  # not published
    assert all(font["emb"] == "yes" for font in pdf_fonts(content))
