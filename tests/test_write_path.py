"""The write path of a save (issue 14, deliverable 1): a save locks and writes only its own rows; the
ranks follow from one coalesced, idempotent job per framework; a deadlock is retried.

The `postgres` tests run two real transactions side by side (threads, each with its own
connection): a unit's save must not wait for another unit's open save of the same framework.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, connections, transaction

from parindex.db import is_conflict, retry_on_conflict
from scoring.assessments import services as assessment_services
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.models import AreaResult, AssessmentResult, Framework
from scoring.results import engine
from scoring.results.engine import results_rank_job
from units.models import UnitKind

from .factories import make_framework, make_unit, rows_from_spec

SPEC = [("1", 60), ("1.1", 30), ("1.2", 30), ("2", 40), ("2.1", 40)]


def _scores(a: str, b: str, c: str) -> dict[str, SelfEntry]:
    return {"1.1": SelfEntry(Decimal(a)), "1.2": SelfEntry(Decimal(b)), "2.1": SelfEntry(Decimal(c))}


def _build(province, n: int = 3) -> tuple[Framework, list]:
    framework = make_framework(province, rows=rows_from_spec(SPEC), unit_kind=UnitKind.DISTRICT)
    assessments = []
    for i in range(n):
        unit = make_unit(f"W{i + 1}", kind=UnitKind.DISTRICT, parent=province)
        assessment = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(assessment=assessment, entries=_scores(str(10 + i), str(10 + i), str(10 + i)))
        assessments.append(assessment)
    return framework, assessments


def _ranks(framework: Framework) -> dict[str, int | None]:
    return {
        r.assessment.unit.code: r.rank
        for r in AssessmentResult.objects.filter(framework=framework).select_related("assessment__unit")
    }


def _area_ranks(framework: Framework, area: str) -> dict[str, int | None]:
    return {
        r.assessment.unit.code: r.rank
        for r in AreaResult.objects.filter(framework=framework, area__code=area).select_related(
            "assessment__unit"
        )
    }


class _Recorder:
    """Stands in for the ranking task: records what would be queued."""

    def __init__(self):
        self.calls = []

    def apply_async(self, args, **options):
        self.calls.append((args, options))


@pytest.fixture
def queued(monkeypatch):
    from django.core.cache import cache

    recorder = _Recorder()
    monkeypatch.setattr("parindex.queue.task_named", lambda name: recorder)
    cache.clear()
    yield recorder
    cache.clear()


def test_the_ranking_reflects_a_save_at_once_with_eager_celery(province):
    framework, assessments = _build(province)
    assert _ranks(framework) == {"W1": 3, "W2": 2, "W3": 1}

    scores_apply_self(assessment=assessments[0], entries=_scores("30", "30", "40"))

    assert _ranks(framework) == {"W1": 1, "W2": 3, "W3": 2}
    assert _area_ranks(framework, "1") == {"W1": 1, "W2": 3, "W3": 2}


def test_a_save_writes_only_its_own_result_and_queues_one_ranking_job(
    province, settings, queued, django_capture_on_commit_callbacks
):
    framework, assessments = _build(province)
    settings.RESULTS_RANKS_INLINE = False
    computed_at = Framework.objects.get(pk=framework.pk).results_computed_at

    with django_capture_on_commit_callbacks(execute=True):
        scores_apply_self(assessment=assessments[0], entries=_scores("30", "30", "40"))

    own = AssessmentResult.objects.get(assessment=assessments[0])
    assert own.points == Decimal("100") and own.grade  # its own points, index and grade: now
    assert _ranks(framework) == {"W1": 3, "W2": 2, "W3": 1}  # ranks: by the job, not by the save
    assert Framework.objects.get(pk=framework.pk).results_computed_at == computed_at  # row untouched
    assert queued.calls == [((framework.pk,), {"countdown": 0.5})]

    assert results_rank_job(framework.pk) == "ranked"
    assert _ranks(framework) == {"W1": 1, "W2": 3, "W3": 2}
    assert _area_ranks(framework, "2") == {"W1": 1, "W2": 3, "W3": 2}
    assert Framework.objects.get(pk=framework.pk).results_computed_at != computed_at


def test_a_burst_of_saves_queues_one_job_until_it_starts(
    province, settings, queued, django_capture_on_commit_callbacks
):
    framework, assessments = _build(province)
    settings.RESULTS_RANKS_INLINE = False

    for i in range(50):
        with django_capture_on_commit_callbacks(execute=True):
            scores_apply_self(assessment=assessments[i % 3], entries=_scores(str(i % 30), "1", "1"))
    assert len(queued.calls) == 1

    results_rank_job(framework.pk)  # the job clears the pending mark first: the next save queues again
    with django_capture_on_commit_callbacks(execute=True):
        scores_apply_self(assessment=assessments[0], entries=_scores("2", "2", "2"))
    assert len(queued.calls) == 2


def test_the_ranking_job_is_idempotent_and_ranks_like_a_full_recompute(province):
    framework, assessments = _build(province, n=4)
    scores_apply_self(assessment=assessments[3], entries=_scores("10", "10", "10"))  # ties W1
    expected, expected_area = _ranks(framework), _area_ranks(framework, "1")
    assert expected == {"W1": 3, "W4": 3, "W2": 2, "W3": 1}
    AssessmentResult.objects.filter(framework=framework).update(rank=None)
    AreaResult.objects.filter(framework=framework).update(rank=7)

    assert results_rank_job(framework.pk) == "ranked"
    assert _ranks(framework) == expected and _area_ranks(framework, "1") == expected_area
    assert results_rank_job(framework.pk) == "ranked"
    assert _ranks(framework) == expected and _area_ranks(framework, "1") == expected_area


def test_the_ranking_job_of_a_deleted_framework_does_nothing(db):
    assert results_rank_job(987654) == "gone"


class _Deadlock(Exception):
    pgcode = "40P01"


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = _Deadlock()
    return error


@pytest.mark.django_db(transaction=True)
def test_a_save_that_loses_a_deadlock_is_run_again(province, monkeypatch):
    framework, assessments = _build(province)
    real_apply = assessment_services._apply
    calls = []

    def apply_once_deadlocked(*args, **kwargs):
        calls.append(1)
        result = real_apply(*args, **kwargs)  # the first attempt writes, then loses: rolled back
        if len(calls) == 1:
            raise _deadlock()
        return result

    monkeypatch.setattr(assessment_services, "_apply", apply_once_deadlocked)

    scores_apply_self(assessment=assessments[0], entries=_scores("30", "30", "40"))

    assert len(calls) == 2
    assert AssessmentResult.objects.get(assessment=assessments[0]).points == Decimal("100")
    assert _ranks(framework)["W1"] == 1


@pytest.mark.django_db(transaction=True)
def test_retry_on_conflict_gives_up_after_three_attempts_and_never_retries_other_errors():
    attempts = []

    @retry_on_conflict
    def always_deadlocked():
        attempts.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError):
        always_deadlocked()
    assert len(attempts) == 3

    other = []

    @retry_on_conflict
    def broken():
        other.append(1)
        raise OperationalError("disk full")

    with pytest.raises(OperationalError):
        broken()
    assert len(other) == 1
    assert is_conflict(_deadlock()) and not is_conflict(OperationalError("x"))


def test_inside_an_outer_transaction_the_conflict_is_left_to_the_outermost_caller(db):
    attempts = []

    @retry_on_conflict
    def deadlocked():
        attempts.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError), transaction.atomic():
        deadlocked()
    assert len(attempts) == 1


# --- two real transactions on PostgreSQL ----------------------------------------------------------


def _in_thread(target, *args):
    """Run target in a thread with its own database connection, closed at the end."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target(*args)
        except BaseException as error:  # reported to the test
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_saves_of_two_units_of_one_framework_do_not_wait_on_each_other(province, settings):
    assert connection.vendor == "postgresql"
    settings.RESULTS_RANKS_INLINE = False  # as in production: ranks by the job after commit
    framework, assessments = _build(province)
    a_saved, release_a = threading.Event(), threading.Event()

    def save_a_and_hold():
        with transaction.atomic():
            scores_apply_self(assessment=assessments[0], entries=_scores("30", "30", "40"))
            a_saved.set()
            assert release_a.wait(20), "the test never released transaction A"
        return "A"

    def save_b():
        started = time.monotonic()
        scores_apply_self(assessment=assessments[1], entries=_scores("29", "30", "40"))
        return time.monotonic() - started

    thread_a, outcome_a = _in_thread(save_a_and_hold)
    try:
        assert a_saved.wait(20), outcome_a
        thread_b, outcome_b = _in_thread(save_b)
        thread_b.join(timeout=5)
        b_done = not thread_b.is_alive()
        # While A is open, publication (FOR UPDATE on the framework) cannot slip through.
        with connections["default"].cursor() as cursor, pytest.raises(OperationalError), transaction.atomic():
            cursor.execute("SELECT id FROM scoring_framework WHERE id = %s FOR UPDATE NOWAIT", [framework.pk])
    finally:
        release_a.set()
        thread_a.join(timeout=20)
    assert b_done, "B's save waited for A's open transaction"
    assert "error" not in outcome_b, outcome_b
    assert outcome_b["value"] < 1.0
    assert outcome_a == {"value": "A"}

    # Both committed; the ranking job (eager, after each commit) ranked both saves.
    assert _ranks(framework) == {"W1": 1, "W2": 2, "W3": 3}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_ranking_job_finding_another_running_queues_itself_again(province, settings, queued):
    assert connection.vendor == "postgresql"
    framework, _ = _build(province)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        from parindex.db import advisory_xact_lock

        with transaction.atomic():
            assert advisory_xact_lock(engine.RANKS_LOCK, framework.pk, wait=False)
            holding.set()
            release.wait(20)

    thread, _outcome = _in_thread(hold_the_lock)
    try:
        assert holding.wait(20)
        assert results_rank_job(framework.pk) == "busy"
    finally:
        release.set()
        thread.join(timeout=20)
    assert queued.calls == [((framework.pk,), {"countdown": 1.0})]
    assert results_rank_job(framework.pk) == "ranked"


