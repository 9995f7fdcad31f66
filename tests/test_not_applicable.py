"""Not applicable as a two-sided decision: the unit proposes, the appraiser confirms or refuses (then
scores the leaf, with a reason) or imposes it with a reason; audited; on the appraisal page (htmx
and plain), the appraisal workbook and the progress board."""

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parindex.audit.models import AuditEntry
from parindex.errors import ServiceError
from reports.selectors import progress
from scoring.access import reach
from scoring.assessments.services import (
    AppraisalEntry,
    NotApplicableDecision,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    not_applicable_apply,
    not_applicable_decide,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.models import AssessmentResult, AssessmentStatus, Criterion, Score, Via
from tests.publishing import walk_and_publish

from .factories import make_framework, rows_from_spec

pytestmark = pytest.mark.django_db

# Max 20 of self-assessed criteria: 1.1 (4), 1.2 (6), 2.1 (10).
TREE = [("1", 10), ("1.1", 4), ("1.2", 6), ("2", 10), ("2.1", 10)]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="NA")


def propose(assessment, officer, *, na=("1.2",), reason="Xã không có đơn vị sự nghiệp"):
    """The unit scores its leaves and proposes `na` as not applicable (with its reason), then submits."""
    points = {"1.1": D("3"), "1.2": D("5"), "2.1": D("8")}
    scores_apply_self(
        assessment=assessment,
        entries={
            code: SelfEntry(None, not_applicable=True, not_applicable_reason=reason)
            if code in na
            else SelfEntry(p, note="Báo cáo số 12")
            for code, p in points.items()
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


@pytest.fixture
def assessment(framework, commune, officer):
    return propose(assessment_get_or_create(unit=commune, framework=framework), officer)


def score(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


def result(assessment) -> AssessmentResult:
    return AssessmentResult.objects.get(assessment=assessment)


def appraise_rest(assessment, appraiser):
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("3")), "2.1": AppraisalEntry(D("8"))},
        actor=appraiser,
    )


# --- service -----------------------------------------------------------------------------------------


def test_an_undecided_proposal_counts_provisionally_and_keeps_the_assessment_open(assessment, appraiser):
    assert (result(assessment).points, result(assessment).max_points) == (D("11"), D("14"))
    appraise_rest(assessment, appraiser)
    assessment.refresh_from_db()
    # every other leaf is appraised, but 1.2's proposal waits for a decision
    assert assessment.status == AssessmentStatus.SUBMITTED
    not_applicable_decide(assessment=assessment, code="1.2", decision="confirm", actor=appraiser)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    s = score(assessment, "1.2")
    assert (s.appraised_not_applicable, s.is_not_applicable) == (True, True)
    assert (result(assessment).points, result(assessment).max_points) == (D("11"), D("14"))


def test_refusal_scores_the_leaf_and_puts_its_max_back(assessment, appraiser):
    appraise_rest(assessment, appraiser)
    not_applicable_decide(
        assessment=assessment,
        code="1.2",
        decision="refuse",
        reason="Xã có trường mầm non công lập",
        points=D("2.5"),
        actor=appraiser,
        via=Via.WEB,
    )
    s = score(assessment, "1.2")
    assert (s.appraised_not_applicable, s.is_not_applicable, s.appraised_points) == (False, False, D("2.5"))
    assert s.appraisal_reason == "Xã có trường mầm non công lập"
    # 3 + 2,5 + 8 of 4 + 6 + 10: the refused leaf's 6 points are back in the max
    assert (result(assessment).points, result(assessment).max_points) == (D("13.5"), D("20"))
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    rows = {
        (e.field, e.old_value, e.new_value, e.reason, e.actor_id)
        for e in AuditEntry.objects.filter(action="not_applicable_decision", criterion_code="1.2")
    }
    assert ("appraised_not_applicable", "", "True", "Xã có trường mầm non công lập", appraiser.pk) not in rows
    assert ("appraised_not_applicable", "", "False", "Xã có trường mầm non công lập", appraiser.pk) in rows
    assert ("appraised_points", "", "2.5", "Xã có trường mầm non công lập", appraiser.pk) in rows


