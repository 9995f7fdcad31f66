"""The appraiser's decision on not applicable holds where it counts: no appraised points on a leaf
decided not applicable; a decision cleared (and audited) when the unit changes the proposal it
answered; and the report and remediation reading not applicable as the results do."""

from decimal import Decimal as D

import pytest

from parindex.audit.models import AuditEntry
from parindex.errors import ServiceError
from reports.remediation import weakest_criteria
from reports.report_workbook import report_data
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_return,
    assessment_submit,
    not_applicable_decide,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.models import AssessmentResult, Score

from .factories import make_framework, rows_from_spec
from .sheet_files import call, call_failing, vietnamese, write_xlsx  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

# Self-assessed max 20: 1.1 (4), 1.2 (6), 2.1 (10).
TREE = [("1", 10), ("1.1", 4), ("1.2", 6), ("2", 10), ("2.1", 10)]
REASON = "Xã không có đơn vị sự nghiệp"


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="NA")


@pytest.fixture
def assessment(framework, commune, officer):
    """1.1 = 3, 2.1 = 8 and 1.2 proposed not applicable, submitted."""
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("3"), note="Báo cáo số 12"),
            "1.2": SelfEntry(None, not_applicable=True, not_applicable_reason=REASON),
            "2.1": SelfEntry(D("8"), note="Báo cáo số 12"),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


def score(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


def returned(assessment, appraiser):
    assessment_return(assessment=assessment, message="Giải trình tiêu chí 1.2", actor=appraiser)
    assessment.refresh_from_db()
    return assessment


# --- (a) no appraised points on a leaf decided not applicable ---------------------------------------------


@pytest.mark.parametrize(("code", "decision"), [("1.2", "confirm"), ("2.1", "impose")])
def test_appraised_points_on_a_leaf_decided_not_applicable_are_refused(assessment, appraiser, code, decision):
    not_applicable_decide(
        assessment=assessment, code=code, decision=decision, reason="Không có nhiệm vụ", actor=appraiser
    )
    with pytest.raises(ServiceError) as info:
        scores_apply_appraisal(
            assessment=assessment, entries={code: AppraisalEntry(D("2"), reason="Chấm lại")}, actor=appraiser
        )
    (error,) = info.value.all()
    assert (error.criterion, error.field) == (code, "appraised_points")
    assert score(assessment, code).appraised_points is None
    # An empty entry (a blank row of the appraisal workbook) is not a refusal.
    scores_apply_appraisal(assessment=assessment, entries={code: AppraisalEntry(None)}, actor=appraiser)


# --- (b) the unit changes the proposal the decision answered ------------------------------------------------


def decision_audits(assessment, code):
    return list(
        AuditEntry.objects.filter(
            assessment_id=assessment.pk,
            criterion_code=code,
            field="appraised_not_applicable",
            action="self_score",
        ).values_list("old_value", "new_value", "actor__username")
    )


def test_withdrawing_a_confirmed_proposal_clears_the_decision(assessment, appraiser, officer):
    not_applicable_decide(assessment=assessment, code="1.2", decision="confirm", actor=appraiser)
    returned(assessment, appraiser)
    scores_apply_self(
        assessment=assessment, entries={"1.2": SelfEntry(D("5"), note="Có QĐ số 3")}, actor=officer
    )
    s = score(assessment, "1.2")
    assert (s.not_applicable, s.appraised_not_applicable, s.is_not_applicable) == (False, None, False)
    assert len(decision_audits(assessment, "1.2")) == 1
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.points, result.max_points) == (D("16"), D("20"))  # 3 + 5 + 8: the leaf counts again


def test_proposing_again_a_refused_leaf_with_a_new_reason_clears_the_refusal(assessment, appraiser, officer):
    not_applicable_decide(
        assessment=assessment,
        code="1.2",
        decision="refuse",
        reason="Có trường mầm non",
        points=D("2"),
        actor=appraiser,
    )
    returned(assessment, appraiser)
    # Saving the row again with the same reason keeps the refusal.
    scores_apply_self(
        assessment=assessment,
        entries={"1.2": SelfEntry(None, not_applicable=True, not_applicable_reason=REASON)},
        actor=officer,
    )
    assert score(assessment, "1.2").appraised_not_applicable is False
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.2": SelfEntry(None, not_applicable=True, not_applicable_reason="Trường đã sáp nhập về xã khác")
        },
        actor=officer,
    )
    s = score(assessment, "1.2")
    assert (s.not_applicable, s.appraised_not_applicable, s.is_not_applicable) == (True, None, True)
    assert len(decision_audits(assessment, "1.2")) == 1


