"""Published means immutable, down to the database (issue 15, deliverable 6): a PostgreSQL trigger
refuses any change to the scores, stored results and criteria of a published framework, whoever sends
it — here a raw ORM update, as a shell or a buggy command would — unless the transaction was unlocked
by publication or reopening (parindex.dbguard.unlock_published).

Transactional tests: the unlock flag lasts until the transaction ends, so each step commits.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from scoring.frameworks.services import framework_reopen
from scoring.models import AreaResult, AssessmentResult, Criterion, Framework, FrameworkStatus, Score
from tests.publishing import walk_and_publish as _publish

from .test_services import build_district_framework

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REFUSED = "is published; its scores, results and criteria cannot change"


def publish(framework: Framework) -> Framework:
    _publish(framework=framework, decision_number="12/QĐ-UBND", decision_date=date(2024, 12, 20))
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.PUBLISHED
    return framework


def refused(change) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        change()
    return str(caught.value)


@pytest.fixture
def published(province):
    assert connection.vendor == "postgresql"
    return publish(build_district_framework(province))


def test_a_raw_update_of_a_published_score_is_refused_by_the_database(published):
    scores = Score.objects.filter(assessment__framework=published, criterion__code="1.1")
    before = sorted(scores.values_list("self_points", flat=True))

    message = refused(lambda: scores.update(self_points=Decimal("0")))

    assert REFUSED in message and published.code in message
    assert sorted(scores.values_list("self_points", flat=True)) == before
    # Deleting or adding a score is refused too.
    assert REFUSED in refused(lambda: scores.delete())
    one = scores.first()
    assert REFUSED in refused(
        lambda: Score.objects.bulk_create(
            [Score(assessment=one.assessment, criterion=Criterion.objects.get(framework=published, code="1"))]
        )
    )


def test_results_and_criteria_of_a_published_framework_are_refused_too(published):
    results = AssessmentResult.objects.filter(framework=published)
    ranks = sorted(results.values_list("assessment_id", "rank"))
    assert ranks
    assert REFUSED in refused(lambda: results.update(rank=99))
    assert REFUSED in refused(lambda: AreaResult.objects.filter(framework=published).delete())
    assert REFUSED in refused(lambda: Criterion.objects.filter(framework=published).update(title="Đã sửa"))
    with connection.cursor() as cursor, pytest.raises(DatabaseError), transaction.atomic():
        cursor.execute(
            "UPDATE scoring_assessmentresult SET grade = 'Xuất sắc' WHERE framework_id = %s", [published.pk]
        )
    assert sorted(results.values_list("assessment_id", "rank")) == ranks


def test_a_framework_being_worked_on_is_not_guarded(province):
    framework = build_district_framework(province)
    assert Score.objects.filter(assessment__framework=framework).update(note="Đã rà soát") == 12
    assert AssessmentResult.objects.filter(framework=framework).update(rank=None) == 4


def test_reopen_unlocks_then_publication_locks_again(published):
    framework_reopen(framework=published, reason="Sai sót số liệu khảo sát")
    published.refresh_from_db()
    assert published.status != FrameworkStatus.PUBLISHED
    scores = Score.objects.filter(assessment__framework=published, assessment__unit__code="H4")
    assert scores.filter(criterion__code="1.1").update(self_points=Decimal("30")) == 1

    publish(published)  # writes the final results: allowed by its own unlock
    result = AssessmentResult.objects.get(framework=published, assessment__unit__code="H4")
    assert result.points == Decimal("50")  # 30 + 20 + 0, was 40.5
    # The unlock ended with publication's transaction.
    assert REFUSED in refused(lambda: scores.update(self_points=Decimal("0")))


def test_only_a_deleted_account_may_be_cleared_from_a_published_score(published):
    user = User.objects.create_user("canbo")
    with transaction.atomic():
        connection.cursor().execute("SELECT set_config('parindex.unlock_published', 'on', true)")
        Score.objects.filter(assessment__framework=published).update(updated_by=user)
    user.delete()  # SET NULL on the scores' updated_by: allowed, nothing else changes
    assert not Score.objects.filter(assessment__framework=published, updated_by__isnull=False).exists()


def test_a_recompute_queued_before_publication_leaves_the_published_results_alone(published):
    from scoring.tasks import results_recompute_task

    before = list(AssessmentResult.objects.filter(framework=published).values_list("computed_at", flat=True))
    assert results_recompute_task.apply(args=(published.pk,)).get()["recomputed"] is False
    assert (
        list(AssessmentResult.objects.filter(framework=published).values_list("computed_at", flat=True))
        == before
    )


def test_the_results_guard_checks_each_statement_once_with_the_same_rule(published):
    """Result tables: one check per statement (0016_engine2), same refusals; an update leaving the
    rows as they were is let through, as by the row trigger."""
    from django.db.models import F

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, (t.tgtype & 1) = 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname LIKE '%%published_guard%%' AND c.relname IN ('scoring_assessmentresult', 'scoring_arearesult')"
        )
        triggers = cursor.fetchall()
    assert len(triggers) == 6 and not any(row_level for _table, _name, row_level in triggers)
    results = AssessmentResult.objects.filter(framework=published)
    assert results.update(rank=F("rank")) == results.count()
    area = AreaResult.objects.filter(framework=published).first()
    assert REFUSED in refused(lambda: AreaResult.objects.filter(pk=area.pk).update(points=F("points") + 1))
    with transaction.atomic():  # a gap to insert into, under the unlock
        connection.cursor().execute("SELECT set_config('parindex.unlock_published', 'on', true)")
        AreaResult.objects.filter(pk=area.pk).delete()
    area.pk = None
    message = refused(lambda: AreaResult.objects.bulk_create([area]))
    assert REFUSED in message and "INSERT on scoring_arearesult" in message