def test_a_recompute_rewrites_only_the_results_that_moved(province):
    from scoring.results.engine import results_recompute

    framework, assessments = _build(province)
    AssessmentResult.objects.filter(framework=framework).update(computed_at="2020-01-01T00:00:00Z")

    results_recompute(framework)  # nothing changed: no row is rewritten
    assert {r.computed_at.year for r in AssessmentResult.objects.filter(framework=framework)} == {2020}

    scores_apply_self(assessment=assessments[1], entries=_scores("11", "12", "13"))
    results_recompute(framework)
    rewritten = {
        r.assessment_id
        for r in AssessmentResult.objects.filter(framework=framework)
        if r.computed_at.year > 2020
    }
    assert rewritten == {assessments[1].pk}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_save_cannot_slip_past_a_framework_being_published(province, settings):
    """Publication (and every phase change) locks the framework row FOR UPDATE: a save that starts
    meanwhile waits for it, then reads the new status and is refused; nothing lands in the
    published framework."""
    from datetime import date

    from django.utils import timezone

    from parindex.errors import ServiceError
    from scoring.models import FrameworkStatus, Score

    assert connection.vendor == "postgresql"
    settings.RESULTS_RANKS_INLINE = False
    framework, assessments = _build(province)
    locked, release = threading.Event(), threading.Event()

    def publish_and_hold():
        with transaction.atomic():
            Framework.objects.select_for_update().get(pk=framework.pk)
            Framework.objects.filter(pk=framework.pk).update(
                status=FrameworkStatus.PUBLISHED,
                decision_number="4769/QĐ-UBND",
                decision_date=date(2024, 12, 21),
                published_at=timezone.now(),
            )
            locked.set()
            assert release.wait(20)

    def save():
        scores_apply_self(assessment=assessments[0], entries=_scores("30", "30", "40"))

    publisher, published = _in_thread(publish_and_hold)
    try:
        assert locked.wait(20), published
        saver, outcome = _in_thread(save)
        saver.join(timeout=1.0)
        assert saver.is_alive(), "the save did not wait for the publication"
    finally:
        release.set()
        publisher.join(timeout=20)
    saver.join(timeout=20)
    assert isinstance(outcome.get("error"), ServiceError), outcome
    assert Score.objects.get(assessment=assessments[0], criterion__code="1.1").self_points == Decimal("10")


