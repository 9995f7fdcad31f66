"""Appraisal pages: self vs appraised per leaf, a reason for every change, accept per row / area /
all, return for explanation (two rounds), mark appraised; refused on a published framework and
after the appraisal deadline."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from scoring.assessments.services import (
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    evidence_add,
    score_explain,
    scores_apply_self,
    survey_apply,
)
from scoring.frameworks.services import framework_set_deadlines
from scoring.models import AssessmentStatus, Framework, Score, Via
from tests.publishing import walk_and_publish
from units.models import Role, UnitKind

from .factories import UserFactory, make_framework, make_member, make_unit, rows_from_spec

TREE = [
    ("1", 30),
    ("1.1", 10),
    ("1.2", 20),
    ("2", 40),
    ("2.1", 15),
    ("2.2", 25),
    ("3", 30, "score", "survey"),
    ("3.1", 30, "score", "survey"),
]
SELF = {"1.1": D("10"), "1.2": D("18"), "2.1": D("12.5"), "2.2": D("20")}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


def _fill(assessment, officer, points=SELF):
    scores_apply_self(
        assessment=assessment,
        entries={
            code: SelfEntry(value, evidence_reference=f"QĐ số 1{code}/QĐ-UBND, tr.2")
            for code, value in points.items()
        },
        actor=officer,
    )


@pytest.fixture
def draft(framework, commune, officer):
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    _fill(assessment, officer)
    evidence_add(
        assessment=assessment,
        code="1.1",
        upload=SimpleUploadedFile("quyet-dinh.pdf", b"%PDF-1.4"),
        actor=officer,
    )
    evidence_add(
        assessment=assessment,
        code="1.2",
        document_number="25/KH-UBND",
        document_date=date(2024, 3, 1),
        page="4",
        actor=officer,
    )
    return assessment


@pytest.fixture
def assessment(draft, officer):
    assessment_submit(assessment=draft, actor=officer)
    draft.refresh_from_db()
    return draft


def _leaf(assessment, code):
    return assessment.framework.criteria.get(code=code)


def _score(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


def _page(a):
    return reverse("scoring:assessment_appraise", args=[a.pk])


def _row_url(a, code):
    return reverse("scoring:appraisal_row_save", args=[a.pk, _leaf(a, code).pk])


def _post_row(client, a, code, points, reason="", **extra):
    return client.post(_row_url(a, code), {"points": points, "reason": reason, **extra}, **HTMX)


@pytest.fixture
def other_appraiser(province):
    other_district = make_unit("H2", kind=UnitKind.DISTRICT, parent=province, name="Huyện Khác")
    return make_member(other_district, Role.APPRAISER, "appraiser_h2")


# --- who may see and use the page ---------------------------------------------------------------------


def test_appraiser_sees_self_and_evidence_side_by_side(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.get(_page(assessment))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="area"' in body and "QĐ số 11.1/QĐ-UBND" in body
    evidence = assessment.scores.get(criterion__code="1.1").evidence.get()
    assert reverse("scoring:evidence_download", args=[evidence.pk]) in body and "quyet-dinh.pdf" in body
    assert "25/KH-UBND" in body and "01/03/2024" in body
    assert reverse("scoring:score_history", args=[assessment.pk, _leaf(assessment, "1.2").pk]) in body
    assert 'name="points"' in body and "12,5" in body  # Vietnamese decimal comma
    assert "Đã nộp" in body  # status shown in Vietnamese


@pytest.mark.parametrize(
    ("persona", "status"),
    [("leader", 403), ("officer", 403), ("other_officer", 404), ("other_appraiser", 404)],
)
def test_page_refused_to_others(client, assessment, persona, status, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(_page(assessment)).status_code == status
    assert _post_row(client, assessment, "1.1", "10").status_code == status
    assert client.post(reverse("scoring:appraisal_accept", args=[assessment.pk])).status_code == status
    assert client.get(reverse("scoring:assessment_return", args=[assessment.pk])).status_code == status
    assert (
        client.post(reverse("scoring:assessment_mark_appraised", args=[assessment.pk])).status_code == status
    )
    assert not Score.objects.filter(assessment=assessment, appraised_points__isnull=False).exists()


def test_anonymous_is_sent_to_login(client, assessment):
    response = client.get(_page(assessment))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_changes_need_post(client, assessment, appraiser):
    client.force_login(appraiser)
    assert client.get(_row_url(assessment, "1.1")).status_code == 405
    assert client.get(reverse("scoring:appraisal_accept", args=[assessment.pk])).status_code == 405
    assert client.get(reverse("scoring:assessment_mark_appraised", args=[assessment.pk])).status_code == 405


# --- row autosave ---------------------------------------------------------------------------------------


def test_row_equal_to_self_needs_no_reason(client, assessment, appraiser):
    client.force_login(appraiser)
    response = _post_row(client, assessment, "1.1", "10")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="row-' in body and 'hx-swap-oob="true"' in body and "appraisal-summary" in body
    assert _score(assessment, "1.1").appraised_points == D("10")


def test_row_differing_without_reason_is_refused_inline(client, assessment, appraiser):
    client.force_login(appraiser)
    response = _post_row(client, assessment, "1.2", "15")
    assert response.status_code == 200
    body = response.content.decode()
    assert "cần ghi lý do" in body and 'class="field-error"' in body
    assert 'value="15"' in body  # what was typed stays in the row
    assert _score(assessment, "1.2").appraised_points is None
    assert not AuditEntry.objects.filter(assessment_id=assessment.pk, action="appraise").exists()


def test_row_with_reason_is_saved_and_audited(client, assessment, appraiser):
    client.force_login(appraiser)
    response = _post_row(client, assessment, "1.2", "12,1", "Thiếu văn bản kiểm chứng")
    assert response.status_code == 200
    score = _score(assessment, "1.2")
    assert (score.appraised_points, score.appraisal_reason) == (D("12.1"), "Thiếu văn bản kiểm chứng")
    entry = AuditEntry.objects.get(assessment_id=assessment.pk, action="appraise", field="appraised_points")
    assert (entry.old_value, entry.new_value, entry.reason) == ("", "12.1", "Thiếu văn bản kiểm chứng")
    assert (entry.actor, entry.via) == (appraiser, Via.WEB)
    body = response.content.decode()
    assert "−5,9" in body  # difference appraised − self (lowered by 5,9), highlighted
    assert "row-flag" in body


def test_row_not_a_number_and_over_max(client, assessment, appraiser):
    client.force_login(appraiser)
    assert "không phải là số" in _post_row(client, assessment, "1.1", "mười").content.decode()
    body = _post_row(client, assessment, "1.1", "11", "quá").content.decode()
    assert "lớn hơn điểm tối đa" in body
    assert _score(assessment, "1.1").appraised_points is None


def test_accept_self_button_on_a_row(client, assessment, appraiser):
    client.force_login(appraiser)
    _post_row(client, assessment, "1.2", "12", "Thiếu tài liệu")
    response = _post_row(client, assessment, "1.2", "12", "Thiếu tài liệu", accept_self="1")
    assert response.status_code == 200
    assert (_score(assessment, "1.2").appraised_points, _score(assessment, "1.2").appraisal_reason) == (
        D("18"),
        "",
    )


def test_row_save_without_htmx_redirects(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.post(_row_url(assessment, "1.1"), {"points": "9,5", "reason": "Nộp muộn"})
    assert response.status_code == 302 and response.url.endswith(f"#row-{_leaf(assessment, '1.1').pk}")
    assert _score(assessment, "1.1").appraised_points == D("9.5")
    # An error without htmx shows the whole page with the error in the row.
    response = client.post(_row_url(assessment, "1.2"), {"points": "1"})
    assert response.status_code == 200 and "cần ghi lý do" in response.content.decode()


def test_survey_leaf_is_read_only(client, assessment, appraiser):
    survey_apply(framework=assessment.framework, entries={"X1": {"3.1": D("25.5")}}, actor=appraiser)
    client.force_login(appraiser)
    body = client.get(_page(assessment)).content.decode()
    row = body.split(f'id="row-{_leaf(assessment, "3.1").pk}"')[1].split("</tr>")[0]
    assert "25,5" in row and 'name="points"' not in row
    assert _post_row(client, assessment, "3.1", "20", "x").status_code == 403
    assert _score(assessment, "3.1").appraised_points == D("25.5")


# --- accept per area and for all; appraised automatically --------------------------------------------


def test_accept_area_then_all_marks_appraised(client, assessment, appraiser):
    client.force_login(appraiser)
    accept = reverse("scoring:appraisal_accept", args=[assessment.pk])
    response = client.post(accept, {"area": "1"}, **HTMX)
    assert response.status_code == 200 and 'id="area-1"' in response.content.decode()
    assert [_score(assessment, c).appraised_points for c in ("1.1", "1.2", "2.1")] == [D("10"), D("18"), None]
    response = client.post(accept, {"area": ""})
    assert response.status_code == 302
    assert _score(assessment, "2.2").appraised_points == D("20")
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    body = client.get(_page(assessment)).content.decode()
    assert "✓ Đã thẩm định" in body and "badge appraised" in body


def test_accept_all_with_htmx_renders_areas_and_summary(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.post(reverse("scoring:appraisal_accept", args=[assessment.pk]), {"area": ""}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="appraisal-areas">')
    assert 'id="appraisal-summary"' in body and 'hx-swap-oob="true"' in body
    assert "Đã chấp nhận điểm tự đánh giá của 4 tiêu chí." in body and "✓ Đã thẩm định" in body
    assert '<span id="appraisal-status" class="badge appraised" hx-swap-oob="true">' in body


def test_errors_follow_the_language(client, assessment, appraiser):
    client.force_login(appraiser)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = _post_row(client, assessment, "1.2", "15,5").content.decode()
    assert "The appraised points 15.5 differ from the self-assessed 18; a reason is required." in body


def test_accept_keeps_existing_appraisals(client, assessment, appraiser):
    client.force_login(appraiser)
    _post_row(client, assessment, "2.1", "10", "Chưa đạt")
    client.post(reverse("scoring:appraisal_accept", args=[assessment.pk]), {"area": "2"}, **HTMX)
    assert (_score(assessment, "2.1").appraised_points, _score(assessment, "2.2").appraised_points) == (
        D("10"),
        D("20"),
    )


def test_unknown_area_is_404(client, assessment, appraiser):
    client.force_login(appraiser)
    assert (
        client.post(reverse("scoring:appraisal_accept", args=[assessment.pk]), {"area": "9"}).status_code
        == 404
    )


# --- return for explanation ------------------------------------------------------------------------------


def _return_data(assessment, picks, message="Đề nghị giải trình"):
    data = {"message": message}
    for code, reason in picks.items():
        leaf = _leaf(assessment, code)
        data[f"pick_{leaf.pk}"] = "on"
        data[f"reason_{leaf.pk}"] = reason
    return data


def test_return_with_two_criteria_then_second_round(client, assessment, appraiser, officer):
    client.force_login(appraiser)
    url = reverse("scoring:assessment_return", args=[assessment.pk])
    page = client.get(url + "?criterion=1.2")
    assert page.status_code == 200
    assert (
        f'name="pick_{_leaf(assessment, "1.2").pk}" id="id_pick_{_leaf(assessment, "1.2").pk}" checked'
        in (page.content.decode())
    )
    response = client.post(
        url, _return_data(assessment, {"1.1": "Thiếu quyết định", "2.2": "Số liệu chưa khớp"})
    )
    assert response.status_code == 302 and response.url == _page(assessment)
    assessment.refresh_from_db()
    assert (assessment.status, assessment.explanation_round) == (AssessmentStatus.RETURNED, 1)
    assert {
        (s.criterion.code, s.explanation_request)
        for s in Score.objects.filter(assessment=assessment).exclude(explanation_request="")
    } == {("1.1", "Thiếu quyết định"), ("2.2", "Số liệu chưa khớp")}
    # While returned the page is read-only and says why.
    body = client.get(_page(assessment)).content.decode()
    assert "Chỉ được xem." in body and 'name="points"' not in body
    # The unit explains and resubmits: the appraiser sees round 1 with its answers, and can appraise.
    score_explain(assessment=assessment, code="1.1", explanation="Đã bổ sung Quyết định 12", actor=officer)
    assessment_submit(assessment=assessment, actor=officer)
    body = client.get(_page(assessment)).content.decode()
    assert "Vòng 1" in body and "Thiếu quyết định" in body and "Đã bổ sung Quyết định 12" in body
    assert "Số liệu chưa khớp" in body and 'name="points"' in body
    # Second round.
    response = client.post(url, _return_data(assessment, {"2.2": "Vẫn chưa khớp"}, "Giải trình lần 2"))
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.explanation_round == 2
    body = client.get(_page(assessment)).content.decode()
    assert "Vòng 2" in body and "Vẫn chưa khớp" in body and "Giải trình lần 2" in body


def test_return_refused_without_reason_or_message(client, assessment, appraiser):
    client.force_login(appraiser)
    url = reverse("scoring:assessment_return", args=[assessment.pk])
    response = client.post(url, _return_data(assessment, {"1.1": "Thiếu", "1.2": "  "}))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cần nêu lý do vì sao tiêu chí 1.2 phải giải trình." in body and 'value="Thiếu"' in body
    response = client.post(url, _return_data(assessment, {"1.1": "Thiếu"}, message=""))
    assert response.status_code == 200 and "Cần nêu nội dung yêu cầu giải trình." in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED
    assert not Score.objects.filter(assessment=assessment).exclude(explanation_request="").exists()


def test_return_of_a_draft_is_refused(client, draft, appraiser):
    client.force_login(appraiser)
    url = reverse("scoring:assessment_return", args=[draft.pk])
    response = client.post(url, _return_data(draft, {"1.1": "Thiếu"}))
    assert response.status_code == 200
    assert "Chỉ yêu cầu giải trình được với bản đã nộp." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == AssessmentStatus.DRAFT


# --- mark appraised ----------------------------------------------------------------------------------------


def test_mark_appraised(client, assessment, appraiser):
    client.force_login(appraiser)
    response = client.post(reverse("scoring:assessment_mark_appraised", args=[assessment.pk]), follow=True)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED and assessment.result.provisional is False
    assert "đã được xác nhận thẩm định" in response.content.decode()


def test_mark_appraised_refused_before_submission(client, draft, appraiser):
    client.force_login(appraiser)
    response = client.post(reverse("scoring:assessment_mark_appraised", args=[draft.pk]), follow=True)
    assert "Chỉ bản đã nộp mới được xác nhận đã thẩm định." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == AssessmentStatus.DRAFT


def test_draft_is_read_only(client, draft, appraiser):
    client.force_login(appraiser)
    body = client.get(_page(draft)).content.decode()
    assert "chưa nộp bản tự đánh giá" in body and 'name="points"' not in body
    assert _post_row(client, draft, "1.1", "10").status_code == 403
    assert client.post(reverse("scoring:appraisal_accept", args=[draft.pk])).status_code == 403
    assert not Score.objects.filter(assessment=draft, appraised_points__isnull=False).exists()


# --- published framework and deadline ------------------------------------------------------------------------


def _every_post(client, a):
    return [
        _post_row(client, a, "1.1", "10"),
        client.post(reverse("scoring:appraisal_accept", args=[a.pk]), {"area": ""}),
        client.post(reverse("scoring:assessment_return", args=[a.pk]), _return_data(a, {"1.1": "Thiếu"})),
        client.post(reverse("scoring:assessment_mark_appraised", args=[a.pk])),
    ]


def test_published_framework_refuses_every_change(client, assessment, appraiser):
    walk_and_publish(
        framework=assessment.framework, decision_number="4769/QĐ-UBND", decision_date=date(2024, 12, 21)
    )
    audit_count = AuditEntry.objects.count()
    client.force_login(appraiser)
    responses = _every_post(client, assessment)
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    locked = f"Bộ chỉ số {assessment.framework.code} đã được công bố (quyết định 4769/QĐ-UBND); không thể thay đổi nữa."
    assert locked in responses[0].content.decode()
    assert AuditEntry.objects.count() == audit_count
    assert not Score.objects.filter(assessment=assessment, appraised_points__isnull=False).exists()
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED  # excluded from the publication: its own state
    page = client.get(_page(assessment))
    assert page.status_code == 200
    body = page.content.decode()
    assert locked in body and 'name="points"' not in body


def test_after_the_appraisal_deadline_only_superusers_change(client, assessment, appraiser):
    framework = assessment.framework
    framework_set_deadlines(
        framework=framework,
        self_deadline=timezone.now() - timedelta(days=3),
        appraisal_deadline=timezone.now() - timedelta(hours=1),
    )
    client.force_login(appraiser)
    assert [r.status_code for r in _every_post(client, assessment)] == [403, 403, 403, 403]
    assert "Đã quá hạn thẩm định" in client.get(_page(assessment)).content.decode()
    assert not Score.objects.filter(assessment=assessment, appraised_points__isnull=False).exists()
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert _post_row(client, assessment, "1.1", "10").status_code == 200
    assert _score(assessment, "1.1").appraised_points == D("10")
    assert Framework.objects.get(pk=framework.pk).appraisal_deadline < timezone.now()


# --- the page's query count does not grow with the framework --------------------------------------------------


def _sized_assessment(district, commune, officer, leaves, code):
    half = leaves // 2
    spec = [("1", half)] + [(f"1.{i}", 1) for i in range(1, half + 1)]
    spec += [("2", leaves - half)] + [(f"2.{i}", 1) for i in range(1, leaves - half + 1)]
    framework = make_framework(district, rows=rows_from_spec(spec), code=code, year=2020 + leaves % 7)
    a = assessment_get_or_create(unit=commune, framework=framework)
    codes = [c for c, *_ in spec if "." in c]
    _fill(a, officer, {c: D("1") for c in codes})
    for c in codes[:: max(1, len(codes) // 5)]:
        evidence_add(assessment=a, code=c, document_number=f"{c}/QĐ", actor=officer)
    assessment_submit(assessment=a, actor=officer)
    from scoring.assessments.services import assessment_return

    assessment_return(assessment=a, message="Giải trình", criteria={codes[0]: "Thiếu"}, actor=officer)
    score_explain(assessment=a, code=codes[0], explanation="Đã bổ sung", actor=officer)
    assessment_submit(assessment=a, actor=officer)
    return a


def test_page_query_count_does_not_grow_with_rows(client, district, commune, officer, appraiser):
    small = _sized_assessment(district, commune, officer, 10, "Q10")
    large = _sized_assessment(district, commune, officer, 40, "Q40")
    client.force_login(appraiser)
    counts = []
    for a in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(_page(a))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts
