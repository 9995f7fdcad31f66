"""Framework pages: list, board, deadlines and extensions, survey grid, publication, activity log and
score history — personas, behaviour, and query counts that do not grow with the number of units."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from parindex.audit.services import audit_entry
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self, survey_apply
from scoring.frameworks.services import framework_advance_to, framework_set_deadlines
from scoring.models import (
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    FrameworkStatus,
    Score,
    Via,
)
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

TREE = [
    ("1", 70),
    ("1.1", 30),
    ("1.2", 40),
    ("2", 30, "score", "survey"),
    ("2.1", 20, "score", "survey"),
    ("2.2", 10, "score", "survey"),
]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="FWV")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


@pytest.fixture
def other_assessment(framework, other_commune):
    return assessment_get_or_create(unit=other_commune, framework=framework)


@pytest.fixture
def users(officer, other_officer, appraiser, leader):
    return {
        "officer": officer,
        "other_officer": other_officer,
        "appraiser": appraiser,
        "leader": leader,
        "anonymous": None,
    }


def leaf(framework, code):
    return framework.criteria.get(code=code)


def as_user(client, user):
    if user is not None:
        client.force_login(user)
    return client


def local(*args):
    return datetime(*args, tzinfo=timezone.get_current_timezone())


# --- personas ---------------------------------------------------------------------------------------------

LOGIN = "login"
PAGES = {
    # name: {persona: expected status of GET}
    "framework_list": {"officer": 200, "other_officer": 200, "appraiser": 200, "leader": 200},
    "framework_board": {"officer": 403, "other_officer": 403, "appraiser": 200, "leader": 200},
    "survey_grid": {"officer": 403, "other_officer": 403, "appraiser": 200, "leader": 200},
    "framework_deadlines": {"officer": 403, "other_officer": 403, "appraiser": 200, "leader": 403},
    "framework_publish": {"officer": 403, "other_officer": 403, "appraiser": 200, "leader": 403},
    "framework_activity": {"officer": 403, "other_officer": 403, "appraiser": 200, "leader": 200},
    "score_history": {"officer": 200, "other_officer": 404, "appraiser": 200, "leader": 200},
    "deadline_extend": {"officer": 405, "other_officer": 405, "appraiser": 405, "leader": 405},
}


def url_of(name, framework, assessment):
    if name == "framework_list":
        return reverse("scoring:framework_list")
    if name == "score_history":
        return reverse("scoring:score_history", args=[assessment.pk, leaf(framework, "1.1").pk])
    if name == "deadline_extend":
        return reverse("scoring:deadline_extend", args=[assessment.pk])
    return reverse(f"scoring:{name}", args=[framework.code])


@pytest.mark.parametrize("persona", ["officer", "other_officer", "appraiser", "leader", "anonymous"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_pages_by_persona(client, framework, assessment, other_assessment, users, name, persona):
    response = as_user(client, users[persona]).get(url_of(name, framework, assessment))
    if persona == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == PAGES[name][persona]


CHANGES = {
    # name: {persona: expected status of a POST while the framework is open}
    "survey_grid": {"officer": 403, "other_officer": 403, "leader": 403, "appraiser": 302},
    "framework_deadlines": {"officer": 403, "other_officer": 403, "leader": 403, "appraiser": 302},
    "framework_publish": {"officer": 403, "other_officer": 403, "leader": 403, "appraiser": 200},
    "deadline_extend": {"officer": 403, "other_officer": 404, "leader": 403, "appraiser": 302},
}


@pytest.mark.parametrize("persona", ["officer", "other_officer", "appraiser", "leader", "anonymous"])
@pytest.mark.parametrize("name", sorted(CHANGES))
def test_changes_by_persona(client, framework, assessment, other_assessment, users, name, persona):
    response = as_user(client, users[persona]).post(url_of(name, framework, assessment), {})
    if persona == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == CHANGES[name][persona]
    framework.refresh_from_db()
    assert framework.status != FrameworkStatus.PUBLISHED


def test_an_officer_without_an_assessment_does_not_see_the_framework(
    client, framework, assessment, other_officer
):
    client.force_login(other_officer)
    assert client.get(reverse("scoring:framework_publish", args=[framework.code])).status_code == 404
    assert client.get(reverse("scoring:framework_deadlines", args=[framework.code])).status_code == 404


# --- list -------------------------------------------------------------------------------------------------


def test_list_shows_visible_frameworks_newest_first_with_counts(
    client, district, framework, assessment, other_assessment, appraiser
):
    older = make_framework(district, rows=rows_from_spec(TREE), code="FWOLD", year=2023)
    Assessment.objects.filter(pk=other_assessment.pk).update(status=AssessmentStatus.SUBMITTED)
    elsewhere = make_unit("H2", kind=UnitKind.DISTRICT, parent=district.parent)
    hidden = make_framework(elsewhere, rows=rows_from_spec(TREE), code="FWHIDDEN")
    client.force_login(appraiser)
    response = client.get(reverse("scoring:framework_list"))
    codes = [item["framework"].code for item in response.context["items"]]
    assert codes == [framework.code, older.code]
    assert hidden.code not in codes
    counts = {c["key"]: c["count"] for c in response.context["items"][0]["counts"]}
    assert counts == {"draft": 1, "submitted": 1}
    body = response.content.decode()
    assert "Chưa nộp: 1" in body and "Đã nộp: 1" in body
    assert reverse("scoring:framework_board", args=[framework.code]) in body


def test_list_for_an_officer_shows_only_their_units_frameworks(
    client, district, framework, assessment, other_assessment, officer
):
    make_framework(district, rows=rows_from_spec(TREE), code="FWNOTMINE", year=2023)
    client.force_login(officer)
    response = client.get(reverse("scoring:framework_list"))
    items = response.context["items"]
    assert [item["framework"].code for item in items] == [framework.code]
    assert {c["key"]: c["count"] for c in items[0]["counts"]} == {"draft": 1}  # their own unit only
    body = response.content.decode()
    assert reverse("scoring:assessment_self", args=[assessment.pk]) in body
    assert reverse("scoring:framework_board", args=[framework.code]) not in body


# --- board ------------------------------------------------------------------------------------------------


@pytest.fixture
def board_world(framework, district, commune, other_commune, assessment, other_assessment):
    """X1 draft, X2 submitted, X3 returned, X4 appraised, X5 without assessment; self deadline past."""
    x3 = make_unit("X3", kind=UnitKind.COMMUNE, parent=district)
    x4 = make_unit("X4", kind=UnitKind.COMMUNE, parent=district)
    make_unit("X5", kind=UnitKind.COMMUNE, parent=district)
    make_unit("OLD", kind=UnitKind.COMMUNE, parent=district, active_to=2020)  # merged away before 2024
    a3 = assessment_get_or_create(unit=x3, framework=framework)
    a4 = assessment_get_or_create(unit=x4, framework=framework)
    Assessment.objects.filter(pk=other_assessment.pk).update(
        status=AssessmentStatus.SUBMITTED, submitted_at=timezone.now()
    )
    Assessment.objects.filter(pk=a3.pk).update(status=AssessmentStatus.RETURNED)
    Assessment.objects.filter(pk=a4.pk).update(status=AssessmentStatus.APPRAISED)
    framework_set_deadlines(
        framework=framework,
        self_deadline=timezone.now() - timedelta(days=2),
        appraisal_deadline=timezone.now() + timedelta(days=10),
    )
    return framework


def test_board_counts_and_overdue(client, board_world, appraiser):
    client.force_login(appraiser)
    response = client.get(reverse("scoring:framework_board", args=[board_world.code]))
    stats = {s["key"]: s["count"] for s in response.context["stats"]}
    assert stats == {
        "not_started": 1,
        "draft": 1,
        "submitted": 1,
        "returned": 1,
        "appraised": 1,
        "published": 0,
        "overdue": 3,
    }
    rows = {row.unit.code: row for row in response.context["rows"]}
    assert sorted(rows) == ["X1", "X2", "X3", "X4", "X5"]
    assert {code for code, row in rows.items() if row.overdue} == {"X1", "X3", "X5"}
    body = response.content.decode()
    assert body.count('class="row-flag"') == 3
    for label in ("Chưa nộp", "Đã nộp", "Đang giải trình", "Đã thẩm định", "Chưa bắt đầu"):
        assert label in body
    assert "quá hạn 2 ngày" in body
    assert reverse("scoring:assessment_appraise", args=[rows["X2"].assessment.pk]) in body
    assert reverse("scoring:assessment_self", args=[rows["X2"].assessment.pk]) in body


def test_board_filter_by_status(client, board_world, appraiser):
    client.force_login(appraiser)
    url = reverse("scoring:framework_board", args=[board_world.code])
    assert [r.unit.code for r in client.get(url, {"status": "overdue"}).context["rows"]] == ["X1", "X3", "X5"]
    assert [r.unit.code for r in client.get(url, {"status": "submitted"}).context["rows"]] == ["X2"]
    assert [r.unit.code for r in client.get(url, {"status": "not_started"}).context["rows"]] == ["X5"]
    assert len(client.get(url, {"status": "nonsense"}).context["rows"]) == 5


def test_board_for_a_leader_has_no_tools(client, board_world, leader):
    client.force_login(leader)
    body = client.get(reverse("scoring:framework_board", args=[board_world.code])).content.decode()
    assert "/appraisal/" not in body and "/extend/" not in body
    assert reverse("scoring:framework_deadlines", args=[board_world.code]) not in body


def test_board_shows_provisional_index_and_rank(client, framework, assessment, appraiser):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("12.1")}})
    client.force_login(appraiser)
    response = client.get(reverse("scoring:framework_board", args=[framework.code]))
    row = response.context["rows"][0]
    assert row.result.rank == 1 and row.result.provisional
    body = response.content.decode()
    assert "12,1 / 100" in body and "badge provisional" in body


# --- deadlines and extensions --------------------------------------------------------------------------------


def test_deadlines_edit_is_saved_and_audited(client, framework, appraiser):
    client.force_login(appraiser)
    response = client.post(
        reverse("scoring:framework_deadlines", args=[framework.code]),
        {"self_deadline": "01/12/2024 17:00", "appraisal_deadline": "2024-12-15T17:30"},
    )
    assert response.status_code == 302
    framework.refresh_from_db()
    assert framework.self_deadline == local(2024, 12, 1, 17, 0)
    assert framework.appraisal_deadline == local(2024, 12, 15, 17, 30)
    entries = AuditEntry.objects.filter(framework_id=framework.pk, action="deadline").order_by("field")
    assert [(e.field, e.new_value, e.via, e.actor) for e in entries] == [
        ("appraisal_deadline", "15/12/2024 17:30", Via.WEB, appraiser),
        ("self_deadline", "01/12/2024 17:00", Via.WEB, appraiser),
    ]


def test_deadlines_in_the_wrong_order_change_nothing(client, framework, appraiser):
    client.force_login(appraiser)
    response = client.post(
        reverse("scoring:framework_deadlines", args=[framework.code]),
        {"self_deadline": "15/12/2024 17:00", "appraisal_deadline": "01/12/2024 17:00"},
    )
    assert response.status_code == 200
    assert "Hạn thẩm định" in response.content.decode() and "field-error" in response.content.decode()
    framework.refresh_from_db()
    assert framework.self_deadline is None and framework.appraisal_deadline is None
    assert not AuditEntry.objects.filter(action="deadline").exists()


def test_deadlines_page_reads_dd_mm_and_rejects_garbage(client, framework, appraiser):
    client.force_login(appraiser)
    response = client.post(
        reverse("scoring:framework_deadlines", args=[framework.code]), {"self_deadline": "31/02/2024 25:00"}
    )
    assert response.status_code == 200 and response.context["form"].errors
    framework.refresh_from_db()
    assert framework.self_deadline is None


def test_extension_for_one_unit(client, board_world, appraiser):
    x1 = Assessment.objects.get(framework=board_world, unit__code="X1")
    until = timezone.localtime() + timedelta(days=5)
    client.force_login(appraiser)
    response = client.post(
        reverse("scoring:deadline_extend", args=[x1.pk]),
        {"until": until.strftime("%d/%m/%Y %H:%M"), "reason": "Thiên tai"},
    )
    assert response.status_code == 302
    x1.refresh_from_db()
    assert x1.self_deadline_extended_to == until.replace(second=0, microsecond=0)
    entry = AuditEntry.objects.get(assessment_id=x1.pk, action="deadline_extension")
    assert entry.reason == "Thiên tai" and entry.actor == appraiser and entry.via == Via.WEB
    board = client.get(reverse("scoring:framework_board", args=[board_world.code]))
    rows = {row.unit.code: row for row in board.context["rows"]}
    assert not rows["X1"].overdue and rows["X1"].extended
    assert "đã gia hạn" in board.content.decode()
    deadlines = client.get(reverse("scoring:framework_deadlines", args=[board_world.code]))
    assert list(deadlines.context["extensions"]) == [x1]


def test_extension_needs_a_reason_and_a_future_date(client, board_world, appraiser):
    x1 = Assessment.objects.get(framework=board_world, unit__code="X1")
    client.force_login(appraiser)
    url = reverse("scoring:deadline_extend", args=[x1.pk])
    future = (timezone.localtime() + timedelta(days=5)).strftime("%d/%m/%Y %H:%M")
    past = (timezone.localtime() - timedelta(days=5)).strftime("%d/%m/%Y %H:%M")
    for data in (
        {"until": future, "reason": " "},
        {"until": past, "reason": "x"},
        {"until": "mai", "reason": "x"},
    ):
        response = client.post(url, data, follow=True)
        assert any(m.level_tag == "error" for m in response.context["messages"])
    x1.refresh_from_db()
    assert x1.self_deadline_extended_to is None
    assert not AuditEntry.objects.filter(action="deadline_extension").exists()


# --- survey grid ----------------------------------------------------------------------------------------------


def cell(framework, unit, code):
    return f"c-{unit.pk}-{leaf(framework, code).pk}"


def test_survey_grid_saves_every_cell_and_recomputes(
    client, framework, commune, other_commune, assessment, appraiser
):
    client.force_login(appraiser)
    url = reverse("scoring:survey_grid", args=[framework.code])
    page = client.get(url)
    assert [row.unit.code for row in page.context["grid"].rows] == ["X1", "X2"]
    response = client.post(
        url,
        {
            cell(framework, commune, "2.1"): "12,1",
            cell(framework, commune, "2.2"): "9.5",
            cell(framework, other_commune, "2.1"): "20",
            cell(framework, other_commune, "2.2"): "",
        },
    )
    assert response.status_code == 302
    scores = {
        (s.assessment.unit.code, s.criterion.code): s.appraised_points
        for s in Score.objects.filter(assessment__framework=framework).select_related(
            "assessment__unit", "criterion"
        )
    }
    assert scores == {("X1", "2.1"): D("12.1"), ("X1", "2.2"): D("9.5"), ("X2", "2.1"): D("20")}
    results = {r.assessment.unit.code: r for r in AssessmentResult.objects.filter(framework=framework)}
    assert results["X1"].points == D("21.6") and results["X2"].points == D("20")
    assert results["X2"].rank == 2  # the assessment of X2 was created by the grid
    assert (
        AuditEntry.objects.filter(
            framework_id=framework.pk, action="survey", actor=appraiser, via=Via.WEB
        ).count()
        == 3
    )
    followed = client.get(url)
    body = followed.content.decode()
    assert "3" in str(list(followed.context["messages"])[0]) and 'value="12,1"' in body


def test_survey_grid_with_one_bad_cell_saves_nothing(
    client, framework, commune, other_commune, assessment, appraiser
):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("5")}})
    client.force_login(appraiser)
    url = reverse("scoring:survey_grid", args=[framework.code])
    response = client.post(
        url,
        {
            cell(framework, commune, "2.1"): "12,1",
            cell(framework, commune, "2.2"): "10,5",
            cell(framework, other_commune, "2.1"): "abc",
            cell(framework, other_commune, "2.2"): "1,234",
        },
    )
    assert response.status_code == 200
    grid = response.context["grid"]
    errors = {(c.unit.code, c.criterion.code): c.error for row in grid.rows for c in row.cells if c.error}
    assert set(errors) == {("X1", "2.2"), ("X2", "2.1"), ("X2", "2.2")}
    body = response.content.decode()
    assert "Phải từ 0 đến 10" in body
    assert "“abc” không phải là số" in body
    assert "Tối đa hai chữ số thập phân" in body
    assert 'value="12,1"' in body and 'value="abc"' in body  # what was typed comes back
    assert "3 ô có lỗi; chưa lưu gì." in body
    assert dict(
        Score.objects.filter(assessment__framework=framework).values_list(
            "criterion__code", "appraised_points"
        )
    ) == {"2.1": D("5")}
    assert not Assessment.objects.filter(unit=other_commune).exists()
    assert AuditEntry.objects.filter(action="survey").count() == 1


def test_survey_grid_unchanged_post_saves_nothing(client, framework, commune, assessment, appraiser):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("5")}})
    client.force_login(appraiser)
    url = reverse("scoring:survey_grid", args=[framework.code])
    response = client.post(url, {cell(framework, commune, "2.1"): "5,00"}, follow=True)
    assert "Không có gì thay đổi" in response.content.decode()
    assert AuditEntry.objects.filter(action="survey").count() == 1


def test_survey_grid_is_read_only_for_leaders(client, framework, commune, assessment, leader):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("12.1")}})
    client.force_login(leader)
    response = client.get(reverse("scoring:survey_grid", args=[framework.code]))
    body = response.content.decode()
    assert response.status_code == 200 and "12,1" in body
    assert '<input name="c-' not in body and "Lưu điểm điều tra" not in body


# --- publication -----------------------------------------------------------------------------------------------


def test_publish_page_lists_the_gates_and_requires_a_decision(
    client, framework, assessment, other_assessment, appraiser
):
    Assessment.objects.filter(pk=other_assessment.pk).update(status=AssessmentStatus.APPRAISED)
    framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL)
    client.force_login(appraiser)
    url = reverse("scoring:framework_publish", args=[framework.code])
    page = client.get(url)
    assert page.context["waiting"] == 1 and page.context["locked"] == 1
    assert "X1" in " ".join(page.context["problems"])  # neither appraised nor left out, named
    for data in (
        {},
        {"decision_number": "  ", "decision_date": "21/12/2024"},
        {"decision_number": "4769/QĐ-UBND", "decision_date": ""},
        {"decision_number": "4769/QĐ-UBND", "decision_date": "32/12/2024"},
    ):
        response = client.post(url, data)
        assert response.status_code == 200 and response.context["form"].errors
    # A decision but X1 neither appraised nor left out: refused, the reason listed, nothing published.
    response = client.post(
        url, {"decision_number": "4769/QĐ-UBND", "decision_date": "21/12/2024", "confirm": "1"}
    )
    assert response.status_code == 200 and not response.context["confirming"]
    assert any("X1" in problem for problem in response.context["problems"])
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.FINAL


def test_publish_goes_through_a_confirmation_page_then_every_change_is_refused(
    client, framework, commune, assessment, appraiser, superuser_client
):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("12.1")}})
    framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL)
    client.force_login(appraiser)
    url = reverse("scoring:framework_publish", args=[framework.code])
    data = {"decision_number": "4769/QĐ-UBND", "decision_date": "21/12/2024", "exclude-X1": "Chưa nộp"}
    review = client.post(url, data)
    assert review.status_code == 200 and review.context["confirming"], review.context["problems"]
    body = review.content.decode()
    assert 'name="confirm" value="1"' in body and "Chưa nộp" in body
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.FINAL  # the review changes nothing
    response = client.post(url, {**data, "confirm": "1"})
    assert response.status_code == 302
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.PUBLISHED and framework.decision_date == date(2024, 12, 21)
    assert framework.published_by == appraiser
    assessment.refresh_from_db()
    assert (assessment.status, assessment.excluded_reason) == (AssessmentStatus.DRAFT, "Chưa nộp")
    before = (list(Score.objects.values()), framework.self_deadline, AuditEntry.objects.count())
    refused = [
        client.post(
            reverse("scoring:survey_grid", args=[framework.code]), {cell(framework, commune, "2.1"): "3"}
        ),
        client.post(
            reverse("scoring:framework_deadlines", args=[framework.code]),
            {"self_deadline": "01/12/2025 17:00"},
        ),
        client.post(
            reverse("scoring:deadline_extend", args=[assessment.pk]),
            {"until": "01/12/2099 17:00", "reason": "x"},
        ),
        client.post(
            reverse("scoring:framework_publish", args=[framework.code]),
            {"decision_number": "1/QĐ", "decision_date": "01/01/2025", "confirm": "1"},
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    framework.refresh_from_db()
    assert (list(Score.objects.values()), framework.self_deadline, AuditEntry.objects.count()) == before
    assert framework.decision_number == "4769/QĐ-UBND"
    for name in ("framework_board", "survey_grid", "framework_activity", "framework_deadlines"):
        body = client.get(reverse(f"scoring:{name}", args=[framework.code])).content.decode()
        assert "4769/QĐ-UBND" in body and "21/12/2024" in body, name
        assert "Mở lại" not in body  # reopening is for administrators
    survey = client.get(reverse("scoring:survey_grid", args=[framework.code])).content.decode()
    assert '<input name="c-' not in survey
    admin_body = superuser_client.get(
        reverse("scoring:framework_board", args=[framework.code])
    ).content.decode()
    assert reverse("admin:scoring_framework_reopen", args=[framework.pk]) in admin_body


@pytest.fixture
def superuser_client(db):
    from django.test import Client

    from .factories import UserFactory

    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(user)
    return client


# --- activity log ------------------------------------------------------------------------------------------------


@pytest.fixture
def activity_world(framework, assessment, other_assessment, officer, appraiser):
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("12.5"), note="Biên bản")}, actor=officer
    )
    survey_apply(framework=framework, entries={"X2": {"2.1": D("7.25")}}, actor=appraiser, via=Via.IMPORT)
    framework_set_deadlines(
        framework=framework, self_deadline=local(2024, 12, 1, 17, 0), appraisal_deadline=None, actor=appraiser
    )
    return framework


def test_activity_log_lists_changes_readably(client, activity_world, appraiser, officer):
    client.force_login(appraiser)
    response = client.get(reverse("scoring:framework_activity", args=[activity_world.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "12,5" in body and "7,25" in body  # decimal comma
    assert "Nhập tệp" in body and "Trang web" in body
    assert "01/12/2024 17:00" in body
    assert officer.username in body and appraiser.username in body
    now = timezone.localtime().strftime("%d/%m/%Y")
    assert now in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"unit": "X1"}, {("assessment_create", ""), ("self_score", "self_points"), ("self_score", "note")}),
        ({"criterion": "2.1"}, {("survey", "appraised_points")}),
        ({"action": "deadline"}, {("deadline", "self_deadline")}),
        ({"criterion": "2"}, {("survey", "appraised_points")}),  # a criterion and everything under it
        ({"via": "import"}, {("survey", "appraised_points")}),
        (
            {"unit": "X1", "criterion": "1.1", "action": "self_score"},
            {("self_score", "self_points"), ("self_score", "note")},
        ),
    ],
)
def test_activity_filters(client, activity_world, appraiser, params, expected):
    client.force_login(appraiser)
    response = client.get(reverse("scoring:framework_activity", args=[activity_world.code]), params)
    got = {(line.entry.action, line.entry.field) for line in response.context["lines"]}
    assert got == expected


def test_activity_filter_by_actor_and_dates(client, activity_world, appraiser, officer):
    client.force_login(appraiser)
    url = reverse("scoring:framework_activity", args=[activity_world.code])
    mine = client.get(url, {"actor": str(officer.pk)}).context["lines"]
    assert mine and all(line.entry.actor == officer for line in mine)
    today = timezone.localdate()
    assert client.get(url, {"date_from": today.strftime("%d/%m/%Y")}).context["page"].paginator.count > 0
    assert (
        client.get(url, {"date_to": (today - timedelta(days=1)).isoformat()}).context["page"].paginator.count
        == 0
    )


def test_activity_is_paginated_by_50(client, framework, assessment, officer, appraiser):
    AuditEntry.objects.bulk_create(
        [
            audit_entry(
                assessment=assessment,
                criterion=leaf(framework, "1.1"),
                action="self_score",
                field="self_points",
                old=str(i),
                new=str(i + 1),
                actor=officer,
                via=Via.WEB,
            )
            for i in range(60)
        ]
    )
    client.force_login(appraiser)
    url = reverse("scoring:framework_activity", args=[framework.code])
    first = client.get(url, {"action": "self_score"})
    assert len(first.context["lines"]) == 50 and first.context["page"].has_next()
    assert "action=self_score&amp;page=2" in first.content.decode()
    second = client.get(url, {"action": "self_score", "page": "2"})
    assert len(second.context["lines"]) == 10


# --- score history ----------------------------------------------------------------------------------------------


def test_score_history_full_page_and_partial(client, framework, assessment, officer, appraiser):
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("12.5"), note="Biên bản")}, actor=officer
    )
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("13.25"))}, actor=appraiser, on_behalf=True
    )
    url = reverse("scoring:score_history", args=[assessment.pk, leaf(framework, "1.1").pk])
    client.force_login(officer)
    page = client.get(url)
    lines = page.context["lines"]
    assert [(line.entry.field, line.old, line.new) for line in lines][:1] == [
        ("self_points", "12,5", "13,25")
    ]
    assert lines[0].entry.actor == appraiser  # newest first
    assert all(line.entry.criterion_code == "1.1" for line in lines)
    assert "<html" in page.content.decode()
    partial = client.get(url, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert "<html" not in body and "13,25" in body and "12,5" in body
    assert [t.name for t in partial.templates][0] == "scoring/framework/_score_history.html"


def test_score_history_of_a_criterion_of_another_framework_is_404(
    client, district, framework, assessment, officer
):
    other = make_framework(district, rows=rows_from_spec(TREE), code="FWOTHER", year=2023)
    client.force_login(officer)
    url = reverse("scoring:score_history", args=[assessment.pk, leaf(other, "1.1").pk])
    assert client.get(url).status_code == 404


# --- query counts -----------------------------------------------------------------------------------------------


def _grow(framework, district, n):
    for i in range(n):
        unit = make_unit(f"Q{n}-{i}", kind=UnitKind.COMMUNE, parent=district)
        a = assessment_get_or_create(unit=unit, framework=framework)
        if i % 2:
            Assessment.objects.filter(pk=a.pk).update(status=AssessmentStatus.SUBMITTED)
    survey_apply(
        framework=framework, entries={f"Q{n}-{i}": {"2.1": D("10"), "2.2": D("5")} for i in range(n)}
    )


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name",
    [
        "framework_board",
        "survey_grid",
        "framework_activity",
        "framework_publish",
        "framework_deadlines",
        "framework_list",
    ],
)
def test_query_count_does_not_grow_with_units(client, province, name):
    counts = []
    for n in (5, 30):
        district = make_unit(f"HQ{n}", kind=UnitKind.DISTRICT, parent=province)
        framework = make_framework(district, rows=rows_from_spec(TREE), code=f"FWQ{n}")
        appraiser = make_member(district, Role.APPRAISER, f"appraiser{n}")
        _grow(framework, district, n)
        client.force_login(appraiser)
        url = (
            reverse("scoring:framework_list")
            if name == "framework_list"
            else reverse(f"scoring:{name}", args=[framework.code])
        )
        counts.append(_queries(client, url))
    assert counts[0] == counts[1], counts


def test_survey_post_query_count_does_not_grow_with_units(client, province):
    counts = []
    # 20 units: 40 audit rows fit one SQLite bulk insert (999 parameters ÷ 20 columns a row).
    for n in (5, 20):
        district = make_unit(f"HP{n}", kind=UnitKind.DISTRICT, parent=province)
        framework = make_framework(district, rows=rows_from_spec(TREE), code=f"FWP{n}")
        appraiser = make_member(district, Role.APPRAISER, f"appraiserp{n}")
        units = [make_unit(f"P{n}-{i}", kind=UnitKind.COMMUNE, parent=district) for i in range(n)]
        data = {cell(framework, u, "2.1"): "12,1" for u in units} | {
            cell(framework, u, "2.2"): "3" for u in units
        }
        client.force_login(appraiser)
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(reverse("scoring:survey_grid", args=[framework.code]), data)
        assert response.status_code == 302
        assert Score.objects.filter(assessment__framework=framework).count() == 2 * n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_score_history_query_count_does_not_grow(client, framework, assessment, officer):
    url = reverse("scoring:score_history", args=[assessment.pk, leaf(framework, "1.1").pk])
    client.force_login(officer)
    counts = []
    for n in (3, 30):
        AuditEntry.objects.bulk_create(
            [
                audit_entry(
                    assessment=assessment,
                    criterion=leaf(framework, "1.1"),
                    action="self_score",
                    field="self_points",
                    new=str(i),
                    actor=officer,
                    via=Via.WEB,
                )
                for i in range(n)
            ]
        )
        counts.append(_queries(client, url))
    assert counts[0] == counts[1], counts


def test_board_offers_to_open_an_assessment_where_a_unit_has_none(client, board_world, appraiser, leader):
    start = reverse("scoring:assessment_start", args=[board_world.code, "X5"])
    url = reverse("scoring:framework_board", args=[board_world.code])
    client.force_login(appraiser)
    assert start in client.get(url).content.decode()
    client.force_login(leader)
    assert start not in client.get(url).content.decode()