def test_a_refusal_without_points_leaves_the_leaf_open_for_the_appraisal_row(assessment, appraiser):
    appraise_rest(assessment, appraiser)
    not_applicable_decide(
        assessment=assessment, code="1.2", decision="refuse", reason="Có đơn vị sự nghiệp", actor=appraiser
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED  # 1.2 now waits for appraised points
    assert (result(assessment).points, result(assessment).max_points) == (D("11"), D("20"))
    scores_apply_appraisal(
        assessment=assessment, entries={"1.2": AppraisalEntry(D("6"), "Có đủ hồ sơ")}, actor=appraiser
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    assert result(assessment).points == D("17")


def test_imposing_removes_the_leaf_from_the_applicable_max(assessment, appraiser):
    not_applicable_decide(
        assessment=assessment,
        code="2.1",
        decision="impose",
        reason="Năm 2024 không phát sinh thủ tục",
        actor=appraiser,
    )
    s = score(assessment, "2.1")
    assert (s.not_applicable, s.appraised_not_applicable, s.self_points) == (False, True, D("8"))
    # 3 of 4 (1.2 still proposed, 2.1 imposed)
    assert (result(assessment).points, result(assessment).max_points) == (D("3"), D("4"))
    entry = AuditEntry.objects.get(
        action="not_applicable_decision", criterion_code="2.1", field="appraised_not_applicable"
    )
    assert (entry.old_value, entry.new_value, entry.reason, entry.actor_id) == (
        "",
        "True",
        "Năm 2024 không phát sinh thủ tục",
        appraiser.pk,
    )


def test_refusals_name_criterion_and_field(assessment, appraiser):
    Criterion.objects.filter(framework=assessment.framework, code="1.1").update(allows_not_applicable=False)
    with pytest.raises(ServiceError) as caught:
        not_applicable_apply(
            assessment=assessment,
            decisions={
                "1.2": NotApplicableDecision("refuse", "  "),  # a refusal needs a reason
                "2.1": NotApplicableDecision("confirm"),  # nothing proposed
                "1.1": NotApplicableDecision("impose", "x"),  # the criterion does not allow it
                "1": NotApplicableDecision("impose", "x"),  # not a leaf
            },
            actor=appraiser,
        )
    found = {(e.criterion, e.field) for e in caught.value.all()}
    assert found == {
        ("1.2", "appraisal_reason"),
        ("2.1", "appraised_not_applicable"),
        ("1.1", "appraised_not_applicable"),
        ("1", None),
    }
    with pytest.raises(ServiceError) as caught:
        not_applicable_decide(
            assessment=assessment, code="1.2", decision="impose", reason="x", actor=appraiser
        )
    assert caught.value.field == "appraised_not_applicable"
    with pytest.raises(ServiceError) as caught:
        not_applicable_decide(
            assessment=assessment, code="1.2", decision="refuse", reason="x", points=D("7"), actor=appraiser
        )
    assert (caught.value.criterion, caught.value.field) == ("1.2", "appraised_points")
    assert not AuditEntry.objects.filter(action="not_applicable_decision").exists()
    assert score(assessment, "1.2").appraised_not_applicable is None


def test_survey_leaves_and_unsubmitted_or_published_assessments_are_refused(
    district, commune, officer, appraiser
):
    fw = make_framework(
        district,
        rows=rows_from_spec(
            [("1", 4), ("1.1", 4), ("2", 3.5, "score", "survey"), ("2.1", 3.5, "score", "survey")]
        ),
    )
    a = assessment_get_or_create(unit=commune, framework=fw)
    with pytest.raises(ServiceError) as caught:
        not_applicable_decide(assessment=a, code="1.1", decision="impose", reason="x", actor=appraiser)
    assert caught.value.field == "status"  # a draft is not appraised yet
    scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("4"), note="n")}, actor=officer)
    assessment_submit(assessment=a, actor=officer)
    with pytest.raises(ServiceError) as caught:
        not_applicable_decide(assessment=a, code="2.1", decision="impose", reason="x", actor=appraiser)
    assert (caught.value.criterion, caught.value.field) == ("2.1", "appraised_not_applicable")
    scores_apply_appraisal(assessment=a, entries={"1.1": AppraisalEntry(D("4"))}, actor=appraiser)
    walk_and_publish(
        framework=fw, decision_number="1/QĐ-UBND", decision_date=fw.created_at.date(), actor=appraiser
    )
    with pytest.raises(ServiceError) as caught:
        not_applicable_decide(assessment=a, code="1.1", decision="impose", reason="x", actor=appraiser)
    assert caught.value.error_code == "locked"


