"""Sending Celery tasks from services, by name, once the transaction commits.

A service that starts background work (a notification, the check of a large upload, a report
build) must not import the tasks module that calls it back: that would make every such pair an
import cycle. Services name the task instead; the worker and this process find it in Celery's
registry, which the app's autodiscovery fills from every installed app's ``tasks`` module.
Tasks are still called through ``apply_async`` on the task object, so eager mode (the embedded
default and the unit tests) runs them in-process exactly as before.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from celery import Task
from django.db import transaction

from parindex.celery import app


@cache
def _registry_loaded() -> bool:
    app.loader.import_default_modules()  # imports each installed app's tasks module once
    return True


def task_named(name: str) -> Task:
    """The registered task called `name` ("scoring.tasks.send_notification")."""
    _registry_loaded()
    return app.tasks[name]


def enqueue_on_commit(name: str, *args: Any, after: Callable[[], None] | None = None, **options: Any) -> None:
    """Send task `name` with `args` once the current transaction commits (at once outside one), so
    the worker reads committed rows. `options` go to apply_async (queue, task_id, countdown …)."""

    def send() -> None:
        task_named(name).apply_async(args, **options)
        if after is not None:
            after()

    transaction.on_commit(send)
