"""E-mails of the workflow (scoring.assessments.notifications): each service queues its event with
transaction.on_commit → Celery (eager in tests) → locmem outbox; deadline reminders are sent once."""

from datetime import date, timedelta
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from scoring.assessments import notifications
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_extend_deadline,
    assessment_get_or_create,
    assessment_mark_appraised,
    assessment_return,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.frameworks.services import framework_advance_to
from scoring.models import AssessmentStatus, DeadlineReminder, Framework, FrameworkStatus
from tests.publishing import walk_and_publish
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30, "score", "survey"), ("2.1", 30, "score", "survey")]
PROOF = "QĐ số 12/QĐ-UBND, tr.3"


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def assessment(framework, commune, officer, other_officer, appraiser, leader):
    """X1's assessment, with every persona (and so every possible recipient) in place."""
    return assessment_get_or_create(unit=commune, framework=framework)


@pytest.fixture
def other_assessment(framework, other_commune):
    return assessment_get_or_create(unit=other_commune, framework=framework)


def fill(assessment, actor):
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("30"), evidence_reference=PROOF),
            "1.2": SelfEntry(D("40"), evidence_reference=PROOF),
        },
        actor=actor,
    )


def submitted(assessment, actor, capture):
    fill(assessment, actor)
    with capture(execute=True):
        assessment_submit(assessment=assessment, actor=actor)
    return assessment


def only_message():
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    return mail.outbox[0]


def recipients() -> list[str]:
    """Everyone mailed, from one message each: nobody sees another recipient's address."""
    assert all(len(m.to) == 1 and not m.cc for m in mail.outbox), [m.to for m in mail.outbox]
    assert len({(m.subject, m.body) for m in mail.outbox}) <= 1, "one event, one text"
    return sorted(m.to[0] for m in mail.outbox)


def set_deadlines(framework, self_deadline=None, appraisal_deadline=None):
    Framework.objects.filter(pk=framework.pk).update(
        self_deadline=self_deadline, appraisal_deadline=appraisal_deadline
    )
    framework.refresh_from_db()


# --- workflow events ---------------------------------------------------------------------------------


def test_submit_mails_the_appraisers_over_the_unit(assessment, officer, django_capture_on_commit_callbacks):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    message = only_message()
    assert message.to == ["appraiser@example.test"]
    assert message.subject == "[ParIndex] Xã Một đã nộp kết quả tự đánh giá"
    assert f"http://127.0.0.1:8000/assessments/{assessment.pk}/appraisal/" in message.body