def test_proposing_a_leaf_the_appraiser_imposed_reopens_the_decision(assessment, appraiser, officer):
    not_applicable_decide(
        assessment=assessment, code="2.1", decision="impose", reason="Không có nhiệm vụ", actor=appraiser
    )
    returned(assessment, appraiser)
    # A note on the imposed leaf does not touch the decision.
    scores_apply_self(
        assessment=assessment, entries={"2.1": SelfEntry(D("8"), note="Ghi chú")}, actor=officer
    )
    assert score(assessment, "2.1").appraised_not_applicable is True
    scores_apply_self(
        assessment=assessment,
        entries={"2.1": SelfEntry(None, not_applicable=True, not_applicable_reason="Đồng ý")},
        actor=officer,
    )
    assert score(assessment, "2.1").appraised_not_applicable is None
    assert decision_audits(assessment, "2.1") == [("True", "", "officer_x1")]


# --- (c) the report and remediation read not applicable as the results do ------------------------------------


def test_report_and_remediation_follow_the_appraisers_decisions(assessment, appraiser, framework):
    scores_apply_appraisal(assessment=assessment, entries={"1.1": AppraisalEntry(D("3"))}, actor=appraiser)
    # 1.2: the unit's proposal refused, scored 2 of 6; 2.1: imposed not applicable (the unit had 8 of 10).
    not_applicable_decide(
        assessment=assessment,
        code="1.2",
        decision="refuse",
        reason="Có trường mầm non",
        points=D("2"),
        actor=appraiser,
    )
    not_applicable_decide(
        assessment=assessment, code="2.1", decision="impose", reason="Không có nhiệm vụ", actor=appraiser
    )
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.points, result.max_points) == (D("5"), D("10"))  # 3 + 2 of 4 + 6
    lost = {line.code: (line.counted, line.lost) for line in report_data(framework, None).lost}
    assert lost == {"1.1": (1, D("1.00")), "1.2": (1, D("4.00")), "2.1": (0, D("0.00"))}
    assert sum(points for _counted, points in lost.values()) == result.max_points - result.points
    weakest = {
        framework.criteria.get(pk=criterion_id).code: points
        for criterion_id, points in weakest_criteria(framework)[assessment.pk]
    }
    assert weakest == {"1.2": D("4"), "1.1": D("1")}


# --- the appraisal workbook repeats what stands ---------------------------------------------------------------


def test_appraisal_workbook_mark_on_a_decided_leaf(assessment, appraiser, tmp_path):
    not_applicable_decide(
        assessment=assessment,
        code="1.2",
        decision="refuse",
        reason="Có trường mầm non",
        points=D("2"),
        actor=appraiser,
    )
    not_applicable_decide(
        assessment=assessment, code="2.1", decision="impose", reason="Không có nhiệm vụ", actor=appraiser
    )
    header = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá", "Điểm thẩm định", "Lý do"]
    # The imposed leaf marked not applicable again: it repeats the decision, nothing changes.
    path = write_xlsx(tmp_path / "a.xlsx", [header, ["1.1", "", 4, 3, 3, ""], ["2.1", "", 10, 8, "KAD", ""]])
    call("import_assessment", path, "--framework", "NA", "--unit", "X1", "--stage", "appraisal")
    assert (score(assessment, "2.1").appraised_not_applicable, score(assessment, "1.1").appraised_points) == (
        True,
        D("3"),
    )
    # The refused proposal marked not applicable: refused on its cell.
    path = write_xlsx(tmp_path / "b.xlsx", [header, ["1.2", "", 6, "KAD", "KAD", ""]])
    err, _ = call_failing(
        "import_assessment", path, "--framework", "NA", "--unit", "X1", "--stage", "appraisal"
    )
    assert "E2: Đề nghị không áp dụng tiêu chí 1.2 đã bị từ chối; hãy nhập điểm thẩm định." in err
    assert score(assessment, "1.2").appraised_points == D("2")
