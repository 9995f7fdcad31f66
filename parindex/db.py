"""Database helpers shared by the services: retrying a transaction that lost a deadlock or a
serialization conflict, and advisory locks (PostgreSQL; no-ops on SQLite, where writes serialize).

A deadlock (SQLSTATE 40P01) or a serialization failure (40001) rolls the whole transaction back and
leaves nothing written: running the same service again is the correct answer, never an HTTP 500.
"""

import functools
import logging
import random
import time
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

CONFLICT_CODES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
RETRY_ATTEMPTS = 3

F = TypeVar("F", bound=Callable[..., Any])


def is_conflict(error: BaseException) -> bool:
    """Whether a database error is a deadlock or a serialization failure (worth running again)."""
    for candidate in (error, error.__cause__, error.__context__):
        if candidate is None:
            continue
        code = getattr(candidate, "pgcode", None) or getattr(candidate, "sqlstate", None)
        if code in CONFLICT_CODES:
            return True
    return False


def retry_on_conflict(func: F | None = None, *, attempts: int = RETRY_ATTEMPTS) -> Any:
    """Run the decorated function (which opens its own transaction, e.g. is @transaction.atomic)
    again when it fails on a deadlock or serialization conflict, up to `attempts` times in all, with
    a short random pause between attempts. Inside an outer transaction it runs once: the conflict
    aborted the outer transaction too, so only the outermost caller can run it again."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if connection.in_atomic_block:
                return f(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    return f(*args, **kwargs)
                except OperationalError as error:
                    if attempt == attempts or not is_conflict(error):
                        raise
                    logger.warning("%s: %s, attempt %s of %s", f.__qualname__, error, attempt, attempts)
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
            raise AssertionError("unreachable")

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def advisory_key(namespace: str, object_id: int) -> tuple[int, int]:
    """The two int4 keys of a transaction-level advisory lock on (namespace, object id)."""
    space = zlib.crc32(namespace.encode()) & 0x7FFFFFFF
    return space, int(object_id) & 0x7FFFFFFF


def advisory_xact_lock(namespace: str, object_id: int, *, wait: bool = True) -> bool:
    """Take a PostgreSQL advisory lock held until the current transaction ends. `wait=False` tries
    once (pg_try_advisory_xact_lock) and answers whether it got the lock. On other databases (SQLite
    serializes every write) always True. Must be called inside a transaction."""
    if connection.vendor != "postgresql":
        return True
    space, key = advisory_key(namespace, object_id)
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [space, key])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [space, key])
        return bool(cursor.fetchone()[0])