def test_a_broker_out_of_reach_never_fails_the_save(
    province, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from parindex.celery import app

    framework, assessments = _build(province)
    settings.RESULTS_RANKS_INLINE = False

    class Unreachable:
        def apply_async(self, *args, **kwargs):
            raise OSError("Connection refused")

    monkeypatch.setattr("parindex.queue.task_named", lambda name: Unreachable())
    cache.clear()
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # as in production: sent through the broker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            scores_apply_self(assessment=assessments[0], entries=_scores("30", "30", "40"))
    finally:
        app.conf.task_always_eager = was_eager

    assert AssessmentResult.objects.get(assessment=assessments[0]).points == Decimal("100")
    assert cache.get(engine.RANKS_PENDING_KEY.format(framework.pk)) is None  # the next save tries again


def test_the_ranking_job_leaves_a_published_framework_alone(province):
    from scoring.models import FrameworkStatus

    framework, _ = _build(province)
    AssessmentResult.objects.filter(framework=framework).update(rank=None)
    Framework.objects.filter(pk=framework.pk).update(
        status=FrameworkStatus.PUBLISHED,
        decision_number="4769/QĐ-UBND",
        decision_date="2024-12-21",
        published_at="2024-12-21T08:00:00Z",
    )

    assert results_rank_job(framework.pk) == "published"
    assert set(_ranks(framework).values()) == {None}