def test_no_mail_before_the_transaction_commits(assessment, officer, django_capture_on_commit_callbacks):
    fill(assessment, officer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assessment_submit(assessment=assessment, actor=officer)
    assert len(callbacks) == 1 and mail.outbox == []


def test_mail_has_vietnamese_then_english(assessment, officer, django_capture_on_commit_callbacks):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    vietnamese, english = only_message().body.split("\n\n— English —\n\n")
    assert "Xã Một đã nộp kết quả tự đánh giá theo Bộ chỉ số 2024." in vietnamese
    assert "Thẩm định tại:" in vietnamese
    assert "Xã Một submitted its self-assessment for Bộ chỉ số 2024." in english
    assert "Appraise it:" in english


def test_return_mails_the_unit_officers_with_the_criteria(
    assessment, officer, appraiser, django_capture_on_commit_callbacks
):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assessment_return(
            assessment=assessment,
            message="Bổ sung tài liệu",
            actor=appraiser,
            criteria={"1.2": "Thiếu quyết định", "1.1": "Chưa rõ số liệu"},
        )
    message = only_message()
    assert message.to == ["officer_x1@example.test"]  # not the other commune's officer
    assert message.subject == "[ParIndex] Đề nghị giải trình kết quả tự đánh giá Bộ chỉ số 2024"
    assert "Các tiêu chí: 1.1, 1.2" in message.body and "Criteria: 1.1, 1.2" in message.body
    assert "Nội dung: Bổ sung tài liệu" in message.body
    # The office is named from the district's data, in both languages.
    assert "Phòng Nội vụ huyện Thử đề nghị Xã Một giải trình" in message.body
    assert "Phòng Nội vụ huyện Thử asks Xã Một to explain" in message.body
    assert f"/assessments/{assessment.pk}/" in message.body


def test_second_return_lists_only_the_new_rounds_criteria(
    assessment, officer, appraiser, django_capture_on_commit_callbacks
):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    assessment_return(assessment=assessment, message="Vòng 1", criteria={"1.1": "Vì sao?"}, actor=appraiser)
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assessment_return(assessment=assessment, message="Vòng 2", criteria={"1.2": "Thiếu"}, actor=appraiser)
    assert "Criteria: 1.2\n" in only_message().body


def test_appraised_mails_the_unit_officers(
    assessment, officer, appraiser, django_capture_on_commit_callbacks
):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        scores_apply_appraisal(
            assessment=assessment,
            actor=appraiser,
            entries={"1.1": AppraisalEntry(D("30")), "1.2": AppraisalEntry(D("35"), "Thiếu")},
        )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED
    message = only_message()
    assert message.to == ["officer_x1@example.test"]
    assert message.subject == "[ParIndex] Đã hoàn thành thẩm định Bộ chỉ số 2024"
    assert "Phòng Nội vụ huyện Thử đã hoàn thành thẩm định kết quả tự đánh giá của Xã Một" in message.body
    assert "Phòng Nội vụ huyện Thử has finished the appraisal of Xã Một for Bộ chỉ số 2024." in message.body


def test_mark_appraised_twice_mails_once(assessment, officer, appraiser, django_capture_on_commit_callbacks):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assessment_mark_appraised(assessment=assessment, actor=appraiser)
    with django_capture_on_commit_callbacks(execute=True):
        assessment_mark_appraised(assessment=assessment, actor=appraiser)
    assert only_message().to == ["officer_x1@example.test"]


def test_publication_mails_officers_of_assessed_units_and_leaders(
    assessment, other_assessment, appraiser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        walk_and_publish(
            framework=assessment.framework,
            decision_number="4769/QĐ-UBND",
            decision_date=date(2024, 12, 21),
            actor=appraiser,
        )
    assert recipients() == ["leader@example.test", "officer_x1@example.test", "officer_x2@example.test"]
    message = mail.outbox[0]
    assert message.subject == "[ParIndex] Đã công bố kết quả Bộ chỉ số 2024"
    assert "Quyết định số 4769/QĐ-UBND ngày 21/12/2024" in message.body
    assert "decision 4769/QĐ-UBND of 21/12/2024" in message.body
    assert "Phòng Nội vụ huyện Thử đã công bố kết quả Bộ chỉ số 2024" in message.body


def test_a_province_run_framework_names_the_provinces_office(province, django_capture_on_commit_callbacks):
    """Since 2025 the province assesses its communes: its mails say "Sở Nội vụ tỉnh …"."""
    from .factories import make_unit

    ward = make_unit("P9", parent=province, name="Phường Chín")
    officer = make_member(ward, Role.OFFICER, "officer_p9")
    appraiser = make_member(province, Role.APPRAISER, "appraiser_t")
    framework = make_framework(province, rows=rows_from_spec(TREE), year=2025)
    assessment = submitted(
        assessment_get_or_create(unit=ward, framework=framework), officer, django_capture_on_commit_callbacks
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assessment_return(
            assessment=assessment, message="Bổ sung", actor=appraiser, criteria={"1.1": "Thiếu"}
        )
    body = only_message().body
    assert "Sở Nội vụ tỉnh Thử đề nghị Phường Chín giải trình" in body
    assert "Sở Nội vụ tỉnh Thử asks Phường Chín to explain" in body
    assert "Phòng Nội vụ" not in body


def test_officers_of_unassessed_units_get_no_publication_mail(assessment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        walk_and_publish(
            framework=assessment.framework, decision_number="1/QĐ", decision_date=date(2024, 12, 1)
        )
    assert recipients() == ["leader@example.test", "officer_x1@example.test"]


def test_each_appraiser_gets_a_message_of_their_own(
    assessment, officer, district, django_capture_on_commit_callbacks
):
    make_member(district, Role.APPRAISER, "second_appraiser")
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    assert recipients() == ["appraiser@example.test", "second_appraiser@example.test"]


def test_inactive_users_and_users_without_address_get_nothing(
    assessment, officer, district, django_capture_on_commit_callbacks
):
    quiet = make_member(district, Role.APPRAISER, "quiet")
    quiet.email = ""
    quiet.save()
    gone = make_member(district, Role.APPRAISER, "gone")
    gone.is_active = False
    gone.save()
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    assert only_message().to == ["appraiser@example.test"]


def test_a_stale_event_sends_nothing(assessment, officer, appraiser, django_capture_on_commit_callbacks):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    assessment_return(assessment=assessment, message="Giải trình", actor=appraiser)
    mail.outbox.clear()
    # The submit event of a worker that was late: the assessment is returned by now.
    assert notifications.send_event("assessment_submitted", assessment.pk) == 0
    assert notifications.send_event("assessment_appraised", assessment.pk) == 0
    assert notifications.send_event("framework_published", assessment.framework_id) == 0
    assert notifications.send_event("assessment_submitted", 10**9) == 0
    assert mail.outbox == []


# --- deadline reminders ------------------------------------------------------------------------------


def test_self_reminder_two_days_ahead_is_sent_once(assessment, framework):
    set_deadlines(framework, timezone.now() + timedelta(days=2))
    assert notifications.send_deadline_reminders() == 1
    message = only_message()
    assert message.to == ["officer_x1@example.test"]
    assert message.subject.startswith("[ParIndex] Hạn tự đánh giá: ")
    assert "has not been submitted to Phòng Nội vụ huyện Thử" in message.body
    assert "đơn vị chưa nộp cho Phòng Nội vụ huyện Thử" in message.body
    assert DeadlineReminder.objects.filter(assessment=assessment, phase="self").count() == 1
    assert notifications.send_deadline_reminders() == 0
    assert len(mail.outbox) == 1


def test_a_moved_deadline_is_reminded_again(assessment, framework):
    set_deadlines(framework, timezone.now() + timedelta(days=2))
    assert notifications.send_deadline_reminders() == 1
    set_deadlines(framework, timezone.now() + timedelta(days=2, hours=12))
    assert notifications.send_deadline_reminders() == 1


@pytest.mark.parametrize(
    "ahead", [timedelta(days=5), timedelta(days=3, hours=1), timedelta(hours=-1), -timedelta(days=2)]
)
def test_no_self_reminder_too_early_or_after_the_deadline(assessment, framework, ahead):
    set_deadlines(framework, timezone.now() + ahead)
    assert notifications.send_deadline_reminders() == 0
    assert mail.outbox == [] and not DeadlineReminder.objects.exists()


def test_no_reminder_without_deadlines(assessment):
    assert notifications.send_deadline_reminders() == 0


def test_an_extended_unit_is_reminded_of_its_extension(assessment, other_assessment, framework, appraiser):
    now = timezone.now()
    set_deadlines(framework, now + timedelta(days=2))
    assessment_extend_deadline(
        assessment=assessment, until=now + timedelta(days=10), reason="Thiên tai", actor=appraiser
    )
    assert notifications.send_deadline_reminders() == 1
    assert only_message().to == ["officer_x2@example.test"]  # X1 has eight more days
    mail.outbox.clear()
    # Later: the framework deadline is past, X1's extension ends in two days.
    assert notifications.send_deadline_reminders(now=now + timedelta(days=8)) == 1
    message = only_message()
    assert message.to == ["officer_x1@example.test"]
    extended = timezone.localtime(now + timedelta(days=10)).strftime("%H:%M %d/%m/%Y")
    assert extended in message.subject


def test_submitted_units_get_no_self_reminder(
    assessment, other_assessment, framework, officer, django_capture_on_commit_callbacks
):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    set_deadlines(framework, timezone.now() + timedelta(days=2))
    assert notifications.send_deadline_reminders() == 1
    assert only_message().to == ["officer_x2@example.test"]


def test_returned_units_are_reminded(
    assessment, framework, officer, appraiser, django_capture_on_commit_callbacks
):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    assessment_return(assessment=assessment, message="Giải trình", actor=appraiser)
    mail.outbox.clear()
    set_deadlines(framework, timezone.now() + timedelta(days=2))
    assert notifications.send_deadline_reminders() == 1
    assert only_message().to == ["officer_x1@example.test"]


def test_appraisal_reminder_goes_to_the_appraisers(
    assessment, other_assessment, framework, officer, django_capture_on_commit_callbacks
):
    submitted(assessment, officer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    now = timezone.now()
    set_deadlines(framework, now - timedelta(days=1), now + timedelta(days=2))
    assert notifications.send_deadline_reminders() == 1  # X2 is unsubmitted but its deadline has passed
    message = only_message()
    assert message.to == ["appraiser@example.test"]
    assert message.subject.startswith("[ParIndex] Hạn thẩm định: ")
    assert f"/assessments/{assessment.pk}/appraisal/" in message.body
    assert DeadlineReminder.objects.get().phase == "appraisal"
    assert notifications.send_deadline_reminders() == 0


def test_no_reminders_for_a_published_framework(assessment, framework):
    framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL)
    set_deadlines(framework, timezone.now() + timedelta(days=2))
    walk_and_publish(framework=framework, decision_number="1/QĐ", decision_date=date(2024, 12, 1))
    mail.outbox.clear()
    assert notifications.send_deadline_reminders() == 0


def test_a_failed_send_is_retried_next_run(assessment, framework, monkeypatch):
    set_deadlines(framework, timezone.now() + timedelta(days=2))

    def broken(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(notifications, "send_mass_mail", broken)
    with pytest.raises(OSError):
        notifications.send_deadline_reminders()
    assert not DeadlineReminder.objects.exists()
    monkeypatch.undo()
    assert notifications.send_deadline_reminders() == 1


def test_the_celery_task_sends_the_reminders(assessment, framework):
    from scoring.tasks import send_deadline_reminders

    set_deadlines(framework, timezone.now() + timedelta(days=2))
    assert send_deadline_reminders.delay().get() == 1


def test_the_command_prints_the_count(assessment, other_assessment, framework):
    set_deadlines(framework, timezone.now() + timedelta(days=2))
    out = StringIO()
    call_command("send_deadline_reminders", stdout=out)
    assert "Sent 2 deadline reminder(s)." in out.getvalue() and "Đã gửi 2 thư nhắc hạn." in out.getvalue()
    assert sorted(m.to[0] for m in mail.outbox) == ["officer_x1@example.test", "officer_x2@example.test"]
    out = StringIO()
    call_command("send_deadline_reminders", stdout=out)
    assert "Sent 0 deadline reminder(s)." in out.getvalue()
