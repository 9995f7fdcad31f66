"""Preliminary results and appeals (DESIGN §2.3, issue 13 item 2): a unit's officer lodges an appeal
per leaf while the framework is in its preliminary phase and before the appeal deadline; an appraiser
accepts it (new appraised points through the appraisal service, results recomputed) or refuses it;
outside appeals the appraisal is closed in these phases; e-mails and pages follow."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from scoring.appeals.selectors import appeals_open_count, assessment_appeals, framework_appeals
from scoring.appeals.services import appeal_answer, appeal_lodge
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    not_applicable_decide,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.frameworks.services import notify
from scoring.models import (
    Appeal,
    AppealStatus,
    AssessmentResult,
    AssessmentStatus,
    Framework,
    FrameworkStatus,
    Score,
)
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

TREE = [
    ("1", 30),
    ("1.1", 10),
    ("1.2", 20),
    ("2", 40),
    ("2.1", 15),
    ("2.2", 25, "score", "self", "percent"),
    ("3", 30, "score", "survey"),
    ("3.1", 30, "score", "survey"),
]
HTMX = {"HTTP_HX_REQUEST": "true"}
PROOF = "QĐ số 12/QĐ-UBND, tr.3"


def _appraised(framework, unit, officer, appraiser, self_points, appraised):
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(self_points[0], evidence_reference=PROOF),
            "1.2": SelfEntry(self_points[1], evidence_reference=PROOF),
            "2.1": SelfEntry(self_points[2], evidence_reference=PROOF),
            "2.2": SelfEntry(None, raw="80", evidence_reference=PROOF),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            "1.1": AppraisalEntry(appraised[0], "Thiếu tài liệu" if appraised[0] != self_points[0] else ""),
            "1.2": AppraisalEntry(appraised[1], "Thiếu tài liệu" if appraised[1] != self_points[1] else ""),
            "2.1": AppraisalEntry(appraised[2], "Thiếu tài liệu" if appraised[2] != self_points[2] else ""),
            "2.2": AppraisalEntry(None, raw="80"),
        },
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    return assessment


def set_phase(framework, status, deadline=timedelta(days=5)):
    """The phases steps are built apart: the tests put the framework in its phase directly."""
    Framework.objects.filter(pk=framework.pk).update(
        status=status, appeal_deadline=None if deadline is None else timezone.now() + deadline
    )
    framework.refresh_from_db()
    return framework


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def x1(framework, commune, officer, appraiser):
    return _appraised(framework, commune, officer, appraiser, (D(10), D(20), D(15)), (D(8), D(20), D(10)))


@pytest.fixture
def x2(framework, other_commune, other_officer, appraiser):
    return _appraised(
        framework, other_commune, other_officer, appraiser, (D(9), D(18), D(14)), (D(9), D(18), D(14))
    )


@pytest.fixture
def preliminary(framework, x1, x2):
    survey_apply(framework=framework, entries={"X1": {"3.1": D(20)}, "X2": {"3.1": D(20)}})
    return set_phase(framework, FrameworkStatus.PRELIMINARY)


def lodge(assessment, actor, code="1.1", text="Đơn vị đã có Quyết định số 12", **extra):
    return appeal_lodge(assessment=assessment, code=code, text=text, actor=actor, **extra)


def refusal(call) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


def result(assessment) -> AssessmentResult:
    return AssessmentResult.objects.get(assessment=assessment)


def points_of(assessment, code):
    return Score.objects.get(assessment=assessment, criterion__code=code).appraised_points


# --- lodging ------------------------------------------------------------------------------------------


def test_officer_lodges_an_appeal_with_evidence_audited(preliminary, x1, officer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    appeal = lodge(
        x1,
        officer,
        evidence_reference="QĐ 12/QĐ-UBND ngày 01/03/2024, tr.2",
        upload=SimpleUploadedFile("quyet-dinh.pdf", b"%PDF-1.4"),
    )
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.LODGED and appeal.framework == preliminary
    assert appeal.criterion.code == "1.1" and appeal.old_points == D(8)  # the appraised points appealed
    assert appeal.lodged_by == officer and appeal.evidence_filename == "quyet-dinh.pdf"
    assert appeal.evidence_reference.startswith("QĐ 12/QĐ-UBND")
    entry = AuditEntry.objects.get(action="appeal_lodge")
    assert (entry.assessment_id, entry.criterion_code, entry.new_value) == (x1.pk, "1.1", "lodged")
    assert entry.reason == "Đơn vị đã có Quyết định số 12" and entry.actor == officer
    assert appeals_open_count(preliminary) == 1
    assert list(assessment_appeals(x1)) == [appeal]


@pytest.mark.parametrize(
    "status",
    [FrameworkStatus.OPEN, FrameworkStatus.APPRAISAL, FrameworkStatus.APPEALS, FrameworkStatus.FINAL],
)
def test_appeals_are_lodged_only_in_the_preliminary_phase(preliminary, x1, officer, status):
    set_phase(preliminary, status)
    error = refusal(lambda: lodge(x1, officer))
    assert error.error_code == ErrorCode.WORKFLOW
    assert "lodge an appeal" in error.text("en")
    assert not Appeal.objects.exists()


def test_no_appeal_after_the_deadline(preliminary, x1, officer):
    set_phase(preliminary, FrameworkStatus.PRELIMINARY, deadline=-timedelta(minutes=1))
    error = refusal(lambda: lodge(x1, officer))
    assert error.field == "appeal_deadline"
    assert "has passed" in error.text("en") and "đã hết hạn" in error.text("vi")
    assert not Appeal.objects.exists()


def test_only_the_units_own_officers_lodge(preliminary, x1, other_officer, appraiser, leader):
    for actor in (other_officer, appraiser, leader):
        error = refusal(lambda actor=actor: lodge(x1, actor))
        assert error.error_code == ErrorCode.FORBIDDEN
    assert not Appeal.objects.exists()


@pytest.mark.parametrize(
    "code, word",
    [("1", "sub-criteria"), ("3.1", "survey"), ("9.9", "not in framework")],
)
def test_appeals_are_on_appraised_leaves_only(preliminary, x1, officer, code, word):
    error = refusal(lambda: lodge(x1, officer, code=code))
    assert word in error.text("en") and error.criterion == code
    assert not Appeal.objects.exists()


def test_one_open_appeal_per_criterion(preliminary, x1, officer, appraiser):
    first = lodge(x1, officer)
    error = refusal(lambda: lodge(x1, officer, text="Lần hai"))
    assert error.error_code == ErrorCode.CONFLICT
    lodge(x1, officer, code="1.2")  # another criterion is fine
    appeal_answer(appeal=first, decision="refuse", reason="Tài liệu không đúng năm", actor=appraiser)
    lodge(x1, officer, text="Bổ sung tài liệu mới")  # once answered, a new appeal may be lodged
    assert Appeal.objects.filter(criterion__code="1.1").count() == 2


def test_bad_input_is_refused_in_both_languages_and_nothing_is_saved(preliminary, x1, officer):
    error = refusal(lambda: lodge(x1, officer, text="   ", upload=SimpleUploadedFile("virus.exe", b"MZ")))
    texts = {(e.field, e.text("vi"), e.text("en")) for e in error.all()}
    assert (
        "text",
        "Hãy nêu nội dung kiến nghị và lý do.",
        "Say what the unit appeals against and why.",
    ) in texts
    assert any(field == "file" for field, _vi, _en in texts)
    assert not Appeal.objects.exists()
    assert not AuditEntry.objects.filter(action="appeal_lodge").exists()


def test_an_assessment_not_appraised_has_no_appeal(framework, commune, officer, x2):
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    set_phase(framework, FrameworkStatus.PRELIMINARY)
    error = refusal(lambda: lodge(assessment, officer))
    assert error.error_code == ErrorCode.WORKFLOW and error.field == "status"


# --- answers ----------------------------------------------------------------------------------------------


def test_accepted_appeal_changes_the_points_and_the_results(preliminary, x1, x2, officer, appraiser):
    before, other_before = result(x1), result(x2)
    assert before.points == D(8 + 20 + 10 + 20 + 20)  # 2.2: 80 % of 25 = 20; survey 20
    assert (before.rank, other_before.rank) == (2, 1)
    appeal = lodge(x1, officer, code="2.1")
    answered = appeal_answer(
        appeal=appeal,
        decision="accept",
        points=D("14,5".replace(",", ".")),
        reason="Đã có kết quả kiểm tra",
        actor=appraiser,
    )
    assert answered.status == AppealStatus.ACCEPTED and answered.new_points == D("14.5")
    assert answered.answered_by == appraiser and answered.answer == "Đã có kết quả kiểm tra"
    assert points_of(x1, "2.1") == D("14.5")
    assert (
        Score.objects.get(assessment=x1, criterion__code="2.1").appraisal_reason == "Đã có kết quả kiểm tra"
    )
    after = result(x1)
    assert after.points == before.points + D("4.5")
    assert after.index > before.index
    # The change is in the score's history as an appeal's, with its reason, and the answer is audited.
    change = AuditEntry.objects.get(action="appeal_accept", field="appraised_points")
    assert (change.old_value, change.new_value, change.reason) == ("10.00", "14.5", "Đã có kết quả kiểm tra")
    answer = AuditEntry.objects.get(action="appeal_answer")
    assert (answer.old_value, answer.new_value, answer.actor) == ("lodged", "accepted", appraiser)
    assert appeals_open_count(preliminary) == 0


def test_accepted_appeal_on_a_raw_figure_leaf_follows_its_rule(preliminary, x1, officer, appraiser):
    appeal = lodge(x1, officer, code="2.2", text="Tỷ lệ thực tế là 96%")
    appeal_answer(appeal=appeal, decision="accept", raw="96", reason="Số liệu đúng", actor=appraiser)
    score = Score.objects.get(assessment=x1, criterion__code="2.2")
    assert (score.appraised_raw, score.appraised_points) == ("96", D(24))


@pytest.mark.parametrize(
    "answer, field",
    [
        ({"decision": "accept", "points": D(11), "reason": "Quá điểm"}, "appraised_points"),
        ({"decision": "accept", "points": None, "reason": "Không có điểm"}, "appraised_points"),
        ({"decision": "accept", "points": D(8), "reason": "Như cũ"}, "appraised_points"),
        ({"decision": "accept", "points": D(9), "reason": " "}, "answer"),
        ({"decision": "refuse", "reason": ""}, "answer"),
        ({"decision": "maybe", "reason": "?"}, "decision"),
    ],
)
def test_answers_that_are_refused_change_nothing(preliminary, x1, officer, appraiser, answer, field):
    appeal = lodge(x1, officer)
    error = refusal(lambda: appeal_answer(appeal=appeal, actor=appraiser, **answer))
    assert field in {e.field for e in error.all()}
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.LODGED and points_of(x1, "1.1") == D(8)
    assert not AuditEntry.objects.filter(action__in=("appeal_answer", "appeal_accept")).exists()


def test_refused_appeal_leaves_the_results(preliminary, x1, officer, appraiser):
    before = result(x1)
    appeal = lodge(x1, officer)
    answered = appeal_answer(
        appeal=appeal, decision="refuse", reason="Tài liệu ban hành năm 2025", actor=appraiser
    )
    assert answered.status == AppealStatus.REFUSED and answered.new_points is None
    assert points_of(x1, "1.1") == D(8)
    assert result(x1).points == before.points and result(x1).rank == before.rank
    assert AuditEntry.objects.get(action="appeal_answer").new_value == "refused"
    error = refusal(
        lambda: appeal_answer(appeal=appeal, decision="accept", points=D(10), reason="x", actor=appraiser)
    )
    assert error.error_code == ErrorCode.CONFLICT  # answered once


def test_appeals_are_answered_in_the_appeals_phase_not_after(preliminary, x1, officer, appraiser):
    appeal = lodge(x1, officer)
    set_phase(preliminary, FrameworkStatus.APPEALS)
    appeal_answer(appeal=appeal, decision="accept", points=D(10), reason="Đủ tài liệu", actor=appraiser)
    assert points_of(x1, "1.1") == D(10)
    second = Appeal.objects.create(
        framework=preliminary, assessment=x1, criterion=appeal.criterion, text="x", lodged_by=officer
    )
    set_phase(preliminary, FrameworkStatus.FINAL)
    error = refusal(
        lambda: appeal_answer(appeal=second, decision="refuse", reason="Hết hạn", actor=appraiser)
    )
    assert error.error_code == ErrorCode.WORKFLOW


def test_only_appraisers_over_the_unit_answer(preliminary, x1, officer, leader, province):
    other_district = make_unit("H2", kind=UnitKind.DISTRICT, parent=province, name="Huyện Khác")
    stranger = make_member(other_district, Role.APPRAISER, "appraiser_h2")
    appeal = lodge(x1, officer)
    for actor in (officer, leader, stranger):
        error = refusal(
            lambda actor=actor: appeal_answer(appeal=appeal, decision="refuse", reason="x", actor=actor)
        )
        assert error.error_code == ErrorCode.FORBIDDEN
    assert Appeal.objects.get().status == AppealStatus.LODGED


@pytest.mark.parametrize("status", [FrameworkStatus.PRELIMINARY, FrameworkStatus.APPEALS])
def test_appraisal_outside_appeals_is_closed_in_these_phases(preliminary, x1, appraiser, client, status):
    set_phase(preliminary, status)
    error = refusal(
        lambda: scores_apply_appraisal(
            assessment=x1, entries={"1.1": AppraisalEntry(D(10), "Sửa")}, actor=appraiser
        )
    )
    assert error.error_code == ErrorCode.WORKFLOW and "appraise scores" in error.text("en")
    error = refusal(
        lambda: not_applicable_decide(
            assessment=x1, code="1.2", decision="impose", reason="x", actor=appraiser
        )
    )
    assert error.error_code == ErrorCode.WORKFLOW
    # The appraisal page's row refuses it too (the service's words), and nothing changes.
    client.force_login(appraiser)
    leaf = preliminary.criteria.get(code="1.1")
    response = client.post(
        reverse("scoring:appraisal_row_save", args=[x1.pk, leaf.pk]),
        {"points": "10", "reason": "Sửa"},
        **HTMX,
    )
    assert preliminary.code in response.content.decode() and points_of(x1, "1.1") == D(8)


# --- e-mails --------------------------------------------------------------------------------------------


def test_preliminary_results_mail_every_units_officers_with_their_page(
    preliminary, x1, x2, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notify("preliminary_results", preliminary.pk)
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_recipient) == ["officer_x1@example.test", "officer_x2@example.test"]
    message = by_recipient["officer_x1@example.test"]
    assert message.subject == f"[ParIndex] Kết quả sơ bộ {preliminary.name}"
    assert f"http://127.0.0.1:8000/assessments/{x1.pk}/preliminary/" in message.body
    assert f"/assessments/{x2.pk}/" not in message.body
    deadline = timezone.localtime(preliminary.appeal_deadline).strftime("%H:%M %d/%m/%Y")
    vietnamese, english = message.body.split("\n\n— English —\n\n")
    assert "Phòng Nội vụ huyện Thử thông báo kết quả sơ bộ" in vietnamese and deadline in vietnamese
    assert "Xã Một: 78 / 100 điểm" in vietnamese
    assert "may lodge an appeal" in english and deadline in english
    assert f"/assessments/{x2.pk}/preliminary/" in by_recipient["officer_x2@example.test"].body
    # The same people are told in the app (the bell), each with their own unit's page.
    from parindex.notices.models import Notification

    in_app = {n.user.email: n for n in Notification.objects.select_related("user")}
    assert sorted(in_app) == ["officer_x1@example.test", "officer_x2@example.test"]
    assert in_app["officer_x1@example.test"].link == f"/assessments/{x1.pk}/preliminary/"
    assert in_app["officer_x1@example.test"].title == f"Kết quả sơ bộ {preliminary.name}"


def test_preliminary_results_mail_nothing_when_the_phase_moved_on(
    preliminary, django_capture_on_commit_callbacks
):
    set_phase(preliminary, FrameworkStatus.APPEALS)
    with django_capture_on_commit_callbacks(execute=True):
        notify("preliminary_results", preliminary.pk)
    assert mail.outbox == []


def test_appeal_mails_the_appraisers_then_the_answer_the_officers(
    preliminary, x1, officer, appraiser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appeal = lodge(x1, officer)
    assert [m.to for m in mail.outbox] == [["appraiser@example.test"]]
    assert mail.outbox[0].subject == "[ParIndex] Xã Một đã gửi kiến nghị về tiêu chí 1.1"
    assert f"/frameworks/{preliminary.code}/appeals/" in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        appeal_answer(appeal=appeal, decision="accept", points=D(10), reason="Đủ tài liệu", actor=appraiser)
    assert [m.to for m in mail.outbox] == [["officer_x1@example.test"]]
    body = mail.outbox[0].body
    assert "8 → 10" in body and "Đủ tài liệu" in body and f"/assessments/{x1.pk}/preliminary/" in body


def test_refused_appeal_mails_the_officers_with_the_reason(
    preliminary, x1, officer, appraiser, django_capture_on_commit_callbacks
):
    appeal = lodge(x1, officer)
    with django_capture_on_commit_callbacks(execute=True):
        appeal_answer(appeal=appeal, decision="refuse", reason="Tài liệu ban hành năm 2025", actor=appraiser)
    (message,) = mail.outbox
    assert message.to == ["officer_x1@example.test"]
    assert message.subject == "[ParIndex] Kiến nghị về tiêu chí 1.1 không được chấp nhận"
    assert "điểm giữ nguyên 8" in message.body and "the points stay 8" in message.body
    assert "Lý do: Tài liệu ban hành năm 2025" in message.body


# --- pages ------------------------------------------------------------------------------------------------


def _page(a):
    return reverse("scoring:assessment_preliminary", args=[a.pk])


def _lodge_url(a):
    return reverse("scoring:appeal_lodge", args=[a.pk])


def _list(framework):
    return reverse("scoring:framework_appeals", args=[framework.code])


def test_preliminary_page_who_sees_it(client, preliminary, x1, officer, other_officer, appraiser, leader):
    assert client.get(_page(x1)).status_code == 302  # anonymous: to the sign-in page
    for user, status in ((officer, 200), (appraiser, 200), (leader, 200), (other_officer, 404)):
        client.force_login(user)
        assert client.get(_page(x1)).status_code == status, user


def test_preliminary_page_shows_results_deadline_and_forms_to_the_officer(
    client, preliminary, x1, x2, officer, appraiser
):
    client.force_login(officer)
    html = client.get(_page(x1)).content.decode()
    assert "78 / 100" in html and "2/2" in html  # points and provisional place
    assert (
        preliminary.appeal_deadline
        and timezone.localtime(preliminary.appeal_deadline).strftime("%d/%m/%Y") in html
    )
    leaf = preliminary.criteria.get(code="1.1")
    assert f'id="appeal-form-{leaf.pk}"' in html
    assert f'id="appeal-form-{preliminary.criteria.get(code="3.1").pk}"' not in html  # survey: no appeal
    client.force_login(appraiser)
    assert "appeal-form-" not in client.get(_page(x1)).content.decode()  # appraisers read, officers lodge


def test_officer_lodges_through_the_page(client, preliminary, x1, officer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(officer)
    leaf = preliminary.criteria.get(code="1.1")
    response = client.post(
        _lodge_url(x1),
        {
            "code": "1.1",
            "text": "Có Quyết định 12",
            "evidence_reference": PROOF,
            "evidence_file": SimpleUploadedFile("qd.pdf", b"%PDF-1.4"),
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#c-1.1")
    appeal = Appeal.objects.get()
    assert appeal.text == "Có Quyết định 12" and appeal.evidence_reference == PROOF
    html = client.get(_page(x1)).content.decode()
    assert "Có Quyết định 12" in html and f'id="appeal-form-{leaf.pk}"' not in html  # one open appeal
    download = client.get(reverse("scoring:appeal_evidence", args=[appeal.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4"


def test_lodging_through_the_page_refused(client, preliminary, x1, officer, other_officer, appraiser):
    leaf = preliminary.criteria.get(code="1.1")
    data = {"code": "1.1", "text": "Kiến nghị"}
    client.force_login(other_officer)
    assert client.post(_lodge_url(x1), data).status_code == 404
    client.force_login(appraiser)
    assert client.post(_lodge_url(x1), data).status_code == 403
    client.force_login(officer)
    assert client.get(_lodge_url(x1)).status_code == 405
    response = client.post(_lodge_url(x1), {"code": "1.1", "text": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Hãy nêu nội dung kiến nghị và lý do." in html and f'id="appeal-form-{leaf.pk}"' in html
    response = client.post(_lodge_url(x1), {"code": "9.9", "text": "x"})
    assert response.status_code == 400 and "Tiêu chí 9.9 không" in response.content.decode()
    set_phase(preliminary, FrameworkStatus.PRELIMINARY, deadline=-timedelta(hours=1))
    response = client.post(_lodge_url(x1), data)
    assert response.status_code == 400 and "đã hết hạn" in response.content.decode()
    assert not Appeal.objects.exists()


def test_appeals_list_who_sees_it(client, preliminary, x1, officer, appraiser, leader, province):
    lodge(x1, officer)
    stranger = make_member(make_unit("H2", kind=UnitKind.DISTRICT, parent=province), Role.APPRAISER, "h2")
    for user, status in ((appraiser, 200), (leader, 200), (officer, 403), (stranger, 404)):
        client.force_login(user)
        assert client.get(_list(preliminary)).status_code == status, user
    client.force_login(leader)
    assert "answer-" not in client.get(_list(preliminary)).content.decode()  # leaders read
    client.force_login(appraiser)
    html = client.get(_list(preliminary)).content.decode()
    assert "Đơn vị đã có Quyết định số 12" in html and 'id="answer-' in html


def test_appraiser_answers_in_the_list_with_htmx(client, preliminary, x1, officer, appraiser):
    first = lodge(x1, officer)
    second = lodge(x1, officer, code="1.2", text="Đề nghị xem lại")
    client.force_login(appraiser)
    url = reverse("scoring:appeal_answer", args=[first.pk])
    response = client.post(url, {"decision": "accept", "points": "9,5", "reason": ""}, **HTMX)
    assert (
        response.status_code == 200
        and "Hãy nêu lý do trả lời kiến nghị về tiêu chí 1.1." in response.content.decode()
    )
    response = client.post(url, {"decision": "accept", "points": "9,5", "reason": "Đủ căn cứ"}, **HTMX)
    assert response.status_code == 200 and "9,5" in response.content.decode()
    assert points_of(x1, "1.1") == D("9.5")
    response = client.post(
        reverse("scoring:appeal_answer", args=[second.pk]),
        {"decision": "refuse", "reason": "Không có căn cứ"},
    )
    assert response.status_code == 302
    assert {a.status for a in framework_appeals(preliminary, "answered")} == {"accepted", "refused"}


def test_answering_through_the_page_refused(client, preliminary, x1, officer, other_officer, leader):
    appeal = lodge(x1, officer)
    url = reverse("scoring:appeal_answer", args=[appeal.pk])
    data = {"decision": "refuse", "reason": "x"}
    for user, status in ((officer, 403), (leader, 403), (other_officer, 404)):
        client.force_login(user)
        assert client.post(url, data).status_code == status, user
    assert Appeal.objects.get().status == AppealStatus.LODGED


def test_unit_page_banner_and_board_link(client, preliminary, x1, officer, appraiser):
    client.force_login(officer)
    html = client.get(reverse("scoring:assessment_self", args=[x1.pk])).content.decode()
    assert 'id="preliminary-banner"' in html and _page(x1) in html
    assert timezone.localtime(preliminary.appeal_deadline).strftime("%d/%m/%Y %H:%M") in html
    lodge(x1, officer)
    client.force_login(appraiser)
    html = client.get(reverse("scoring:framework_board", args=[preliminary.code])).content.decode()
    assert f'href="{_list(preliminary)}"' in html and "Kiến nghị (1)" in html
    set_phase(preliminary, FrameworkStatus.APPRAISAL)
    client.force_login(officer)
    html = client.get(reverse("scoring:assessment_self", args=[x1.pk])).content.decode()
    assert 'id="preliminary-banner"' not in html


def test_pages_read_a_fixed_number_of_queries(client, preliminary, x1, x2, officer, other_officer, appraiser):
    """The appeals list and the unit's page do not query per appeal."""
    lodge(x1, officer)

    def count(user, url) -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    list_one, page_one = count(appraiser, _list(preliminary) + "?state=all"), count(officer, _page(x1))
    for code in ("1.2", "2.1", "2.2"):
        lodge(x1, officer, code=code)
        lodge(x2, other_officer, code=code)
    assert count(appraiser, _list(preliminary) + "?state=all") == list_one
    assert count(officer, _page(x1)) == page_one
