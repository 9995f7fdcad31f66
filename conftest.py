"""Service gating for the whole suite (loaded by pytest from the project root).

Tests marked `postgres`, `redis` or `worker` need outside services. `make test` deselects them with
a marker expression; whenever they do run, a missing or unreachable service makes them FAIL with a
message saying what is missing, never skip: a green run must mean the services were exercised.
PARINDEX_REQUIRE_SERVICES=1 (set by CI and `make test-services`) additionally checks the services
before the first test, so a CI run with PostgreSQL or Redis down fails at once and says why.
"""

import os
from functools import cache

import pytest

SERVICE_MARKERS = ("postgres", "redis", "worker")
HOW_TO = (
    "Run `make test` to leave service tests out, or `make test-services` / `bash .ci/run` to run them "
    "with DATABASE_URL=postgres://… and REDIS_URL=redis://…."
)


def _services_required() -> bool:
    return os.environ.get("PARINDEX_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used by this run, or None when it can."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        return (
            f"the database is {settings_dict['ENGINE'].rsplit('.', 1)[-1]}, not PostgreSQL "
            f"(DATABASE_URL is {os.environ.get('DATABASE_URL') or 'not set'})"
        )
    import psycopg2

    try:
        # The server's maintenance database: the test database may not exist yet.
        psycopg2.connect(
            dbname="postgres",
            user=settings_dict.get("USER") or None,
            password=settings_dict.get("PASSWORD") or None,
            host=settings_dict.get("HOST") or None,
            port=settings_dict.get("PORT") or None,
            connect_timeout=5,
        ).close()
    except psycopg2.Error as exc:
        where = f"{settings_dict.get('HOST') or 'local socket'}:{settings_dict.get('PORT') or 5432}"
        return f"PostgreSQL at {where} is unreachable: {str(exc).strip()}"
    return None


@cache
def redis_problem() -> str | None:
    """Why Redis cannot be used by this run, or None when it can."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable: {exc}"
    return None


def service_problems(markers) -> list[str]:
    problems = []
    if "postgres" in markers or "worker" in markers:
        # A worker is another process: it needs a database server both processes can reach.
        problem = postgres_problem()
        if problem:
            problems.append(f"needs PostgreSQL, but {problem}")
    if "redis" in markers or "worker" in markers:
        problem = redis_problem()
        if problem:
            problems.append(f"needs Redis, but {problem}")
    return problems


def _service_markers(item) -> set[str]:
    return {name for name in SERVICE_MARKERS if item.get_closest_marker(name)}


def pytest_collection_modifyitems(session, config, items):
    if not _services_required():
        return
    problems = service_problems(set(SERVICE_MARKERS))
    if problems:
        message = "PARINDEX_REQUIRE_SERVICES=1 but the services are not usable:\n  " + "\n  ".join(problems)
        raise pytest.UsageError(message)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    markers = _service_markers(item)
    if not markers:
        return
    problems = service_problems(markers)
    if problems:
        pytest.fail(f"{item.nodeid} " + "; ".join(problems) + ". " + HOW_TO, pytrace=False)
