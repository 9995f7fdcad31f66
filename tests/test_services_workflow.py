"""Workflow services of DESIGN §3: draft → submitted → (returned → submitted) → appraised → published."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from parindex.audit.models import AuditEntry
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_mark_appraised,
    assessment_return,
    assessment_submit,
    missing_self_scores,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.frameworks.services import (
    FrameworkLocked,
    WorkflowError,
    framework_advance_to,
    framework_publish,
    framework_reopen,
)
from scoring.models import Assessment, AssessmentStatus, FrameworkStatus
from units.models import UnitKind

from .factories import make_framework, make_unit, rows_from_spec

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30, "score", "survey"), ("2.1", 30, "score", "survey")]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def test_submit_requires_every_self_leaf_scored_or_not_applicable(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("20"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")},
        actor=officer,
    )
    assert [c.code for c in missing_self_scores(assessment)] == ["1.2"]
    with pytest.raises(ValidationError, match="1.2"):
        assessment_submit(assessment=assessment, actor=officer)
    scores_apply_self(
        assessment=assessment,
        entries={"1.2": SelfEntry(None, not_applicable=True, not_applicable_reason="Không có nhiệm vụ này")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED and assessment.submitted_at is not None


def test_explanation_round_trip_and_appraisal(assessment, officer, appraiser):
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("30"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3"),
            "1.2": SelfEntry(D("40"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3"),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    with pytest.raises(WorkflowError):
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(D("29"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")},
            actor=officer,
        )
    with pytest.raises(ValidationError):
        assessment_return(assessment=assessment, message="  ", actor=appraiser)
    assessment_return(assessment=assessment, message="Giải trình tiêu chí 1.2", actor=appraiser)
    assessment.refresh_from_db()
    assert (assessment.status, assessment.explanation_round) == (AssessmentStatus.RETURNED, 1)
    scores_apply_self(
        assessment=assessment,
        entries={"1.2": SelfEntry(D("35"), note="Đã bổ sung", evidence_reference="QĐ số 12/QĐ-UBND, tr.3")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("30")), "1.2": AppraisalEntry(D("35"))},
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED and assessment.result.provisional is False
    statuses = list(
        AuditEntry.objects.filter(assessment_id=assessment.pk, action="status")
        .order_by("id")
        .values_list("old_value", "new_value", "actor__username")
    )
    assert statuses == [
        ("draft", "submitted", "officer_x1"),
        ("submitted", "returned", "appraiser"),
        ("returned", "submitted", "officer_x1"),
        ("submitted", "appraised", "appraiser"),
    ]
    note = AuditEntry.objects.get(assessment_id=assessment.pk, field="note")
    assert (note.old_value, note.new_value) == ("", "Đã bổ sung")


def test_mark_appraised_only_after_submission(assessment):
    with pytest.raises(WorkflowError):
        assessment_mark_appraised(assessment=assessment)


def test_publish_locks_and_reopen_needs_a_reason(framework, assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("1"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")},
        actor=officer,
    )
    framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL)
    excluded = {assessment.unit.code: "Chưa nộp"}
    with pytest.raises(ValidationError):
        framework_publish(
            framework=framework, decision_number=" ", decision_date=date(2024, 12, 20), exclusions=excluded
        )
    framework_publish(
        framework=framework,
        decision_number="12/QĐ-UBND",
        decision_date=date(2024, 12, 20),
        exclusions=excluded,
    )
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.PUBLISHED
    assert Assessment.objects.get(pk=assessment.pk).status == AssessmentStatus.DRAFT  # excluded: its own
    with pytest.raises(FrameworkLocked):
        framework_publish(framework=framework, decision_number="13/QĐ-UBND", decision_date=date(2024, 12, 21))
    with pytest.raises(ValidationError):
        framework_reopen(framework=framework, reason="")
    framework_reopen(framework=framework, reason="Sai sót số liệu khảo sát")
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.FINAL
    entry = AuditEntry.objects.get(framework_id=framework.pk, action="framework_reopen")
    assert entry.reason == "Sai sót số liệu khảo sát"


def test_an_assessment_only_for_units_of_the_framework_kind(framework, district):
    department = make_unit("PNV", kind=UnitKind.DEPARTMENT, parent=district)
    with pytest.raises(ValidationError, match="PNV"):
        assessment_get_or_create(unit=department, framework=framework)


def test_unchanged_values_write_no_audit(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("20"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")},
        actor=officer,
    )
    count = AuditEntry.objects.count()
    result = scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("20.00"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")},
        actor=officer,
    )
    assert (result.changed, result.unchanged) == (0, 1)
    assert AuditEntry.objects.count() == count


def test_return_lists_criteria_with_reasons_and_the_unit_explains(assessment, officer, appraiser):
    from scoring.assessments.services import score_explain
    from scoring.models import Score

    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("30"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3"),
            "1.2": SelfEntry(D("40"), evidence_reference="QĐ số 12/QĐ-UBND, tr.3"),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    with pytest.raises(ValidationError, match="1.2"):
        assessment_return(assessment=assessment, message="Giải trình", criteria={"1.2": " "}, actor=appraiser)
    with pytest.raises(WorkflowError):
        score_explain(assessment=assessment, code="1.1", explanation="x", actor=officer)
    assessment_return(
        assessment=assessment,
        message="Đề nghị giải trình",
        criteria={"1.1": "Thiếu kế hoạch", "1.2": "Số liệu chưa khớp"},
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.return_message == "Đề nghị giải trình"
    requested = dict(
        Score.objects.filter(assessment=assessment, explanation_requested_round=1).values_list(
            "criterion__code", "explanation_request"
        )
    )
    assert requested == {"1.1": "Thiếu kế hoạch", "1.2": "Số liệu chưa khớp"}
    score_explain(assessment=assessment, code="1.2", explanation="Đã bổ sung quyết định số 5", actor=officer)
    assert (
        Score.objects.get(assessment=assessment, criterion__code="1.2").explanation
        == "Đã bổ sung quyết định số 5"
    )
    assert (
        AuditEntry.objects.filter(assessment_id=assessment.pk, action="explain", actor=officer).count() == 1
    )


def test_scored_leaves_need_evidence_or_a_written_explanation(framework, assessment, officer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from scoring.assessments.services import evidence_add, submission_problems

    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("30")), "1.2": SelfEntry(D("0"))}, actor=officer
    )
    assert [(p.criterion.code, p.reason) for p in submission_problems(assessment)] == [("1.1", "unproven")]
    with pytest.raises(ValidationError, match="1.1"):
        assessment_submit(assessment=assessment, actor=officer)
    with pytest.raises(ValidationError):
        evidence_add(
            assessment=assessment, code="1.1", upload=SimpleUploadedFile("x.exe", b"MZ"), actor=officer
        )
    evidence_add(
        assessment=assessment,
        code="1.1",
        upload=SimpleUploadedFile("ke-hoach.pdf", b"%PDF-1.4 test"),
        actor=officer,
    )
    assert submission_problems(assessment) == []
    assessment_submit(assessment=assessment, actor=officer)
    assert AuditEntry.objects.filter(
        assessment_id=assessment.pk, action="evidence_add", new_value="ke-hoach.pdf"
    ).exists()  # fresh media folder per run


def test_a_written_note_is_enough_explanation(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("30"), note="Báo cáo năm, mục 2"),
            "1.2": SelfEntry(None, not_applicable=True, not_applicable_reason="Không có nhiệm vụ này"),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
