"""Inspections (issue 17 deliverable 1, DESIGN §2.4): the whole flow with every persona, each refusal,
audit rows, notifications, overdue recommendations on the progress board, findings beside the criteria
on the appraisal page, and a recommendation made a remediation item."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from reports.models import RemediationItem
from reports.remediation import remediation_from_recommendation
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.inspections import services
from scoring.inspections.models import (
    Finding,
    InspectionPlan,
    InspectionVisit,
    Recommendation,
    RecommendationStatus,
    TeamMember,
    VisitStatus,
)
from scoring.inspections.selectors import findings_by_area
from scoring.models import Criterion
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30), ("2.1", 30)]


def pdf(name="bien-ban.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4\n% inspection\n", content_type="application/pdf")


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def world(district, commune, other_commune, officer, other_officer, appraiser, leader, today):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="FWI", year=today.year)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    assessment_get_or_create(unit=other_commune, framework=framework)
    culture = make_unit("PVH", kind=UnitKind.DEPARTMENT, parent=district, name="Phòng Văn hóa")
    return {
        "framework": framework,
        "assessment": assessment,
        "team_leader": make_member(district, Role.APPRAISER, "truong_doan"),
        "member": make_member(culture, Role.OFFICER, "thanh_vien"),
        "culture": culture,
        "criterion": lambda code: Criterion.objects.get(framework=framework, code=code),
    }


def _visit(world, appraiser, district, commune, today):
    plan = services.plan_create(
        authority=district, year=today.year, name="Kế hoạch kiểm tra", actor=appraiser
    )
    visit = services.visit_schedule(
        plan=plan,
        unit=commune,
        start_date=today.replace(month=1, day=1),
        end_date=today.replace(month=1, day=3),
        actor=appraiser,
    )
    services.team_set(
        visit=visit,
        members=[(world["team_leader"], district), (world["member"], world["culture"])],
        leader=world["team_leader"],
        actor=appraiser,
    )
    return visit


@pytest.fixture
def visit(world, appraiser, district, commune, today):
    return _visit(world, appraiser, district, commune, today)


def _shared(world, visit):
    services.finding_add(
        visit=visit, text="Chưa niêm yết TTHC", criterion=world["criterion"]("1.1"), actor=world["member"]
    )
    services.draft_share(visit=visit, actor=world["team_leader"])
    visit.refresh_from_db()
    return visit


def _concluded(world, visit, today, officer):
    _shared(world, visit)
    services.visit_respond(visit=visit, text="Đã tiếp thu", actor=officer)
    rec = services.recommendation_add(
        visit=visit,
        text="Niêm yết đầy đủ TTHC",
        owner="Chủ tịch UBND xã",
        deadline=today + timedelta(days=30),
        criterion=world["criterion"]("1.1"),
        actor=world["member"],
    )
    services.visit_conclude(
        visit=visit, conclusion_date=today, text="Kết luận kiểm tra", actor=world["team_leader"]
    )
    visit.refresh_from_db()
    return rec


# --- the whole flow through the pages -------------------------------------------------------------------


def test_the_whole_flow_with_every_persona(
    client,
    world,
    district,
    commune,
    officer,
    other_officer,
    appraiser,
    leader,
    today,
    django_capture_on_commit_callbacks,
):
    # The appraiser plans and schedules.
    client.force_login(appraiser)
    response = client.post(
        reverse("scoring:inspection_home"),
        {
            "authority": district.pk,
            "year": today.year,
            "name": "Kế hoạch kiểm tra CCHC",
            "document_number": "12/KH-UBND",
            "document_date": today.isoformat(),
        },
    )
    plan = InspectionPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "scoring:inspection_plan", args=[plan.pk]
    )
    start = today.replace(month=1, day=1)
    response = client.post(
        reverse("scoring:inspection_visit_add", args=[plan.pk]),
        {"unit": "X1", "start_date": start.isoformat(), "end_date": (start + timedelta(days=2)).isoformat()},
    )
    visit = InspectionVisit.objects.get()
    assert (visit.unit, visit.status) == (commune, VisitStatus.PLANNED)
    response = client.post(
        reverse("scoring:inspection_team", args=[visit.pk]),
        {"members": "truong_doan H\nthanh_vien PVH", "leader": "truong_doan"},
    )
    team = {(m.user.username, m.office.code, m.is_leader) for m in TeamMember.objects.filter(visit=visit)}
    assert team == {("truong_doan", "H", True), ("thanh_vien", "PVH", False)}

    # Before the draft is shared the unit does not see the visit at all.
    client.force_login(officer)
    assert client.get(reverse("scoring:inspection_visit", args=[visit.pk])).status_code == 404
    assert "Chưa niêm yết" not in client.get(reverse("scoring:inspection_unit", args=["X1"])).content.decode()

    # The team member from another office records a finding with evidence; the visit starts.
    client.force_login(world["member"])
    assert client.get(reverse("scoring:inspection_visit", args=[visit.pk])).status_code == 200
    client.post(
        reverse("scoring:inspection_finding_add", args=[visit.pk]),
        {"text": "Chưa niêm yết đầy đủ TTHC", "criterion": world["criterion"]("1.1").pk, "files": [pdf()]},
    )
    finding = Finding.objects.get()
    assert finding.area == world["criterion"]("1") and finding.files.count() == 1
    visit.refresh_from_db()
    assert visit.status == VisitStatus.VISITING
    # A member does not share: only the team leader does (403 with the reason).
    response = client.post(reverse("scoring:inspection_share", args=[visit.pk]))
    assert response.status_code == 403 and "trưởng đoàn" in response.content.decode().lower()

    # The team leader shares the draft findings; the unit's officers are told by e-mail.
    client.force_login(world["team_leader"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("scoring:inspection_share", args=[visit.pk]))
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DRAFT_SHARED
    assert [m.to for m in mail.outbox] == [[officer.email]]
    assert reverse("scoring:inspection_unit", args=["X1"]) in mail.outbox[0].body
    # ... and in the app (the bell), the same person with the same page.
    from parindex.notices.models import Notification

    told = list(Notification.objects.values_list("user_id", "event", "link"))
    assert told == [(officer.pk, "inspection_draft_shared", reverse("scoring:inspection_unit", args=["X1"]))]

    # The unit reads its draft findings and responds; the office page stays the office's (403).
    client.force_login(officer)
    page = client.get(reverse("scoring:inspection_unit", args=["X1"])).content.decode()
    assert "Chưa niêm yết đầy đủ TTHC" in page
    assert client.get(reverse("scoring:inspection_visit", args=[visit.pk])).status_code == 403
    assert (
        client.get(reverse("scoring:inspection_finding_file", args=[finding.files.get().pk])).status_code
        == 200
    )
    client.post(
        reverse("scoring:inspection_respond", args=[visit.pk]),
        {"text": "Xã đã tiếp thu", "file": pdf("giai-trinh.pdf")},
    )
    visit.refresh_from_db()
    assert visit.response_text == "Xã đã tiếp thu" and visit.responded_by == officer

    # Another unit's officer sees nothing of it.
    client.force_login(other_officer)
    for url in (
        reverse("scoring:inspection_visit", args=[visit.pk]),
        reverse("scoring:inspection_unit", args=["X1"]),
        reverse("scoring:inspection_response_file", args=[visit.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("scoring:inspection_respond", args=[visit.pk]), {"text": "x"}).status_code == 404
    )

    # The leader reads, changes nothing.
    client.force_login(leader)
    assert client.get(reverse("scoring:inspection_visit", args=[visit.pk])).status_code == 200
    assert (
        client.post(reverse("scoring:inspection_respond", args=[visit.pk]), {"text": "x"}).status_code == 403
    )
    assert (
        client.post(reverse("scoring:inspection_finding_add", args=[visit.pk]), {"text": "x"}).status_code
        == 403
    )

    # The team leader concludes: refused without recommendation, then with one.
    client.force_login(world["team_leader"])
    client.post(
        reverse("scoring:inspection_conclude", args=[visit.pk]),
        {"conclusion_date": today.isoformat(), "text": "Kết luận"},
    )
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DRAFT_SHARED
    client.post(
        reverse("scoring:inspection_recommendation_add", args=[visit.pk]),
        {
            "text": "Niêm yết đầy đủ TTHC",
            "owner": "Chủ tịch UBND xã",
            "deadline": (today + timedelta(days=30)).isoformat(),
            "criterion": world["criterion"]("1.1").pk,
        },
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("scoring:inspection_conclude", args=[visit.pk]),
            {"conclusion_date": today.isoformat(), "text": "Kết luận"},
        )
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CONCLUDED and visit.conclusion.text == "Kết luận"
    assert [m.to for m in mail.outbox] == [[officer.email]] and "Niêm yết đầy đủ TTHC" in mail.outbox[0].body
    rec = Recommendation.objects.get()

    # The unit reports it fixed with evidence; the appraiser closes it.
    client.force_login(officer)
    client.post(
        reverse("scoring:inspection_fixed", args=[rec.pk]),
        {"report": "Đã niêm yết", "fix_date": today.isoformat(), "file": pdf("anh-niem-yet.pdf")},
    )
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.REPORTED_FIXED and rec.fix_reported_by == officer
    assert client.get(reverse("scoring:inspection_fix_file", args=[rec.pk])).status_code == 200
    assert client.post(reverse("scoring:inspection_close", args=[rec.pk])).status_code == 403
    client.force_login(appraiser)
    client.post(reverse("scoring:inspection_close", args=[rec.pk]))
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.CLOSED and rec.closed_by == appraiser

    # Every step is in the audit trail, about the unit inspected.
    actions = list(
        AuditEntry.objects.filter(unit_id=commune.pk, action__startswith="inspection_")
        .order_by("id")
        .values_list("action", "actor__username")
    )
    assert actions == [
        ("inspection_visit_schedule", "appraiser"),
        ("inspection_team_set", "appraiser"),
        ("inspection_visit_status", "thanh_vien"),
        ("inspection_finding_add", "thanh_vien"),
        ("inspection_draft_share", "truong_doan"),
        ("inspection_respond", "officer_x1"),
        ("inspection_recommendation_add", "truong_doan"),
        ("inspection_conclude", "truong_doan"),
        ("inspection_report_fixed", "officer_x1"),
        ("inspection_recommendation_close", "appraiser"),
    ]
    assert AuditEntry.objects.filter(action="inspection_plan_create", unit_id=district.pk).count() == 1

    # The leader's overview: visits by status, nothing open.
    client.force_login(leader)
    page = client.get(reverse("scoring:inspection_home")).content.decode()
    assert 'id="visits-concluded"><b>1</b>' in page and 'id="overdue-count"><b>0</b>' in page
    assert client.post(reverse("scoring:inspection_home"), {"name": "x"}).status_code == 403


# --- refusals -------------------------------------------------------------------------------------------


def _code(call) -> str:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value.error_code


def test_only_the_authoritys_appraisers_plan(world, district, leader, officer, appraiser, today):
    assert (
        _code(lambda: services.plan_create(authority=district, year=today.year, name="K", actor=leader))
        == ErrorCode.FORBIDDEN
    )
    assert (
        _code(lambda: services.plan_create(authority=district, year=today.year, name="K", actor=officer))
        == ErrorCode.FORBIDDEN
    )
    services.plan_create(authority=district, year=today.year, name="K", actor=appraiser)
    assert (
        _code(lambda: services.plan_create(authority=district, year=today.year, name="K2", actor=appraiser))
        == ErrorCode.CONFLICT
    )
    assert InspectionPlan.objects.count() == 1


def test_a_visit_is_of_a_unit_under_the_authority_within_the_year(world, district, appraiser, today):
    plan = services.plan_create(authority=district, year=today.year, name="K", actor=appraiser)
    elsewhere = make_unit("Y1", kind=UnitKind.COMMUNE, parent=make_unit("H2", kind=UnitKind.DISTRICT))
    day = today.replace(month=1, day=1)
    with pytest.raises(ServiceError) as caught:
        services.visit_schedule(
            plan=plan,
            unit=elsewhere,
            start_date=day.replace(year=day.year - 1),
            end_date=day.replace(year=day.year - 1),
            actor=appraiser,
        )
    assert {e.field for e in caught.value.all()} == {"unit", "start_date"}
    assert not InspectionVisit.objects.exists()


def test_team_leader_is_a_home_affairs_leader_or_appraiser(
    world, visit, appraiser, district, officer, commune
):
    before = list(TeamMember.objects.filter(visit=visit).values_list("user__username", "is_leader"))
    with pytest.raises(ServiceError) as caught:
        services.team_set(
            visit=visit,
            members=[(world["member"], world["culture"])],
            leader=world["member"],
            actor=appraiser,
        )
    assert caught.value.all()[0].field == "leader"
    with pytest.raises(ServiceError):
        services.team_set(
            visit=visit,
            members=[(officer, commune), (appraiser, district)],
            leader=appraiser,
            actor=appraiser,
        )
    assert (
        _code(
            lambda: services.team_set(
                visit=visit,
                members=[(appraiser, district)],
                leader=appraiser,
                actor=world["team_leader"] if False else world["member"],
            )
        )
        == ErrorCode.FORBIDDEN
    )
    assert list(TeamMember.objects.filter(visit=visit).values_list("user__username", "is_leader")) == before


def test_findings_are_the_teams_until_the_conclusion(world, visit, appraiser, leader, officer, today):
    assert _code(lambda: services.finding_add(visit=visit, text="x", actor=appraiser)) == ErrorCode.FORBIDDEN
    assert _code(lambda: services.finding_add(visit=visit, text="x", actor=leader)) == ErrorCode.FORBIDDEN
    # A criterion of another framework, an area that is no area, an empty text: all refused together.
    other = make_framework(visit.plan.authority, rows=rows_from_spec(TREE), code="FWO", year=today.year - 1)
    with pytest.raises(ServiceError) as caught:
        services.finding_add(
            visit=visit,
            text=" ",
            criterion=Criterion.objects.get(framework=other, code="1.1"),
            actor=world["member"],
        )
    assert {e.field for e in caught.value.all()} == {"criterion", "text"}
    with pytest.raises(ServiceError):
        services.finding_add(visit=visit, text="x", area=world["criterion"]("1.1"), actor=world["member"])
    with pytest.raises(ServiceError):
        services.finding_add(
            visit=visit,
            text="x",
            area=world["criterion"]("2"),
            criterion=world["criterion"]("1.1"),
            actor=world["member"],
        )
    assert not Finding.objects.exists()
    finding = services.finding_add(
        visit=visit, text="Đúng", area=world["criterion"]("2"), actor=world["member"]
    )
    services.finding_update(
        finding=finding, text="Sửa", criterion=world["criterion"]("2.1"), actor=world["team_leader"]
    )
    finding.refresh_from_db()
    assert (finding.text, finding.criterion.code, finding.area.code) == ("Sửa", "2.1", "2")
    _concluded(world, visit, today, officer)
    assert (
        _code(lambda: services.finding_delete(finding=finding, actor=world["member"])) == ErrorCode.WORKFLOW
    )
    assert (
        _code(lambda: services.finding_add(visit=visit, text="x", actor=world["member"]))
        == ErrorCode.WORKFLOW
    )


def test_sharing_and_concluding_are_the_team_leaders(world, visit, appraiser, officer, today):
    assert (
        _code(lambda: services.draft_share(visit=visit, actor=world["team_leader"])) == ErrorCode.WORKFLOW
    )  # no finding
    services.finding_add(visit=visit, text="x", actor=world["member"])
    assert _code(lambda: services.draft_share(visit=visit, actor=world["member"])) == ErrorCode.FORBIDDEN
    assert _code(lambda: services.draft_share(visit=visit, actor=appraiser)) == ErrorCode.FORBIDDEN
    assert _code(lambda: services.visit_respond(visit=visit, text="x", actor=officer)) == ErrorCode.WORKFLOW
    services.draft_share(visit=visit, actor=world["team_leader"])
    assert (
        _code(
            lambda: services.visit_conclude(
                visit=visit, conclusion_date=today, text="K", actor=world["member"]
            )
        )
        == ErrorCode.FORBIDDEN
    )
    assert (
        _code(
            lambda: services.visit_conclude(
                visit=visit, conclusion_date=today, text="K", actor=world["team_leader"]
            )
        )
        == ErrorCode.WORKFLOW
    )
    with pytest.raises(ServiceError) as caught:
        services.visit_conclude(
            visit=visit,
            conclusion_date=today + timedelta(days=1),
            text="",
            no_recommendations=True,
            actor=world["team_leader"],
        )
    assert {e.field for e in caught.value.all()} == {"conclusion_date", "text"}
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DRAFT_SHARED
    # An explicit "no recommendations" concludes without any.
    services.visit_conclude(
        visit=visit,
        conclusion_date=today,
        text="Không có kiến nghị",
        no_recommendations=True,
        actor=world["team_leader"],
    )
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CONCLUDED and visit.no_recommendations


def test_only_the_units_officers_respond_and_report_fixed(
    world, visit, appraiser, leader, officer, other_officer, today
):
    _shared(world, visit)
    for persona in (appraiser, leader, other_officer, world["team_leader"]):
        assert (
            _code(lambda p=persona: services.visit_respond(visit=visit, text="x", actor=p))
            == ErrorCode.FORBIDDEN
        )
    rec = services.recommendation_add(
        visit=visit, text="R", owner="UBND xã", deadline=today, actor=world["member"]
    )
    assert (
        _code(
            lambda: services.recommendation_report_fixed(
                recommendation=rec, report="x", file=pdf(), fix_date=today, actor=officer
            )
        )
        == ErrorCode.WORKFLOW
    )  # not concluded
    services.visit_conclude(visit=visit, conclusion_date=today, text="K", actor=world["team_leader"])
    for persona in (appraiser, other_officer):
        assert (
            _code(
                lambda p=persona: services.recommendation_report_fixed(
                    recommendation=rec, report="x", file=pdf(), fix_date=today, actor=p
                )
            )
            == ErrorCode.FORBIDDEN
        )
    with pytest.raises(ServiceError) as caught:
        services.recommendation_report_fixed(
            recommendation=rec, report="", file=None, fix_date=None, actor=officer
        )
    assert {e.field for e in caught.value.all()} == {"report", "file", "fix_date"}
    assert (
        _code(lambda: services.recommendation_close(recommendation=rec, actor=appraiser))
        == ErrorCode.WORKFLOW
    )
    services.recommendation_report_fixed(
        recommendation=rec, report="Xong", file=pdf(), fix_date=today, actor=officer
    )
    assert (
        _code(lambda: services.recommendation_close(recommendation=rec, actor=leader)) == ErrorCode.FORBIDDEN
    )
    assert (
        _code(lambda: services.recommendation_close(recommendation=rec, actor=world["member"]))
        == ErrorCode.FORBIDDEN
    )
    services.recommendation_close(
        recommendation=rec, actor=world["team_leader"]
    )  # the team leader closes too
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.CLOSED


# --- the progress board, the appraisal page, remediation -------------------------------------------------


def test_overdue_recommendations_on_the_progress_board(
    client, world, visit, officer, appraiser, leader, today
):
    rec = _concluded(world, visit, today, officer)
    url = reverse("reports:progress", args=["FWI"])
    client.force_login(leader)
    assert "Niêm yết đầy đủ TTHC" not in client.get(url).content.decode()
    Recommendation.objects.filter(pk=rec.pk).update(deadline=today - timedelta(days=1))  # time passes
    page = client.get(url).content.decode()
    assert 'id="inspection-overdue-table"' in page and "Niêm yết đầy đủ TTHC" in page
    # Reported fixed but not closed is still overdue; closed is not.
    services.recommendation_report_fixed(
        recommendation=rec, report="x", file=pdf(), fix_date=today, actor=officer
    )
    assert "Niêm yết đầy đủ TTHC" in client.get(url).content.decode()
    services.recommendation_close(recommendation=rec, actor=appraiser)
    assert "Niêm yết đầy đủ TTHC" not in client.get(url).content.decode()


def test_the_progress_board_reads_overdue_recommendations_in_one_query(
    client, world, district, appraiser, leader, today, officer
):
    def queries():
        client.force_login(leader)
        client.get(reverse("reports:progress", args=["FWI"]))
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("reports:progress", args=["FWI"]))
        return len(ctx)

    visit = _visit(world, appraiser, district, world["assessment"].unit, today)
    rec = _concluded(world, visit, today, officer)
    Recommendation.objects.filter(pk=rec.pk).update(deadline=today - timedelta(days=1))
    one = queries()
    for i in range(3):
        Recommendation.objects.create(
            visit=visit, text=f"R{i}", owner="x", deadline=today - timedelta(days=2)
        )
    assert queries() == one


def test_the_appraiser_sees_the_findings_beside_the_criteria(
    client, world, visit, appraiser, officer, commune, today
):
    services.finding_add(
        visit=visit, text="Thiếu biên bản 1.1", criterion=world["criterion"]("1.1"), actor=world["member"]
    )
    services.finding_add(
        visit=visit, text="Khu vực 2 chưa tốt", area=world["criterion"]("2"), actor=world["member"]
    )
    services.finding_add(visit=visit, text="Nhận xét chung", actor=world["member"])
    scores_apply_self(assessment=world["assessment"], entries={"1.1": SelfEntry(Decimal(10))}, actor=officer)
    client.force_login(appraiser)
    page = client.get(reverse("scoring:assessment_appraise", args=[world["assessment"].pk])).content.decode()
    area1 = page[page.index('id="area-1"') : page.index('id="area-2"')]
    area2 = page[page.index('id="area-2"') :]
    assert "Thiếu biên bản 1.1" in area1 and "Khu vực 2 chưa tốt" not in area1
    assert "Khu vực 2 chưa tốt" in area2
    assert 'id="findings-general"' in page and "Nhận xét chung" in page
    with CaptureQueriesContext(connection) as ctx:
        grouped = findings_by_area(commune, today.year)
    assert len(ctx) == 1 and sorted(len(v) for v in grouped.values()) == [1, 1, 1]


def test_a_recommendation_becomes_a_remediation_item(client, world, visit, officer, appraiser, leader, today):
    scores_apply_self(assessment=world["assessment"], entries={"1.1": SelfEntry(Decimal(12))}, actor=officer)
    rec = _concluded(world, visit, today, officer)
    url = reverse("reports:inspection_remediation", args=[rec.pk])
    client.force_login(leader)
    assert client.post(url).status_code == 403
    client.force_login(officer)
    assert client.post(url).status_code == 403
    client.force_login(appraiser)
    response = client.post(url)
    item = RemediationItem.objects.get()
    assert response["Location"] == reverse("reports:remediation_edit", args=[item.pk])
    assert (
        item.assessment,
        item.criterion.code,
        item.points_lost,
        item.action,
        item.responsible,
        item.due_date,
    ) == (world["assessment"], "1.1", 18, "Niêm yết đầy đủ TTHC", "Chủ tịch UBND xã", rec.deadline)
    entry = AuditEntry.objects.get(action="remediation_from_inspection")
    assert (entry.actor, entry.new_value) == (appraiser, str(rec.pk))
    # Once: the unit has an item for 1.1 now.
    assert (
        _code(lambda: remediation_from_recommendation(recommendation=rec, actor=appraiser))
        == ErrorCode.CONFLICT
    )
    assert RemediationItem.objects.count() == 1


def test_in_app_notices_on_the_officers_and_team_members_page(
    client, world, visit, officer, other_officer, leader, today
):
    url = reverse("scoring:my_assessments")
    client.force_login(world["member"])
    assert "Bạn là thành viên đoàn kiểm tra tại Xã Một" in client.get(url).content.decode()
    client.force_login(officer)
    assert 'id="inspection-notices"' not in client.get(url).content.decode()  # nothing shared yet
    _shared(world, visit)
    page = client.get(url).content.decode()
    assert "Dự thảo kết quả kiểm tra tại Xã Một đang chờ đơn vị phản hồi" in page
    assert f'href="{reverse("scoring:inspection_unit", args=["X1"])}"' in page
    client.force_login(other_officer)
    assert 'id="inspection-notices"' not in client.get(url).content.decode()
    services.visit_respond(visit=visit, text="Đã tiếp thu", actor=officer)
    services.recommendation_add(
        visit=visit, text="Niêm yết TTHC", owner="UBND xã", deadline=today, actor=world["member"]
    )
    services.visit_conclude(visit=visit, conclusion_date=today, text="K", actor=world["team_leader"])
    client.force_login(officer)
    page = client.get(url).content.decode()
    assert "chờ đơn vị phản hồi" not in page and "Kiến nghị đối với Xã Một có thời hạn" in page
    client.force_login(world["member"])
    assert 'id="inspection-notices"' not in client.get(url).content.decode()  # concluded: off the team's list
    # The overseers reach inspections from the main menu.
    client.force_login(leader)
    assert (
        f'href="{reverse("scoring:inspection_home")}"'
        in client.get(reverse("scoring:framework_list")).content.decode()
    )


def test_the_unit_and_visit_pages_read_a_fixed_number_of_queries(
    client, world, appraiser, district, commune, officer, today
):
    def count(url, user):
        client.force_login(user)
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    plan = services.plan_create(authority=district, year=today.year, name="K", actor=appraiser)

    def concluded_visit():
        start = today.replace(month=1, day=1)
        visit = services.visit_schedule(
            plan=plan, unit=commune, start_date=start, end_date=start, actor=appraiser
        )
        services.team_set(
            visit=visit,
            members=[(world["team_leader"], district), (world["member"], world["culture"])],
            leader=world["team_leader"],
            actor=appraiser,
        )
        _concluded(world, visit, today, officer)
        return visit

    visit = concluded_visit()
    unit_url = reverse("scoring:inspection_unit", args=["X1"])
    visit_url = reverse("scoring:inspection_visit", args=[visit.pk])
    unit_one, visit_one = count(unit_url, officer), count(visit_url, world["team_leader"])
    concluded_visit()
    concluded_visit()
    for n in range(3):  # more findings and recommendations on the same visit
        Finding.objects.create(visit=visit, text=f"Kết quả {n}", criterion=world["criterion"]("2.1"))
        Recommendation.objects.create(visit=visit, text=f"Kiến nghị {n}", owner="UBND xã", deadline=today)
    assert count(unit_url, officer) == unit_one
    assert count(visit_url, world["team_leader"]) == visit_one


def test_the_steering_meeting_lists_the_open_recommendations(
    client, world, visit, officer, appraiser, leader, today
):
    rec = _concluded(world, visit, today, officer)
    url = reverse("reports:steering", args=["FWI"])
    client.force_login(leader)
    response = client.get(url)
    assert [r.pk for r in response.context["meeting"].recommendations] == [rec.pk]
    page = response.content.decode()
    assert 'id="meeting-recommendations"' in page and "Niêm yết đầy đủ TTHC" in page and "quá hạn" not in page
    Recommendation.objects.filter(pk=rec.pk).update(deadline=today - timedelta(days=1))  # time passes
    assert "quá hạn" in client.get(url).content.decode()
    services.recommendation_report_fixed(
        recommendation=rec, report="x", file=pdf(), fix_date=today, actor=officer
    )
    assert "Niêm yết đầy đủ TTHC" in client.get(url).content.decode()  # reported fixed, not yet closed
    services.recommendation_close(recommendation=rec, actor=appraiser)
    response = client.get(url)
    assert response.context["meeting"].recommendations == []
    assert "Niêm yết đầy đủ TTHC" not in response.content.decode()
