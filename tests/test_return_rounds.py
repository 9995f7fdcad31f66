"""Appraisals that stay true (issue 13, deliverable 4): in a return round the unit changes only the
criteria returned, from every path (web row, upload, command); a change to a row already appraised
reopens it for appraisal (audited); an assessment never becomes appraised while an appraised row
differs from its self score without a reason."""

import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from parindex.audit.models import AuditEntry
from parindex.spreadsheets import SpreadsheetError
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    appraisal_accept_self,
    assessment_get_or_create,
    assessment_mark_appraised,
    assessment_return,
    assessment_submit,
    evidence_add,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.exchange.importers import read_assessment
from scoring.exchange.workbooks import assessment_workbook
from scoring.models import AssessmentStatus, Criterion, Score

from .factories import make_framework, rows_from_spec
from .sheet_files import call_failing

TREE = [("1", 20), ("1.1", 10), ("1.1.1", 1), ("1.1.2", 9), ("1.2", 10)]
EVIDENCE = "Quyết định số 12/QĐ-UBND"


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="FWR")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def score(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


@pytest.fixture
def returned(assessment, officer, appraiser):
    """The issue's story: 1.1.1 self-assessed 0,5 and accepted at 0,5 by the appraiser, 1.1.2 appraised
    as self-assessed, then the assessment returned with only 1.1.2 to explain."""
    scores_apply_self(
        assessment=assessment,
        entries={
            code: SelfEntry(points, evidence_reference=EVIDENCE)
            for code, points in (("1.1.1", D("0.5")), ("1.1.2", D("8")), ("1.2", D("10")))
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1.1": AppraisalEntry(D("0.5")), "1.1.2": AppraisalEntry(D("8"))},
        actor=appraiser,
    )
    assessment_return(
        assessment=assessment,
        message="Đề nghị giải trình",
        criteria={"1.1.2": "Thiếu tài liệu"},
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.RETURNED
    return assessment


def test_a_criterion_not_returned_is_refused_by_the_service_in_both_languages(returned, officer):
    with pytest.raises(ValidationError) as info:
        scores_apply_self(
            assessment=returned,
            entries={"1.1.1": SelfEntry(D("1"), evidence_reference=EVIDENCE)},
            actor=officer,
        )
    (error,) = info.value.all()
    assert error.criterion == "1.1.1"
    assert "Tiêu chí 1.1.1 không thuộc các tiêu chí được trả lại" in error.text()
    with translation.override("en"):
        assert "Criterion 1.1.1 was not returned for explanation" in error.text()
        assert "(1.1.2)" in error.text()
    assert score(returned, "1.1.1").self_points == D("0.5")
    # Saving a row not returned without changing it is no change, hence no refusal.
    scores_apply_self(
        assessment=returned,
        entries={"1.1.1": SelfEntry(D("0.5"), evidence_reference=EVIDENCE)},
        actor=officer,
    )
    # Evidence on a row not returned is a change to it too.
    with pytest.raises(ValidationError, match="1.1.1"):
        evidence_add(assessment=returned, code="1.1.1", document_number="15/QĐ-UBND", actor=officer)


def test_a_criterion_not_returned_is_refused_on_the_web_row(client, returned, officer):
    client.force_login(officer)
    leaf = Criterion.objects.get(framework=returned.framework, code="1.1.1")
    response = client.post(
        reverse("scoring:self_row_save", args=[returned.pk, leaf.pk]),
        {"points": "1", "note": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "không thuộc các tiêu chí được trả lại" in response.content.decode()
    assert score(returned, "1.1.1").self_points == D("0.5")


def _template_with(assessment, points: dict[str, object]) -> bytes:
    workbook = assessment_workbook(assessment=assessment)
    sheet = workbook.active
    for row in sheet.iter_rows(min_row=8):
        if row[0].value in points:
            row[3].value = points[row[0].value]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_criterion_not_returned_is_refused_in_an_upload_and_a_command(returned, officer, tmp_path):
    content = _template_with(returned, {"1.1.1": 1})
    with pytest.raises(SpreadsheetError) as info:
        read_assessment(io.BytesIO(content), framework=returned.framework, name="x.xlsx", actor=officer)
    text = " ".join(p.text() for p in info.value.problems)
    locations = [p.location() for p in info.value.problems]
    assert "1.1.1" in text and "không thuộc các tiêu chí được trả lại" in text
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    row = next(r[0].row for r in sheet.iter_rows(min_row=8) if r[0].value == "1.1.1")
    assert any(f"D{row}" in place for place in locations)
    path = tmp_path / "x1.xlsx"
    path.write_bytes(content)
    message, _error = call_failing("import_assessment", path, "--framework", "FWR", "--unit", "X1")
    assert score(returned, "1.1.1").self_points == D("0.5")
    # The same file with only the returned criterion changed goes through.
    ok = _template_with(returned, {"1.1.2": 9})
    data = read_assessment(io.BytesIO(ok), framework=returned.framework, name="x.xlsx", actor=officer)
    assert "1.1.1" in data.self_entries  # the unchanged row is read, and is no change


def test_a_change_to_an_appraised_row_reopens_it_and_accept_all_then_accepts_the_new_figure(
    returned, officer, appraiser
):
    scores_apply_self(
        assessment=returned,
        entries={"1.1.2": SelfEntry(D("9"), evidence_reference=EVIDENCE)},
        actor=officer,
    )
    row = score(returned, "1.1.2")
    assert (row.self_points, row.appraised_points, row.appraisal_reason) == (D("9"), None, "")
    reopened = AuditEntry.objects.filter(
        assessment_id=returned.pk, action="appraisal_reopen", field="appraised_points"
    ).get()
    assert (reopened.old_value, reopened.new_value) == ("8.00", "")
    assert "sau khi thẩm định" in reopened.reason
    assert score(returned, "1.1.1").appraised_points == D("0.5")  # untouched rows keep their appraisal
    assessment_submit(assessment=returned, actor=officer)
    appraisal_accept_self(assessment=returned, actor=appraiser)
    returned.refresh_from_db()
    assert returned.status == AssessmentStatus.APPRAISED
    assert score(returned, "1.1.2").appraised_points == D("9")


def test_a_return_naming_no_criterion_opens_every_row_and_still_reopens_appraised_ones(
    assessment, officer, appraiser
):
    scores_apply_self(
        assessment=assessment,
        entries={c: SelfEntry(D("0.5"), evidence_reference=EVIDENCE) for c in ("1.1.1", "1.1.2", "1.2")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(
        assessment=assessment, entries={"1.1.1": AppraisalEntry(D("0.5"))}, actor=appraiser
    )
    assessment_return(assessment=assessment, message="Rà soát lại toàn bộ", actor=appraiser)
    scores_apply_self(
        assessment=assessment,
        entries={"1.1.1": SelfEntry(D("1"), evidence_reference=EVIDENCE)},
        actor=officer,
    )
    assert (score(assessment, "1.1.1").self_points, score(assessment, "1.1.1").appraised_points) == (
        D("1"),
        None,
    )


@pytest.fixture
def stale(assessment, officer, appraiser):
    """The state the issue found: 1.1.1 self 1,00, appraised 0,50, no reason (as data left by the old
    rules would hold it), every other row appraised but 1.2."""
    scores_apply_self(
        assessment=assessment,
        entries={c: SelfEntry(D("1"), evidence_reference=EVIDENCE) for c in ("1.1.1", "1.1.2", "1.2")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(assessment=assessment, entries={"1.1.2": AppraisalEntry(D("1"))}, actor=appraiser)
    Score.objects.filter(assessment=assessment, criterion__code="1.1.1").update(
        appraised_points=D("0.5"), appraisal_reason=""
    )
    return assessment


def test_mark_appraised_is_refused_while_a_difference_has_no_reason(stale, appraiser):
    with pytest.raises(ValidationError) as info:
        assessment_mark_appraised(assessment=stale, actor=appraiser)
    assert "1.1.1" in info.value.all()[0].text() and "chưa ghi lý do" in info.value.all()[0].text()
    with pytest.raises(ValidationError, match="1.1.1"):
        appraisal_accept_self(assessment=stale, actor=appraiser)
    # Appraising the last open row would complete the appraisal: refused the same way.
    with pytest.raises(ValidationError, match="1.1.1"):
        scores_apply_appraisal(assessment=stale, entries={"1.2": AppraisalEntry(D("1"))}, actor=appraiser)
    stale.refresh_from_db()
    assert stale.status == AssessmentStatus.SUBMITTED
    # With the reason given the appraisal closes.
    scores_apply_appraisal(
        assessment=stale,
        entries={"1.1.1": AppraisalEntry(D("0.5"), reason="Thiếu tài liệu"), "1.2": AppraisalEntry(D("1"))},
        actor=appraiser,
    )
    stale.refresh_from_db()
    assert stale.status == AssessmentStatus.APPRAISED