# --- appraisal page -------------------------------------------------------------------------------------


def na_url(assessment, code):
    leaf = assessment.framework.criteria.get(code=code)
    return reverse("scoring:appraisal_not_applicable", args=[assessment.pk, leaf.pk])


def test_page_shows_the_proposal_with_its_reason_and_the_controls(client, assessment, appraiser):
    client.force_login(appraiser)
    body = client.get(reverse("scoring:assessment_appraise", args=[assessment.pk])).content.decode()
    assert "Xã không có đơn vị sự nghiệp" in body
    assert na_url(assessment, "1.2") in body and 'value="confirm"' in body and 'value="refuse"' in body
    assert na_url(assessment, "2.1") in body and 'value="impose"' in body


def test_page_refuses_with_points_through_htmx(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.post(
        na_url(assessment, "1.2"),
        {"decision": "refuse", "reason": "Có trường mầm non", "points": "2,5"},
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="area-1"' in body and "Có trường mầm non" in body
    s = score(assessment, "1.2")
    assert (s.appraised_not_applicable, s.appraised_points) == (False, D("2.5"))
    assert AuditEntry.objects.filter(action="not_applicable_decision", via=Via.WEB, actor=appraiser).exists()


def test_page_shows_refusal_errors_and_saves_nothing(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.post(na_url(assessment, "1.2"), {"decision": "refuse", "reason": ""}, **HTMX)
    assert response.status_code == 200
    assert "Hãy nêu lý do" in response.content.decode()
    assert score(assessment, "1.2").appraised_not_applicable is None


def test_plain_post_imposes_and_redirects(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.post(na_url(assessment, "2.1"), {"decision": "impose", "reason": "Không phát sinh"})
    assert response.status_code == 302 and response["Location"].endswith(
        f"#row-{assessment.framework.criteria.get(code='2.1').pk}"
    )
    assert score(assessment, "2.1").appraised_not_applicable is True


def test_officer_cannot_decide(client, assessment, officer):
    client.force_login(officer)
    assert client.post(na_url(assessment, "1.2"), {"decision": "confirm"}).status_code == 403
    assert score(assessment, "1.2").appraised_not_applicable is None


# --- progress board --------------------------------------------------------------------------------------


def test_progress_board_lists_open_proposals_in_constant_queries(
    client, framework, assessment, other_commune, appraiser, leader, officer
):
    from .factories import make_member

    other_officer = make_member(other_commune, username="x2_officer")
    other = propose(
        assessment_get_or_create(unit=other_commune, framework=framework),
        other_officer,
        na=("1.1", "2.1"),
    )
    not_applicable_decide(assessment=other, code="1.1", decision="confirm", actor=appraiser)
    r = reach(appraiser)
    with CaptureQueriesContext(connection) as queries:
        board = progress(framework, r)
    rows = {row.unit_code: row.na_open for row in board.rows}
    assert rows == {assessment.unit.code: 1, other_commune.code: 1}
    first = len(queries)
    not_applicable_decide(assessment=other, code="2.1", decision="refuse", reason="r", actor=appraiser)
    with CaptureQueriesContext(connection) as queries:
        board = progress(framework, r)
    assert len(queries) == first
    assert {row.unit_code: row.na_open for row in board.rows} == {
        assessment.unit.code: 1,
        other_commune.code: 0,
    }
    client.force_login(appraiser)
    body = client.get(reverse("reports:progress", args=[framework.code])).content.decode()
    assert 'id="na-open"' in body
    assert reverse("scoring:assessment_appraise", args=[assessment.pk]) + "#na-" in body


# --- appraisal workbook -----------------------------------------------------------------------------------

WORKBOOK_HEADER = ["Mã", "Tiêu chí", "Điểm thẩm định", "Lý do", "Không áp dụng (thẩm định)"]


def test_workbook_takes_the_decisions_with_their_reasons(tmp_path, assessment, appraiser):
    from .sheet_files import call, write_xlsx

    path = write_xlsx(
        tmp_path / "tham-dinh.xlsx",
        [
            WORKBOOK_HEADER,
            ["1.1", "", 3, "", ""],
            ["1.2", "", "2,5", "Xã có trường mầm non", "Không chấp nhận"],
            ["2.1", "", None, "Không phát sinh thủ tục", "xác định không áp dụng"],
        ],
    )
    call("import_assessment", path, "--framework", "NA", "--unit", "X1", "--stage", "appraisal")
    s12, s21 = score(assessment, "1.2"), score(assessment, "2.1")
    assert (s12.appraised_not_applicable, s12.appraised_points, s12.appraisal_reason) == (
        False,
        D("2.5"),
        "Xã có trường mầm non",
    )
    assert (s21.appraised_not_applicable, s21.appraisal_reason) == (True, "Không phát sinh thủ tục")
    # 3 + 2,5 of 4 + 6 (2.1 imposed not applicable); every leaf decided or appraised
    assert (result(assessment).points, result(assessment).max_points) == (D("5.5"), D("10"))
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    assert set(
        AuditEntry.objects.filter(action="not_applicable_decision", via=Via.COMMAND).values_list(
            "criterion_code", "field", "new_value", "reason"
        )
    ) >= {
        ("1.2", "appraised_not_applicable", "False", "Xã có trường mầm non"),
        ("2.1", "appraised_not_applicable", "True", "Không phát sinh thủ tục"),
    }


def test_workbook_decisions_are_refused_by_cell(tmp_path, assessment, appraiser):
    from .sheet_files import call_failing, write_xlsx

    path = write_xlsx(
        tmp_path / "sai.xlsx",
        [
            WORKBOOK_HEADER,
            ["1.1", "", None, "", "xác nhận"],  # nothing proposed
            ["1.2", "", "2,5", "", "không chấp nhận"],  # refused without a reason
            ["2.1", "", None, "", "có lẽ"],  # not a decision
        ],
    )
    err, _ = call_failing(
        "import_assessment", path, "--framework", "NA", "--unit", "X1", "--stage", "appraisal"
    )
    assert "sai.xlsx [Sheet1] E2: Đơn vị không đề nghị không áp dụng tiêu chí 1.1" in err
    assert "sai.xlsx [Sheet1] D3 (tiêu chí 1.2): Hãy nêu lý do của quyết định về việc không áp dụng." in err
    assert "sai.xlsx [Sheet1] E4: “có lẽ” không phải là quyết định về việc không áp dụng" in err
    assert score(assessment, "1.2").appraised_not_applicable is None
    assert not AuditEntry.objects.filter(action__in=("not_applicable_decision", "appraise")).exists()


def test_accepting_every_self_score_skips_imposed_and_proposed_leaves(assessment, appraiser):
    from scoring.assessments.services import appraisal_accept_self

    not_applicable_decide(assessment=assessment, code="2.1", decision="impose", reason="r", actor=appraiser)
    result_ = appraisal_accept_self(assessment=assessment, actor=appraiser)
    assert result_.changed == 1  # 1.1 only: 1.2 is proposed, 2.1 imposed not applicable
    assert score(assessment, "2.1").appraised_points is None
    not_applicable_decide(assessment=assessment, code="1.2", decision="confirm", actor=appraiser)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    assert (result(assessment).points, result(assessment).max_points) == (D("3"), D("4"))


def test_the_score_history_shows_the_decision_with_who_and_why(client, assessment, appraiser):
    not_applicable_decide(
        assessment=assessment,
        code="1.2",
        decision="refuse",
        reason="Có trường mầm non",
        points=D("4"),
        actor=appraiser,
    )
    client.force_login(appraiser)
    leaf = assessment.framework.criteria.get(code="1.2")
    body = client.get(reverse("scoring:score_history", args=[assessment.pk, leaf.pk])).content.decode()
    assert "Quyết định về việc không áp dụng" in body
    assert "Có trường mầm non" in body and appraiser.username in body


# --- the admin: the same decisions, through scores_apply_fields -------------------------------------------


def _admin_score_payload(score, **fields):
    """The admin's score change form as a person submits it (every field, the evidence inline empty)."""
    payload = {
        "self_points": "" if score.self_points is None else str(score.self_points),
        "self_raw": score.self_raw,
        "not_applicable": "on" if score.not_applicable else "",
        "not_applicable_reason": score.not_applicable_reason,
        "note": score.note,
        "evidence_reference": score.evidence_reference,
        "appraised_points": "" if score.appraised_points is None else str(score.appraised_points),
        "appraised_raw": score.appraised_raw,
        "appraised_not_applicable": {None: "unknown", True: "true", False: "false"}[
            score.appraised_not_applicable
        ],
        "appraisal_reason": score.appraisal_reason,
        "evidence-TOTAL_FORMS": "0",
        "evidence-INITIAL_FORMS": "0",
        "evidence-MIN_NUM_FORMS": "0",
        "evidence-MAX_NUM_FORMS": "1000",
    }
    payload.update(fields)
    return {key: value for key, value in payload.items() if value != ""}


def test_the_admin_decides_not_applicable_through_the_same_service(admin_client, admin_user, assessment):
    # The fixture's unit scored 1.1 and 2.1, proposed 1.2 not applicable with its reason, and submitted.
    score = Score.objects.get(assessment=assessment, criterion__code="1.2")
    change = reverse("admin:scoring_score_change", args=[score.pk])

    # Refusing needs a reason: the service's refusal stands beside the reason, nothing is saved.
    response = admin_client.post(change, _admin_score_payload(score, appraised_not_applicable="false"))
    assert response.status_code == 200
    assert "lý do" in " ".join(response.context["adminform"].form.errors["appraisal_reason"]).lower()
    score.refresh_from_db()
    assert score.appraised_not_applicable is None

    # Refused with a reason and points: the leaf counts again, 3 of its 6 points (audited via admin).
    response = admin_client.post(
        change,
        _admin_score_payload(
            score,
            appraised_not_applicable="false",
            appraisal_reason="Xã có đơn vị sự nghiệp",
            appraised_points="3",
        ),
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    score.refresh_from_db()
    assert (score.appraised_not_applicable, score.appraised_points) == (False, D("3"))
    assert AuditEntry.objects.filter(
        action="not_applicable_decision", via=Via.ADMIN, actor=admin_user, criterion_code="1.2"
    ).exists()
    # 1.1 (3 of 4) and 2.1 (8 of 10) as the unit scored them, and 1.2 now counts: 14 of 20 → 70,00.
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.points, result.max_points, result.index) == (D("14"), D("20"), D("70"))

    # Imposing on a leaf the unit scored: yes, with a reason; 2.1 then leaves the sums (6 of 10).
    other = Score.objects.get(assessment=assessment, criterion__code="2.1")
    response = admin_client.post(
        reverse("admin:scoring_score_change", args=[other.pk]),
        _admin_score_payload(
            other, appraised_not_applicable="true", appraisal_reason="Không có nhiệm vụ này"
        ),
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    result.refresh_from_db()
    assert (result.points, result.max_points, result.index) == (D("6"), D("10"), D("60"))
