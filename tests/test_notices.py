"""In-app notifications (parindex.notices): written by the same code that mails a workflow event, to the
same people; the bell counts the unread ones in one query; each person sees and marks only their own."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from parindex.notices.models import Notification
from parindex.notices.services import notices_create
from scoring.assessments import notifications
from scoring.assessments.services import assessment_get_or_create, assessment_submit
from scoring.models import Framework
from tests.publishing import walk_and_publish
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec
from .test_notifications import TREE, fill


@pytest.fixture
def assessment(district, commune, officer, other_officer, appraiser, leader):
    framework = make_framework(district, rows=rows_from_spec(TREE))
    return assessment_get_or_create(unit=commune, framework=framework)


def mailed() -> list[str]:
    return sorted(m.to[0] for m in mail.outbox)


def noticed() -> list[str]:
    return sorted(Notification.objects.values_list("user__email", flat=True))


def test_a_submission_tells_the_same_appraisers_in_the_app_as_by_mail(
    assessment, officer, district, django_capture_on_commit_callbacks
):
    make_member(district, Role.APPRAISER, "second_appraiser")
    fill(assessment, officer)
    with django_capture_on_commit_callbacks(execute=True):
        assessment_submit(assessment=assessment, actor=officer)
    assert mailed() == ["appraiser@example.test", "second_appraiser@example.test"]
    assert noticed() == mailed()
    notice = Notification.objects.first()
    assert notice.event == "assessment_submitted"
    assert notice.title == "Xã Một đã nộp kết quả tự đánh giá"
    assert notice.title_en == "Xã Một submitted its self-assessment"
    assert notice.link == reverse("scoring:assessment_appraise", args=[assessment.pk])
    assert notice.read_at is None


def test_publication_tells_officers_and_leaders_in_the_app(
    assessment, appraiser, other_commune, django_capture_on_commit_callbacks
):
    assessment_get_or_create(unit=other_commune, framework=assessment.framework)
    with django_capture_on_commit_callbacks(execute=True):
        walk_and_publish(
            framework=assessment.framework,
            decision_number="4769/QĐ-UBND",
            decision_date=date(2024, 12, 21),
            actor=appraiser,
        )
    assert (
        noticed() == mailed() == ["leader@example.test", "officer_x1@example.test", "officer_x2@example.test"]
    )


def test_a_person_without_an_address_is_told_in_the_app_only(
    assessment, officer, district, django_capture_on_commit_callbacks
):
    quiet = make_member(district, Role.APPRAISER, "quiet")
    quiet.email = ""
    quiet.save()
    fill(assessment, officer)
    with django_capture_on_commit_callbacks(execute=True):
        assessment_submit(assessment=assessment, actor=officer)
    assert mailed() == ["appraiser@example.test"]
    assert sorted(Notification.objects.values_list("user__username", flat=True)) == ["appraiser", "quiet"]


def test_a_stale_event_writes_no_notice(assessment):
    assert notifications.send_event("assessment_submitted", assessment.pk) == 0  # still a draft
    assert not Notification.objects.exists()


def test_a_deadline_reminder_is_also_a_notice_once(assessment, officer):
    Framework.objects.filter(pk=assessment.framework_id).update(
        self_deadline=timezone.now() + timedelta(days=2)
    )
    assert notifications.send_deadline_reminders() == 1
    assert notifications.send_deadline_reminders() == 0
    assert noticed() == mailed() == ["officer_x1@example.test"]
    assert Notification.objects.get().link == reverse("scoring:assessment_self", args=[assessment.pk])


def test_the_bell_counts_the_unread_notices_in_one_query(
    client, officer, other_officer, django_assert_num_queries
):
    notices_create(users=[officer, officer], event="x", title="Một", link="/")  # one per person
    notices_create(users=[officer], event="x", title="Hai", link="/")
    notices_create(users=[other_officer], event="x", title="Của người khác", link="/")
    client.force_login(officer)
    page = client.get(reverse("notices:list"))
    html = page.content.decode()
    assert '<span class="bell-count" data-testid="bell-count">2</span>' in html
    assert "Một" in html and "Hai" in html and "Của người khác" not in html

    from django.test import RequestFactory

    from parindex.notices.context_processors import notices

    request = RequestFactory().get("/")
    request.user = officer
    with django_assert_num_queries(0):
        context = notices(request)  # nothing until the page shows the bell
    with django_assert_num_queries(1):
        assert (str(context["unread_notices"]), str(notices(request)["unread_notices"])) == ("2", "2")


def test_opening_a_notice_marks_it_read_and_goes_to_its_page(client, officer, assessment):
    link = reverse("scoring:assessment_self", args=[assessment.pk])
    [notice] = notices_create(users=[officer], event="x", title="Mở", link=link)
    client.force_login(officer)
    assert client.get(reverse("notices:open", args=[notice.pk])).status_code == 405
    response = client.post(reverse("notices:open", args=[notice.pk]))
    assert response.status_code == 302 and response["Location"] == link
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert "bell-count" not in client.get(reverse("notices:list")).content.decode()


def test_mark_all_read_marks_only_ones_own(client, officer, other_officer):
    notices_create(users=[officer, other_officer], event="x", title="Chung", link="/")
    client.force_login(officer)
    assert client.post(reverse("notices:read_all")).status_code == 302
    assert Notification.objects.get(user=officer).read_at is not None
    assert Notification.objects.get(user=other_officer).read_at is None


def test_nobody_opens_another_persons_notice(client, officer, other_officer):
    [theirs] = notices_create(users=[other_officer], event="x", title="Riêng", link="/")
    client.force_login(officer)
    assert client.post(reverse("notices:open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("notices:list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_an_outside_link_is_never_followed(client, officer):
    [notice] = notices_create(users=[officer], event="x", title="Lạ", link="https://evil.example/")
    client.force_login(officer)
    assert client.post(reverse("notices:open", args=[notice.pk]))["Location"] == reverse("notices:list")
