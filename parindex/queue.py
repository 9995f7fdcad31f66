"""Sending Celery tasks from services, by name, once the transaction commits.

A service that starts background work (a notification, the check of a large upload, a report
build) must not import the tasks module that calls it back: that would make every such pair an
import cycle. Services name the task instead; the worker and this process find it in Celery's
registry, which the app's autodiscovery fills from every installed app's ``tasks`` module.
Tasks are still called through ``apply_async`` on the task object, so eager mode (the embedded
default and the unit tests) runs them in-process exactly as before.
"""

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from celery import Task
from django.db import transaction

from parindex.celery import app

logger = logging.getLogger(__name__)


@cache
def _registry_loaded() -> bool:
    app.loader.import_default_modules()  # imports each installed app's tasks module once
    return True


def task_named(name: str) -> Task:
    """The registered task called `name` ("scoring.tasks.send_notification")."""
    _registry_loaded()
    return app.tasks[name]


def enqueue_on_commit(
    name: str,
    *args: Any,
    after: Callable[[], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    **options: Any,
) -> None:
    """Send task `name` with `args` once the current transaction commits (at once outside one), so
    the worker reads committed rows. `options` go to apply_async (queue, task_id, countdown …).

    The change that asked for the task is already committed when it is sent, so a broker that cannot
    be reached never turns into an error of the request: the failure is logged and `on_failure(error)`
    records it on the job or upload (failed, with a message, and retried from there). The settings
    keep the attempt short (CELERY_BROKER_CONNECTION_TIMEOUT, the publish and result-store retry
    policies). In eager mode (tests, the embedded default) the task runs here and its errors propagate.
    """

    def send() -> None:
        task = task_named(name)
        if app.conf.task_always_eager:
            task.apply_async(args, **options)
        else:
            try:
                task.apply_async(args, **options)
            except Exception as error:  # kombu OperationalError, the result store's RuntimeError …
                logger.error("could not send task %s%r to the broker: %s", name, args, error, exc_info=True)
                if on_failure is not None:
                    try:
                        on_failure(error)
                    except Exception:
                        logger.exception("could not record the failure to send task %s%r", name, args)
                return
        if after is not None:
            after()

    transaction.on_commit(send)
