"""Optimistic concurrency with two real transactions on PostgreSQL (issue 15, deliverable 1).

Two people read the same row (the same version). The first saves inside a transaction that stays
open; the second saves meanwhile on its own connection (a thread). The second must wait for the first
(the assessment's row lock), then see the first one's version and be refused (StaleEdit) — never
write over the first one's value and note."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.concurrency import StaleEdit
from scoring.models import Score
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

SPEC = [("1", 60), ("1.1", 30), ("1.2", 30)]


def _in_thread(target):
    """Run target in a thread with its own database connection, closed at the end."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target()
        except BaseException as error:  # reported to the test
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _race(first, second):
    """`first` runs in a transaction held open until `second` has been waiting for a second; returns
    (outcome of first, outcome of second, whether second waited)."""
    saved, release = threading.Event(), threading.Event()

    def first_and_hold():
        with transaction.atomic():
            first()
            saved.set()
            assert release.wait(20), "the test never released the first transaction"
        return "first"

    thread_a, outcome_a = _in_thread(first_and_hold)
    try:
        assert saved.wait(20), outcome_a
        thread_b, outcome_b = _in_thread(second)
        thread_b.join(timeout=1.0)
        waited = thread_b.is_alive()
    finally:
        release.set()
        thread_a.join(timeout=20)
    thread_b.join(timeout=20)
    return outcome_a, outcome_b, waited


@pytest.fixture
def scene(province):
    framework = make_framework(province, rows=rows_from_spec(SPEC), unit_kind=UnitKind.DISTRICT)
    unit = make_unit("D1", kind=UnitKind.DISTRICT, parent=province)
    officer = make_member(unit, Role.OFFICER, "officer_d1")
    appraiser = make_member(province, Role.APPRAISER, "appraiser_a")
    other = make_member(province, Role.APPRAISER, "appraiser_b")
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(Decimal("10"), note="Nghị quyết"),
            "1.2": SelfEntry(Decimal("20"), note="KH"),
        },
        actor=officer,
    )
    return assessment, officer, appraiser, other


def _row(assessment, code="1.1") -> Score:
    return Score.objects.select_related("updated_by").get(assessment=assessment, criterion__code=code)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_second_of_two_concurrent_stale_saves_waits_and_is_refused(scene):
    assert connection.vendor == "postgresql"
    assessment, officer, appraiser, _other = scene
    read = _row(assessment).version  # both opened the page at this version

    def appraiser_saves():
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(Decimal("9"), note="Theo biên bản")},
            actor=appraiser,
            on_behalf=True,
            versions={"1.1": read},
        )

    def officer_saves():
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(Decimal("12"), note="")},
            actor=officer,
            versions={"1.1": read},
        )

    first, second, waited = _race(appraiser_saves, officer_saves)
    assert first == {"value": "first"}
    assert waited, "the second save did not wait for the first one's open transaction"
    assert isinstance(second.get("error"), StaleEdit), second
    assert "appraiser_a" in second["error"].text("en") and "Theo biên bản" in second["error"].text("en")
    row = _row(assessment)
    assert (row.self_points, row.note, row.updated_by.username, row.version) == (
        Decimal("9"),
        "Theo biên bản",
        "appraiser_a",
        read + 1,
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_appraisers_at_once_the_second_is_refused(scene):
    assert connection.vendor == "postgresql"
    assessment, officer, appraiser, other = scene
    assessment_submit(assessment=assessment, actor=officer)
    read = _row(assessment).version

    def save(actor, points, reason):
        return lambda: scores_apply_appraisal(
            assessment=assessment,
            entries={"1.1": AppraisalEntry(Decimal(points), reason)},
            actor=actor,
            versions={"1.1": read},
        )

    first, second, waited = _race(save(appraiser, "8", "Thiếu hồ sơ"), save(other, "7", "Khác"))
    assert first == {"value": "first"} and waited
    assert isinstance(second.get("error"), StaleEdit), second
    row = _row(assessment)
    assert (row.appraised_points, row.appraisal_reason) == (Decimal("8"), "Thiếu hồ sơ")
