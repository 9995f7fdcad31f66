"""Publication gates (DESIGN §2.3, issue 13): publish only from the final phase, every unit appraised
or excluded by name with a reason, after the appeal deadline, with a decision number and a date not in
the future; every problem listed at once and nothing changed on refusal. Reopening goes back one step
and gives every unit back its own state. `manage.py publish` and `manage.py reopen` follow the same
rules (a non-zero exit with the bilingual message, nothing changed)."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from parindex.audit.models import AuditEntry
from parindex.errors import ServiceError
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.frameworks.services import (
    framework_advance_to,
    framework_publish,
    framework_reopen,
    framework_step_back,
)
from scoring.models import Assessment, AssessmentResult, AssessmentStatus, Framework, FrameworkStatus
from units.models import UnitKind

from .factories import make_framework, make_unit, rows_from_spec

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30, "score", "office"), ("2.1", 30, "score", "office")]
P = FrameworkStatus
DECISION = {"decision_number": "4769/QĐ-UBND", "decision_date": date(2024, 12, 21)}


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="GATE")


def proof(points):
    return SelfEntry(D(points), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")


def unit_at(framework, code, status):
    """A commune of the framework whose assessment is left in `status` (draft, submitted, appraised)."""
    unit = make_unit(code, kind=UnitKind.COMMUNE, parent=framework.authority, name=f"Xã {code}")
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    if status == "none":
        assessment.delete()
        return None
    if status == AssessmentStatus.DRAFT:
        scores_apply_self(assessment=assessment, entries={"1.1": proof("10")})
        return assessment
    scores_apply_self(assessment=assessment, entries={"1.1": proof("20"), "1.2": proof("30")})
    assessment_submit(assessment=assessment)
    if status == AssessmentStatus.APPRAISED:
        scores_apply_appraisal(
            assessment=assessment,
            entries={
                "1.1": AppraisalEntry(D("20")),
                "1.2": AppraisalEntry(D("30")),
                "2.1": AppraisalEntry(D("25")),
            },
        )
    return Assessment.objects.get(pk=assessment.pk)


@pytest.fixture
def year(framework):
    """Four units: two appraised, one submitted, one draft; the framework walked to the final phase."""
    units = {
        "A1": unit_at(framework, "A1", AssessmentStatus.APPRAISED),
        "A2": unit_at(framework, "A2", AssessmentStatus.APPRAISED),
        "S1": unit_at(framework, "S1", AssessmentStatus.SUBMITTED),
        "D1": unit_at(framework, "D1", AssessmentStatus.DRAFT),
    }
    framework_advance_to(framework=framework, phase=P.FINAL)
    return units


def snapshot(framework):
    """Everything publication could change."""
    fw = Framework.objects.get(pk=framework.pk)
    return (
        (fw.status, fw.decision_number, fw.decision_date, fw.published_at),
        sorted(
            Assessment.objects.filter(framework=framework).values_list(
                "unit__code",
                "status",
                "status_before_publication",
                "excluded_reason",
                "ranked",
                "not_ranked_reason",
            )
        ),
        AuditEntry.objects.count(),
    )


def refusal_fields(error: ServiceError) -> list[str]:
    return [e.field or "" for e in error.all()]


# --- each gate -----------------------------------------------------------------------------------------


def test_a_unit_neither_appraised_nor_excluded_refuses_publication_naming_each(framework, year):
    before = snapshot(framework)
    with pytest.raises(ServiceError) as refused:
        framework_publish(framework=framework, **DECISION)
    texts = refused.value.texts("en")
    assert any("S1" in text for text in texts) and any("D1" in text for text in texts)
    assert not any("A1" in text for text in texts)
    assert snapshot(framework) == before


def test_every_problem_is_listed_at_once_and_nothing_changes(framework, year):
    before = snapshot(framework)
    with pytest.raises(ServiceError) as refused:
        framework_publish(
            framework=framework,
            decision_number=" ",
            decision_date=timezone.localdate() + timedelta(days=1),
            exclusions={"S1": " ", "NOPE": "x"},
        )
    fields = refusal_fields(refused.value)
    assert fields.count("decision_number") == 1 and fields.count("decision_date") == 1
    assert "reason" in fields  # S1 excluded without a reason
    assert "exclude" in fields  # NOPE is no unit of the framework; D1 neither appraised nor excluded
    assert len(refused.value.all()) == 5
    assert snapshot(framework) == before


def test_a_decision_dated_in_the_future_is_refused(framework, year):
    exclusions = {"S1": "Chưa thẩm định xong", "D1": "Không nộp"}
    with pytest.raises(ServiceError) as refused:
        framework_publish(
            framework=framework,
            decision_number="1/QĐ",
            decision_date=timezone.localdate() + timedelta(days=1),
            exclusions=exclusions,
        )
    assert refusal_fields(refused.value) == ["decision_date"]
    framework_publish(
        framework=framework, decision_number="1/QĐ", decision_date=timezone.localdate(), exclusions=exclusions
    )
    assert Framework.objects.get(pk=framework.pk).status == P.PUBLISHED


def test_publication_only_from_the_final_phase(framework):
    unit_at(framework, "A1", AssessmentStatus.APPRAISED)
    for phase in (P.OPEN, P.APPRAISAL, P.APPEALS):
        framework_advance_to(framework=framework, phase=phase)
        with pytest.raises(ServiceError) as refused:
            framework_publish(framework=framework, **DECISION)
        assert refusal_fields(refused.value) == ["status"]
    framework_advance_to(framework=framework, phase=P.FINAL)
    framework_publish(framework=framework, **DECISION)
    assert Framework.objects.get(pk=framework.pk).status == P.PUBLISHED


def test_publication_waits_for_the_appeal_deadline(framework):
    unit_at(framework, "A1", AssessmentStatus.APPRAISED)
    framework_advance_to(framework=framework, phase=P.FINAL)
    # A deadline moved later (stepping back and notifying again) holds publication back.
    Framework.objects.filter(pk=framework.pk).update(appeal_deadline=timezone.now() + timedelta(days=2))
    with pytest.raises(ServiceError) as refused:
        framework_publish(framework=framework, **DECISION)
    assert refusal_fields(refused.value) == ["appeal_deadline"]
    assert Framework.objects.get(pk=framework.pk).status == P.FINAL


def test_a_unit_that_never_started_must_be_excluded_too(framework):
    unit_at(framework, "A1", AssessmentStatus.APPRAISED)
    unit_at(framework, "N1", "none")
    framework_advance_to(framework=framework, phase=P.FINAL)
    with pytest.raises(ServiceError, match="N1"):
        framework_publish(framework=framework, **DECISION)
    framework_publish(framework=framework, **DECISION, exclusions={"N1": "Đơn vị mới thành lập"})
    entry = AuditEntry.objects.get(action="publication_exclusion")
    assert (entry.unit_code, entry.reason) == ("N1", "Đơn vị mới thành lập")
    assert not Assessment.objects.filter(unit__code="N1").exists()  # nothing invented for it


# --- publishing and reopening ------------------------------------------------------------------------------


def test_appraised_units_are_published_excluded_ones_keep_their_state_and_hold_no_place(framework, year):
    exclusions = {"S1": "Chưa hoàn thành giải trình", "D1": "Không nộp báo cáo tự đánh giá"}
    framework_publish(framework=framework, **DECISION, exclusions=exclusions)
    states = {
        a.unit.code: (a.status, a.status_before_publication, a.excluded_reason, a.ranked)
        for a in Assessment.objects.filter(framework=framework).select_related("unit")
    }
    assert states == {
        "A1": (AssessmentStatus.PUBLISHED, AssessmentStatus.APPRAISED, "", True),
        "A2": (AssessmentStatus.PUBLISHED, AssessmentStatus.APPRAISED, "", True),
        "S1": (AssessmentStatus.SUBMITTED, AssessmentStatus.SUBMITTED, exclusions["S1"], False),
        "D1": (AssessmentStatus.DRAFT, AssessmentStatus.DRAFT, exclusions["D1"], False),
    }
    ranks = dict(
        AssessmentResult.objects.filter(framework=framework).values_list("assessment__unit__code", "rank")
    )
    assert ranks == {"A1": 1, "A2": 1, "S1": None, "D1": None}
    assert AuditEntry.objects.filter(action="publication_exclusion").count() == 2


def test_reopen_goes_back_one_step_and_restores_each_units_own_state(framework, year):
    assessment = year["A1"]
    Assessment.objects.filter(pk=year["A2"].pk).update(ranked=False, not_ranked_reason="Mới sáp nhập")
    framework_publish(
        framework=framework, **DECISION, exclusions={"S1": "Chưa giải trình", "D1": "Không nộp"}
    )
    framework_reopen(framework=framework, reason="Điều chỉnh điểm điều tra")
    assert Framework.objects.get(pk=framework.pk).status == P.FINAL  # one step, not back to open
    states = {
        a.unit.code: (a.status, a.status_before_publication, a.excluded_reason, a.ranked, a.not_ranked_reason)
        for a in Assessment.objects.filter(framework=framework).select_related("unit")
    }
    assert states == {
        "A1": (AssessmentStatus.APPRAISED, "", "", True, ""),
        "A2": (AssessmentStatus.APPRAISED, "", "", False, "Mới sáp nhập"),  # its own decision kept
        "S1": (AssessmentStatus.SUBMITTED, "", "", True, ""),
        "D1": (AssessmentStatus.DRAFT, "", "", True, ""),  # a draft unit stays draft
    }
    assert AssessmentResult.objects.get(assessment=assessment).rank == 1
    entry = AuditEntry.objects.get(action="framework_reopen")
    assert (entry.old_value, entry.new_value, entry.reason) == (
        "published",
        "final",
        "Điều chỉnh điểm điều tra",
    )


def test_reopening_then_publishing_again(framework, year):
    exclusions = {"S1": "Chưa giải trình", "D1": "Không nộp"}
    framework_publish(framework=framework, **DECISION, exclusions=exclusions)
    framework_step_back(framework=framework, reason="Sửa quyết định")
    framework_publish(
        framework=framework,
        decision_number="4800/QĐ-UBND",
        decision_date=date(2024, 12, 28),
        exclusions=exclusions,
    )
    framework.refresh_from_db()
    assert (framework.status, framework.decision_number) == (P.PUBLISHED, "4800/QĐ-UBND")
    assert AuditEntry.objects.filter(action="framework_publish").count() == 2


# --- the commands ---------------------------------------------------------------------------------------


def test_publish_command_refuses_a_unit_neither_appraised_nor_excluded_and_changes_nothing(framework, year):
    before = snapshot(framework)
    with pytest.raises(CommandError) as failed:
        call_command(
            "publish",
            "--framework",
            "GATE",
            "--decision",
            "4769/QĐ-UBND",
            "--date",
            "2024-12-21",
            "--exclude",
            "S1",
            "--reason",
            "Chưa giải trình",
        )
    message = str(failed.value)
    assert "D1" in message and " / " in message  # Vietnamese, then English
    assert "appraise it, or exclude it" in message and "cần thẩm định" in message
    assert snapshot(framework) == before


def test_publish_command_refusals_then_publication_with_exclusions(framework, year):
    # A CommandError is manage.py's non-zero exit with its message.
    with pytest.raises(CommandError):
        call_command("publish", "--framework", "GATE", "--decision", "1/QĐ", "--date", "2024-12-21")
    with pytest.raises(CommandError):
        call_command("publish", "--framework", "GATE", "--decision", "1/QĐ", "--date", "21/12/2024")
    with pytest.raises(CommandError):  # a --reason for every --exclude
        call_command(
            "publish", "--framework", "GATE", "--decision", "1/QĐ", "--date", "2024-12-21", "--exclude", "S1"
        )
    call_command(
        "publish",
        "--framework",
        "GATE",
        "--decision",
        "4769/QĐ-UBND",
        "--date",
        "2024-12-21",
        "--exclude",
        "S1",
        "--reason",
        "Chưa giải trình",
        "--exclude",
        "D1",
        "--reason",
        "Không nộp",
    )
    framework.refresh_from_db()
    assert framework.status == P.PUBLISHED
    assert dict(
        Assessment.objects.filter(framework=framework).values_list("unit__code", "excluded_reason")
    ) == {"A1": "", "A2": "", "S1": "Chưa giải trình", "D1": "Không nộp"}
    entry = AuditEntry.objects.get(action="framework_publish")
    assert entry.via == "command"


def test_reopen_command_goes_back_one_step_with_a_reason(framework, year):
    framework_publish(framework=framework, **DECISION, exclusions={"S1": "x", "D1": "y"})
    with pytest.raises(CommandError):
        call_command("reopen", "--framework", "GATE", "--reason", "  ")
    assert Framework.objects.get(pk=framework.pk).status == P.PUBLISHED
    call_command("reopen", "--framework", "GATE", "--reason", "Sai sót")
    assert Framework.objects.get(pk=framework.pk).status == P.FINAL
    assert Assessment.objects.get(pk=year["D1"].pk).status == AssessmentStatus.DRAFT
    call_command("reopen", "--framework", "GATE", "--reason", "Còn kiến nghị")
    assert Framework.objects.get(pk=framework.pk).status == P.APPEALS


# --- PostgreSQL -----------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_gates_and_reopening_on_postgresql(framework, year):
    assert connection.vendor == "postgresql"
    before = snapshot(framework)
    with pytest.raises(ServiceError, match="D1"):
        framework_publish(framework=framework, **DECISION, exclusions={"S1": "Chưa giải trình"})
    assert snapshot(framework) == before
    framework_publish(
        framework=framework, **DECISION, exclusions={"S1": "Chưa giải trình", "D1": "Không nộp"}
    )
    framework_reopen(framework=framework, reason="Sai sót")
    statuses = dict(Assessment.objects.filter(framework=framework).values_list("unit__code", "status"))
    assert statuses == {"A1": "appraised", "A2": "appraised", "S1": "submitted", "D1": "draft"}
