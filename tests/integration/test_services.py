"""The production-like parts: PostgreSQL, Redis as cache and broker, and a real Celery worker.

Run by `make test-services` and CI (PARINDEX_REQUIRE_SERVICES=1); `make test` deselects them.
"""

import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection

from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.models import AreaResult, AssessmentResult, Framework
from scoring.results.engine import results_recompute
from units.models import UnitKind

from ..factories import make_framework, make_unit, rows_from_spec

# Area 1 holds 95.5 points; area 2 (4.5 points) is not applicable to the first district, so it
# is judged on 95.5 points: 82.58 of them give index 86.471 at 3 decimals (DESIGN §2).
SPEC = [("1", 95.5), ("1.1", 50), ("1.2", 45.5), ("2", 4.5), ("2.1", 4.5)]
SCORES = {
    "H": {
        "1.1": SelfEntry(Decimal("50")),
        "1.2": SelfEntry(Decimal("32.58")),
        "2.1": SelfEntry(None, not_applicable=True),
    },
    "H2": {"1.1": SelfEntry(Decimal("40")), "1.2": SelfEntry(Decimal("30")), "2.1": SelfEntry(Decimal("4"))},
    "H3": {"1.1": SelfEntry(Decimal("40")), "1.2": SelfEntry(Decimal("30")), "2.1": SelfEntry(Decimal("4"))},
    "H4": {
        "1.1": SelfEntry(Decimal("20.5")),
        "1.2": SelfEntry(Decimal("20")),
        "2.1": SelfEntry(Decimal("0")),
    },
}
# unit: (points, max points, index, grade, rank); equal indices share a rank, the next is skipped.
EXPECTED = {
    "H": (Decimal("82.58"), Decimal("95.5"), Decimal("86.471"), "Tốt", 1),
    "H2": (Decimal("74"), Decimal("100"), Decimal("74.000"), "Khá", 2),
    "H3": (Decimal("74"), Decimal("100"), Decimal("74.000"), "Khá", 2),
    "H4": (Decimal("40.5"), Decimal("100"), Decimal("40.500"), "Yếu", 4),
}
EXPECTED_AREA_1 = {
    "H": (Decimal("82.58"), Decimal("86.471"), 1),
    "H4": (Decimal("40.5"), Decimal("42.408"), 4),
}


def build_district_framework(province) -> Framework:
    framework = make_framework(province, rows=rows_from_spec(SPEC), unit_kind=UnitKind.DISTRICT, decimals=3)
    for code, entries in SCORES.items():
        unit = make_unit(code, kind=UnitKind.DISTRICT, parent=province)
        assessment = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(assessment=assessment, entries=entries)
    return framework


def forget_results(framework: Framework) -> None:
    AreaResult.objects.filter(framework=framework).delete()
    AssessmentResult.objects.filter(framework=framework).delete()
    Framework.objects.filter(pk=framework.pk).update(results_computed_at=None)


def assert_expected_results(framework: Framework) -> None:
    stored = {
        r.assessment.unit.code: (r.points, r.max_points, r.index, r.grade, r.rank)
        for r in AssessmentResult.objects.filter(framework=framework).select_related("assessment__unit")
    }
    assert stored == EXPECTED
    area_1 = {
        r.assessment.unit.code: (r.points, r.index, r.rank)
        for r in AreaResult.objects.filter(framework=framework, area__code="1").select_related(
            "assessment__unit"
        )
    }
    assert {code: area_1[code] for code in EXPECTED_AREA_1} == EXPECTED_AREA_1
    assert all(r.provisional for r in AssessmentResult.objects.filter(framework=framework))
    framework.refresh_from_db()
    assert framework.results_computed_at is not None


@pytest.mark.postgres
def test_results_recompute_on_postgresql(province):
    assert connection.vendor == "postgresql"
    framework = build_district_framework(province)
    forget_results(framework)

    results_recompute(framework)

    assert_expected_results(framework)
    # The index is stored exactly (NUMERIC), not as a float that happens to print well.
    index = AssessmentResult.objects.get(assessment__unit__code="H").index
    assert index.as_tuple().exponent <= -3 and index == Decimal("86.471")


@pytest.mark.redis
def test_cache_round_trip_through_redis(settings):
    import redis
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache), settings.CACHES
    key = f"parindex-test-{uuid.uuid4().hex}"
    value = {"unit": "Xã Một", "index": "86,471", "rank": 1}
    try:
        cache.set(key, value, timeout=60)
        assert cache.get(key) == value
        # The value really lives in Redis, not in this process.
        client = redis.Redis.from_url(settings.REDIS_URL)
        assert any(key in name.decode() for name in client.scan_iter(match=f"*{key}*"))
        assert cache.add(f"{key}-n", 1)
        assert cache.incr(f"{key}-n") == 2
        assert cache.get(f"{key}-n") == 2
    finally:
        cache.delete_many([key, f"{key}-n"])
    assert cache.get(key) is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_results_recompute_task_runs_on_a_real_worker(province, celery_worker_process):
    from scoring.tasks import ping, results_recompute_task

    worker = celery_worker_process
    assert ping.apply_async(queue=worker.queue).get(timeout=30) == "pong"
    framework = build_district_framework(province)
    forget_results(framework)  # committed: only the worker can bring the results back
    assert not AssessmentResult.objects.filter(framework=framework).exists()

    outcome = results_recompute_task.apply_async((framework.id,), queue=worker.queue).get(timeout=60)

    assert outcome == {
        "framework_id": framework.id,
        "recomputed": True,
        "assessments": 4,
        "worker": worker.hostname,
    }, worker.log()
    assert_expected_results(framework)
