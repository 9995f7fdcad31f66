"""`manage.py load_demo`: idempotent, users for every role of DESIGN §5, a published first year
with final results, an open second year with a year-on-year change through a merger."""

from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import transaction

from parindex.audit.models import AuditEntry
from scoring.models import (
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    Framework,
    FrameworkStatus,
    GradeBand,
    Score,
    Via,
)
from units.models import Membership, Role, Unit

CENT = Decimal("0.01")
FIRST_YEAR = ["DEMO-XA-2024", "DEMO-PB-2024"]
SECOND_YEAR = ["DEMO-XA-2025", "DEMO-PB-2025"]
MODELS = [
    Unit,
    Membership,
    get_user_model(),
    Framework,
    Criterion,
    GradeBand,
    Assessment,
    Score,
    AuditEntry,
    AssessmentResult,
]


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_once(django_db_setup, django_db_blocker):
    """The demo, loaded once for this module inside a transaction that is rolled back at its end;
    each test runs in a savepoint of it (the `db` fixture), so tests still cannot affect each other."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield load()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(demo_once, db):
    return demo_once


def counts():
    return {model.__name__: model._default_manager.count() for model in MODELS}


def test_second_run_changes_nothing(demo):
    before = counts()
    scores = list(
        Score.objects.order_by("pk").values_list("self_points", "appraised_points", "not_applicable")
    )
    units = list(Unit.objects.order_by("pk").values_list("code", "path", "updated_at"))
    output = load()
    assert counts() == before
    assert list(Unit.objects.order_by("pk").values_list("code", "path", "updated_at")) == units
    assert (
        list(Score.objects.order_by("pk").values_list("self_points", "appraised_points", "not_applicable"))
        == scores
    )
    assert "already present" in output


def test_output_lists_logins_and_frameworks(demo):
    for text in ("admin", "noivu", "lanhdao", "x01", "pnv", "demo12345", *FIRST_YEAR, *SECOND_YEAR):
        assert text in demo


def test_users_of_every_role_log_in(demo):
    admin = authenticate(username="admin", password="demo12345")
    assert admin is not None and admin.is_superuser and admin.is_staff
    for username, role, unit in [
        ("noivu", Role.APPRAISER, "DEMO-H"),
        ("lanhdao", Role.LEADER, "DEMO-H"),
        ("x01", Role.OFFICER, "X01"),
        ("x13", Role.OFFICER, "X13"),
        ("pnv", Role.OFFICER, "PNV"),
    ]:
        user = authenticate(username=username, password="demo12345")
        assert user is not None, username
        assert not user.is_staff
        assert Membership.objects.filter(user=user, role=role, unit__code=unit).exists(), username
    # One officer for every assessed demo unit, named after its code.
    assessed = Unit.objects.filter(
        code__in=["PNV", "PTC", "PTP", "PVH", "PYT", "PKT", "PGD", "PTNMT"]
        + [f"X{n:02d}" for n in range(1, 14)]
    )
    assert assessed.count() == 21
    for unit in assessed:
        assert Membership.objects.filter(
            user__username=unit.code.lower(), unit=unit, role=Role.OFFICER
        ).exists()


def test_unit_tree_and_merger(demo):
    district = Unit.objects.get(code="DEMO-H")
    assert district.parent.code == "DEMO-T"
    assert Unit.objects.filter(parent=district, kind="department").count() == 8
    merged = Unit.objects.get(code="X13")
    assert sorted(merged.predecessors.values_list("code", flat=True)) == ["X11", "X12"]
    assert merged.active_from == 2025
    assert set(Unit.objects.filter(code__in=["X11", "X12"]).values_list("active_to", flat=True)) == {2024}
    assert all(u.path.startswith(district.path) for u in Unit.objects.filter(parent=district))


def test_first_year_is_published_with_final_results(demo):
    for code in FIRST_YEAR:
        framework = Framework.objects.get(code=code)
        assert framework.status == FrameworkStatus.PUBLISHED
        assert framework.decision_number.endswith("/QĐ-UBND") and framework.decision_date
        assert framework.self_deadline and framework.appraisal_deadline
        assert list(framework.grade_bands.values_list("name", flat=True)) == [
            "Xuất sắc",
            "Tốt",
            "Khá",
            "Trung bình",
            "Yếu",
        ]
        results = AssessmentResult.objects.filter(framework=framework)
        assert results.count() == framework.assessments.count() >= 8
        assert not framework.assessments.exclude(status=AssessmentStatus.PUBLISHED).exists()
        for result in results:
            assert result.rank is not None and result.grade and not result.provisional
    commune = Framework.objects.get(code="DEMO-XA-2024")
    assert sorted(commune.assessments.values_list("unit__code", flat=True)) == [
        f"X{n:02d}" for n in range(1, 13)
    ]
    # Realistic scores: some not applicable, some lowered on appraisal with a reason, survey entered,
    # bonus and penalty points given somewhere.
    scores = Score.objects.filter(assessment__framework=commune)
    assert scores.filter(not_applicable=True).exists()
    lowered = [s for s in scores.exclude(appraisal_reason="") if s.appraised_points < s.self_points]
    assert lowered
    assert scores.filter(criterion__source="survey", appraised_points__gt=0).count() == 12 * 3
    results = AssessmentResult.objects.filter(framework=commune)
    assert results.filter(bonus_points__gt=0).exists() and results.filter(penalty_points__gt=0).exists()
    assert len(set(results.values_list("index", flat=True))) > 6


def test_second_year_is_open_and_under_way(demo):
    for code in SECOND_YEAR:
        framework = Framework.objects.get(code=code)
        assert framework.status == FrameworkStatus.OPEN
        statuses = list(framework.assessments.values_list("status", flat=True))
        assert AssessmentStatus.APPRAISED not in statuses
        assert statuses.count(AssessmentStatus.RETURNED) == 1
        assert statuses.count(AssessmentStatus.SUBMITTED) >= len(statuses) // 2 - 1
        assert AssessmentStatus.DRAFT in statuses
        assert all(r.provisional for r in AssessmentResult.objects.filter(framework=framework))
    commune = Framework.objects.get(code="DEMO-XA-2025")
    units = set(commune.assessments.values_list("unit__code", flat=True))
    assert "X13" in units and not units & {"X11", "X12"}
    returned = commune.assessments.get(status=AssessmentStatus.RETURNED)
    assert returned.return_message and returned.scores.exclude(explanation_request="").exists()


def test_year_on_year_change_of_the_merged_commune_follows_its_predecessors(demo):
    before = {
        r.assessment.unit.code: r
        for r in AssessmentResult.objects.filter(framework__code="DEMO-XA-2024").select_related(
            "assessment__unit"
        )
    }
    x13 = AssessmentResult.objects.get(framework__code="DEMO-XA-2025", assessment__unit__code="X13")
    x11, x12 = before["X11"], before["X12"]
    # Pooled: the predecessors' points over their applicable max, at the framework's 2 decimals.
    pooled = ((x11.points + x12.points) * 100 / (x11.max_points + x12.max_points)).quantize(
        CENT, ROUND_HALF_UP
    )
    assert x13.previous_index == pooled
    assert x13.index_change == x13.index.quantize(CENT) - pooled
    assert x13.previous_points == ((x11.points + x12.points) / 2).quantize(CENT, ROUND_HALF_UP)
    assert x13.points_change == x13.points - x13.previous_points
    assert x13.previous_rank is not None and x13.rank_change == x13.previous_rank - x13.rank
    # A unit that existed both years is compared with itself.
    x01 = AssessmentResult.objects.get(framework__code="DEMO-XA-2025", assessment__unit__code="X01")
    assert x01.previous_index == before["X01"].index and x01.previous_rank == before["X01"].rank


@pytest.mark.parametrize("code", FIRST_YEAR + SECOND_YEAR)
def test_ranking_is_consistent(demo, code):
    results = list(AssessmentResult.objects.filter(framework__code=code, rank__isnull=False).order_by("rank"))
    assert results and results[0].rank == 1
    indices = [r.index for r in results]
    assert indices == sorted(indices, reverse=True)
    for position, result in enumerate(results):
        # Competition ranking: the rank is one more than the number of strictly better indices.
        assert result.rank == 1 + sum(1 for other in results if other.index > result.index), position
    unranked = AssessmentResult.objects.filter(framework__code=code, rank__isnull=True)
    assert all(r.index is None for r in unranked)


def test_every_write_is_audited_as_a_command(demo):
    assert AuditEntry.objects.exclude(via=Via.COMMAND).count() == 0
    commune = Framework.objects.get(code="DEMO-XA-2024")
    assert AuditEntry.objects.filter(framework_id=commune.pk, action="framework_publish").count() == 1
    assert AuditEntry.objects.filter(framework_id=commune.pk, action="appraise").exclude(reason="").exists()
    appraiser = get_user_model().objects.get(username="noivu")
    assert AuditEntry.objects.filter(framework_id=commune.pk, action="appraise", actor=appraiser).exists()
    assert AuditEntry.objects.filter(
        framework_id=commune.pk, action="self_score", actor__username="x01"
    ).exists()


@pytest.mark.django_db
def test_load_demo_sends_no_email_but_the_workflow_still_does(django_capture_on_commit_callbacks, mailoutbox):
    """The demo's submissions, returns and publications are history, not news: no e-mail. The mute is
    scoped to load_demo: the same workflow afterwards notifies as usual."""
    from scoring.assessments.services import assessment_return

    with django_capture_on_commit_callbacks(execute=True):
        load()
    assert mailoutbox == []
    submitted = Assessment.objects.filter(
        framework__code__in=SECOND_YEAR, status=AssessmentStatus.SUBMITTED
    ).first()
    assert submitted is not None, "the demo's second year has submitted assessments"
    with django_capture_on_commit_callbacks(execute=True):
        assessment_return(assessment=submitted, message="Đề nghị giải trình", actor=None)
    assert len(mailoutbox) == 1 and submitted.unit.name in mailoutbox[0].body
