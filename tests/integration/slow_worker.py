"""`python -m tests.integration.slow_worker <celery arguments>`: a real Celery worker whose report
builds first wait PARINDEX_TEST_BUILD_SECONDS seconds, beating their progress as a long build does,
and whose upload checks wait PARINDEX_TEST_CHECK_SECONDS, so that a test can watch a job run or kill
its worker mid-way. With the variable unset it is a
plain worker. The slowness lives here, in test code: production code carries no test hook.
"""

import os
import sys
import time

from celery import signals


@signals.worker_init.connect
def _slow_report_builds(**_kwargs) -> None:
    seconds = float(os.environ.get("PARINDEX_TEST_BUILD_SECONDS") or 0)
    if not seconds:
        return
    import django

    django.setup()
    from reports import jobs

    build = jobs.build_workbook

    def slow_build(*args, progress, **kwargs):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))
            progress(1)
        return build(*args, progress=progress, **kwargs)

    jobs.build_workbook = slow_build


@signals.worker_init.connect
def _slow_upload_checks(**_kwargs) -> None:
    """PARINDEX_TEST_CHECK_SECONDS: each upload check waits that long once it has started (progress
    10 %), so that a test can kill the worker in the middle of it."""
    seconds = float(os.environ.get("PARINDEX_TEST_CHECK_SECONDS") or 0)
    if not seconds:
        return
    import django

    django.setup()
    from scoring.exchange import uploads

    read = uploads._read

    def slow_read(record):
        time.sleep(seconds)
        return read(record)

    uploads._read = slow_read


if __name__ == "__main__":
    from celery.__main__ import main

    sys.exit(main())
