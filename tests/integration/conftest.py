"""A real Celery worker process for tests marked `worker`.

The worker is another process, so it sees only committed rows: tests using it run with
`django_db(transaction=True)`, and the worker is pointed at the test database by name.
Service availability itself is checked by the project-root conftest.py (fail, never skip).
"""

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT = 60


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    hostname: str
    queue: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _database_url(settings_dict) -> str:
    """A DATABASE_URL for the database this test process is using (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    userinfo = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{userinfo}{host}{port}/{quote(str(settings_dict['NAME']), safe='')}"


def spawn_worker(queue: str, hostname: str, log_path: Path) -> tuple[WorkerProcess, object]:
    """Start a real worker process (tests/integration/slow_worker.py: `celery -A parindex worker`) on
    `queue`, pointed at this test database with the production settings, as a deployed worker runs.
    Returns the worker and its open log file (the caller closes it once the process has ended)."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    env.pop("PARINDEX_TEST_DB_NAME", None)
    env.update(
        DJANGO_SETTINGS_MODULE="parindex.settings",
        DJANGO_SECRET_KEY="worker-test-only-not-secret",
        DJANGO_DEBUG="0",
        PARINDEX_SITE_URL=settings.PARINDEX_SITE_URL,
        DATABASE_URL=_database_url(connection.settings_dict),
        REDIS_URL=settings.REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="0",
        PYTHONUNBUFFERED="1",
    )
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.slow_worker",
            "-A",
            "parindex",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-l",
            "info",
            "-n",
            hostname,
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return WorkerProcess(process=process, hostname=hostname, queue=queue, log_path=log_path), log_file


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start `celery -A parindex worker` on a queue of its own; stop it when the test ends."""
    from parindex.celery import app

    queue = f"parindex-test-{uuid.uuid4().hex[:12]}"
    hostname = f"{queue}@localhost"
    worker, log_file = spawn_worker(queue, hostname, tmp_path / "celery-worker.log")
    process = worker.process
    # This process sends through the broker for the duration of the test (unit tests run eager).
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"celery worker exited with status {process.returncode}:\n{worker.log()}", pytrace=False
                )
            if app.control.ping(destination=[hostname], timeout=1.0):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"celery worker {hostname} did not answer ping within {WORKER_START_TIMEOUT} s:\n{worker.log()}",
                    pytrace=False,
                )
        yield worker
    finally:
        app.conf.task_always_eager = was_eager
        if process.poll() is None:
            process.terminate()  # warm shutdown: finishes the task in hand, closes its connections
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log_file.close()
