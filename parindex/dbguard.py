"""Database guards shared by the services: the publication lock's session flag, and running a piece of
work again after the database connection was lost.

- A PostgreSQL trigger (scoring migration 0014) refuses any change to the scores, stored results and
  criteria of a published framework, whoever sends it (a service, the admin, a shell, raw SQL). The
  services that legitimately write them — publication (which stores the final results) and reopening —
  call `unlock_published()` first: it sets the transaction-local flag the trigger looks at.
- `retry_on_lost_connection` runs a step again when the connection broke under it (the server
  restarted, the backend was terminated, a network cut): the broken connection is closed first, so the
  next attempt opens a fresh one. Only outside a transaction: inside one, the work is lost with the
  connection and only the outermost caller can start it again.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

# The session setting the trigger reads: current_setting('parindex.unlock_published', true) = 'on'.
UNLOCK_SETTING = "parindex.unlock_published"
# Errors of a lost or broken connection (psycopg raises OperationalError when the server goes away,
# InterfaceError when the connection object is already closed).
CONNECTION_ERRORS = (OperationalError, InterfaceError)

T = TypeVar("T")


def unlock_published() -> None:
    """Allow this transaction to change the scores, results and criteria of a published framework
    (PostgreSQL; the flag ends with the transaction). Call it inside the service's transaction, only
    from publication and reopening. A no-op on other databases (no trigger there)."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("unlock_published() must run inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [UNLOCK_SETTING])


def close_broken_connection() -> None:
    """Outside a transaction, close the connection if an error left it unusable, so that the next
    query opens a fresh one (a healthy connection is kept)."""
    if connection.in_atomic_block:
        return
    try:
        connection.close_if_unusable_or_obsolete()
    except Exception:  # closing a dead connection may itself fail; it is dropped all the same
        logger.debug("closing a broken database connection failed", exc_info=True)
        connection.connection = None


def retry_on_lost_connection(step: Callable[[], T], *, attempts: int = 3, what: str = "") -> T:
    """Run `step()`; when the database connection is lost under it (outside a transaction), close the
    connection and run it again, up to `attempts` times in all. The last error propagates."""
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except CONNECTION_ERRORS as error:
            if connection.in_atomic_block or attempt == attempts:
                raise
            logger.warning(
                "%s: database connection lost (%s); attempt %s of %s",
                what or getattr(step, "__qualname__", "step"),
                error,
                attempt,
                attempts,
            )
            close_broken_connection()
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")
