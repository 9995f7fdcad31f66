"""Dashboards: selectors, remediation services, views per persona, exports, and constant
query counts at 15 and 300 units. Units, assessments and scores are built in bulk for speed and the
stored results computed with one results_recompute per framework."""

import csv
import io
import random
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from reports import selectors
from reports.models import RemediationItem, RemediationStatus
from reports.remediation import remediation_suggest, remediation_update
from scoring.access import reach
from scoring.models import (
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    CriterionSource,
    Framework,
    FrameworkStatus,
    Score,
)
from scoring.results.engine import results_recompute
from scoring.results.selectors import ranking
from units.models import Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

# Two self-assessed areas (70) and a survey area (30).
TREE = [
    ("1", 20),
    ("1.1", 12.5),
    ("1.2", 7.5),
    ("2", 50),
    ("2.1", 30),
    ("2.2", 20),
    ("3", 30, "score", "survey"),
    ("3.1", 30, "score", "survey"),
]


# --- bulk builders (shared with tests/browser/test_dashboards.py) -----------------------------------


def bulk_units(parent: Unit, n: int, prefix: str) -> list[Unit]:
    """n communes under parent, created in one INSERT with their materialised paths set."""
    units = Unit.objects.bulk_create(
        [
            Unit(code=f"{prefix}{i:04d}", name=f"Xã {prefix}{i:04d}", kind=UnitKind.COMMUNE, parent=parent)
            for i in range(1, n + 1)
        ]
    )
    for unit in units:
        unit.path = f"{parent.path}{unit.pk}/"
    Unit.objects.bulk_update(units, ["path"], batch_size=500)
    return units


def bulk_year(
    framework: Framework, units, *, seed: int, status=AssessmentStatus.APPRAISED
) -> list[Assessment]:
    """An assessment per unit with every leaf scored (self points, and appraised points a little lower
    on some self leaves), then the stored results."""
    assessments = Assessment.objects.bulk_create(
        [Assessment(unit=unit, framework=framework, status=status) for unit in units], batch_size=500
    )
    leaves = list(Criterion.objects.filter(framework=framework, is_leaf=True))
    rnd = random.Random(seed)
    scores = []
    for assessment in assessments:
        for leaf in leaves:
            share = D(rnd.randint(40, 100)) / 100
            points = (leaf.max_points * share).quantize(D("0.01"))
            if leaf.source == CriterionSource.SURVEY:
                scores.append(Score(assessment=assessment, criterion=leaf, appraised_points=points))
                continue
            appraised = None
            if status in (AssessmentStatus.APPRAISED, AssessmentStatus.PUBLISHED):
                appraised = max(D("0"), points - D(rnd.choice([0, 0, 1, 2])))
            scores.append(
                Score(assessment=assessment, criterion=leaf, self_points=points, appraised_points=appraised)
            )
    Score.objects.bulk_create(scores, batch_size=1000)
    results_recompute(framework)
    return assessments


def publish(framework: Framework, number="4769/QĐ-UBND"):
    from tests.publishing import walk_and_publish

    return walk_and_publish(framework=framework, decision_number=number, decision_date=date(2024, 12, 21))


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def years(district, commune, other_commune, officer, other_officer, appraiser, leader):
    """2023 and 2024 commune frameworks of district H (X1, X2 and 6 more communes); 2024 published."""
    extra = bulk_units(district, 6, "C")
    units = [commune, other_commune, *extra]
    fw23 = make_framework(district, rows=rows_from_spec(TREE), year=2023, code="XA-2023")
    bulk_year(fw23, units, seed=23)
    fw24 = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-2024")
    bulk_year(fw24, units, seed=24)
    fw24 = publish(fw24)
    return {"fw23": fw23, "fw24": fw24, "units": units}


@pytest.fixture
def suggested(years):
    remediation_suggest(framework=years["fw24"])
    return years


def assessment_of(unit, framework):
    return Assessment.objects.get(unit=unit, framework=framework)


# --- selectors --------------------------------------------------------------------------------------


def test_ranking_rows_follow_the_stored_results(years, leader):
    fw = years["fw24"]
    rows = ranking(fw, units=selectors.units_shown(reach(leader))).lines
    stored = list(AssessmentResult.objects.filter(framework=fw).order_by("rank", "assessment__unit__code"))
    assert [row.assessment_id for row in rows] == [res.assessment_id for res in stored]
    assert all(row.index == res.index.quantize(D("0.01")) for row, res in zip(rows, stored, strict=True))
    assert rows[0].rank == 1 and not rows[0].provisional
    # 2024 is compared with 2023: every unit has a change in points and places.
    assert all(row.points_change is not None and row.rank_change is not None for row in rows)
    assert {row.arrow for row in rows} <= {"▲", "▼", "▬"}


def test_ranking_scope_is_the_users_authority(years, district, leader, province):
    other_district = make_unit("H2", kind=UnitKind.DISTRICT, parent=province)
    stranger = make_member(other_district, Role.LEADER, "leader_h2")
    assert ranking(years["fw24"], units=selectors.units_shown(reach(stranger))).lines == []
    assert len(ranking(years["fw24"], units=selectors.units_shown(reach(leader)))) == 8


def test_ranking_narrowed_to_a_subtree(years, district, leader, province):
    ward_group = make_unit("CUM", kind=UnitKind.DISTRICT, parent=district, name="Cụm xã")
    inside = make_unit("Y1", parent=ward_group)
    fw = make_framework(district, rows=rows_from_spec(TREE), year=2025, code="XA-2025")
    bulk_year(fw, [*years["units"], inside], seed=25)
    rows = ranking(fw, units=selectors.units_shown(reach(leader), under=ward_group)).lines
    assert [row.unit_code for row in rows] == ["Y1"]
    assert ward_group in selectors.subtree_choices(fw, reach(leader))


def test_grade_distribution_counts_every_unit(years, leader):
    fw = years["fw24"]
    bands = selectors.framework_bands(fw)
    rows = ranking(fw, units=selectors.units_shown(reach(leader))).lines
    distribution = selectors.grade_distribution(rows, bands)
    assert [line.name for line in distribution][:5] == ["Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"]
    assert sum(line.count for line in distribution) == len(rows)
    by_name = {line.name: line.count for line in distribution}
    assert all(by_name[row.grade] >= 1 for row in rows)


def test_area_matrix_and_framework_average(years, leader):
    fw = years["fw24"]
    matrix = selectors.area_matrix(fw, reach(leader))
    assert [a.code for a in matrix.areas] == ["1", "2", "3"]
    row, cells = matrix.rows[0]
    assessment = Assessment.objects.get(pk=row.assessment_id)
    for area, cell in zip(matrix.areas, cells, strict=True):
        stored = assessment.area_results.get(area_id=area.id)
        assert (cell.points, cell.rank) == (stored.points, stored.rank)
        assert cell.colour.startswith("hsl(")
    first = matrix.areas[0]
    indices = [cells[0].index for _row, cells in matrix.rows]
    assert abs(first.average_index - sum(indices) / len(indices)) < D("0.02")
    assert first.ranked == 8


def test_unit_profile_follows_predecessors_across_a_merger(years, district, commune, other_commune, leader):
    merged = make_unit("X3", parent=district, name="Xã Hợp Nhất", predecessors=[commune, other_commune])
    fw25 = make_framework(district, rows=rows_from_spec(TREE), year=2025, code="XA-2025")
    bulk_year(fw25, [merged, *years["units"][2:]], seed=25)
    profile = selectors.unit_profile(merged)
    assert [u.code for u in profile.lineage] == ["X3", "X1", "X2"]
    history = [(p.year, p.unit_code, p.own) for p in profile.history]
    assert history == [
        (2023, "X1", False),
        (2023, "X2", False),
        (2024, "X1", False),
        (2024, "X2", False),
        (2025, "X3", True),
    ]
    assert profile.result.framework == fw25 and profile.result.ranked == 7
    assert len(profile.areas) == 3
    # One line across the merger: 2024 is the pooled predecessors stored with X3's year-on-year change,
    # 2023 their pooled index (no single place).
    series = profile.continuous_series()
    x3 = AssessmentResult.objects.get(assessment__unit=merged)
    assert series[2024] == (x3.previous_index.quantize(D("0.01")), x3.previous_rank)
    before = AssessmentResult.objects.filter(
        framework=years["fw23"], assessment__unit__in=[commune, other_commune]
    )
    pooled = sum(r.points for r in before) * 100 / sum(r.max_points for r in before)
    assert series[2023] == (pooled.quantize(D("0.01"), "ROUND_HALF_UP"), None)
    assert series[2025][1] == profile.result.rank


def test_unit_profile_losses_and_adjustments(years, commune):
    fw = years["fw24"]
    assessment = assessment_of(commune, fw)
    profile = selectors.unit_profile(commune, fw)
    losses = [item.lost for item in profile.lost]
    assert losses == sorted(losses, reverse=True) and all(lost > 0 for lost in losses)
    for item in profile.lost:
        assert item.lost == item.max_points - item.achieved
    expected = {
        s.criterion.code
        for s in Score.objects.filter(assessment=assessment, criterion__source="self").select_related(
            "criterion"
        )
        if s.appraised_points is not None and s.appraised_points != s.self_points
    }
    assert {adj.code for adj in profile.adjustments} == expected
    assert all(adj.difference < 0 for adj in profile.adjustments)


def test_progress_counts_overdue_and_overstatement(district, commune, other_commune, appraiser):
    fw = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-P")
    past = timezone.now() - timedelta(days=2)
    Framework.objects.filter(pk=fw.pk).update(
        self_deadline=past, appraisal_deadline=timezone.now() + timedelta(days=5)
    )
    fw.refresh_from_db()
    late = bulk_units(district, 2, "L")
    bulk_year(fw, late, seed=1, status=AssessmentStatus.DRAFT)
    bulk_year(fw, [commune], seed=2, status=AssessmentStatus.APPRAISED)
    bulk_year(fw, [other_commune], seed=3, status=AssessmentStatus.SUBMITTED)
    board = selectors.progress(fw, reach(appraiser))
    counts = {status: n for status, _label, n, _colour in board.by_status}
    assert counts == {"draft": 2, "submitted": 1, "returned": 0, "appraised": 1, "published": 0}
    assert sorted(row.unit_code for row in board.overdue) == ["L0001", "L0002"]
    x1 = next(row for row in board.rows if row.unit_code == "X1")
    scores = Score.objects.filter(
        assessment__unit=commune, assessment__framework=fw, criterion__source="self"
    )
    assert x1.overstatement == sum(s.self_points - s.appraised_points for s in scores)
    assert [row.overstatement for row in board.overstated] == sorted(
        (row.overstatement for row in board.overstated), reverse=True
    )


# --- remediation services -----------------------------------------------------------------------------


def test_remediation_suggest_needs_publication(years):
    with pytest.raises(ValidationError):
        remediation_suggest(framework=years["fw23"])
    assert not RemediationItem.objects.exists()


def test_remediation_suggest_weakest_criteria_once(years, commune, appraiser):
    fw = years["fw24"]
    created = remediation_suggest(framework=fw, per_unit=3, actor=appraiser)
    assert created == 8 * 3
    items = list(RemediationItem.objects.filter(assessment__unit=commune).order_by("-points_lost"))
    profile = selectors.unit_profile(commune, fw)
    assert [(i.criterion.code, i.points_lost) for i in items] == [(c.code, c.lost) for c in profile.lost[:3]]
    assert remediation_suggest(framework=fw, per_unit=3) == 0  # existing items are kept, none doubled
    assert AuditEntry.objects.filter(framework_id=fw.pk, action="remediation_suggest").count() == 2


def test_remediation_update_by_the_units_officer(suggested, commune, officer):
    item = RemediationItem.objects.filter(assessment__unit=commune).first()
    remediation_update(
        item=item,
        action="Bổ sung quy chế",
        responsible="Nguyễn Văn A",
        due_date=date(2025, 6, 30),
        status=RemediationStatus.PLANNED,
        actor=officer,
    )
    item.refresh_from_db()
    assert (item.action, item.responsible, item.due_date, item.status, item.updated_by) == (
        "Bổ sung quy chế",
        "Nguyễn Văn A",
        date(2025, 6, 30),
        "planned",
        officer,
    )
    trail = AuditEntry.objects.filter(action="remediation_update", assessment_id=item.assessment.pk)
    assert sorted(trail.values_list("field", flat=True)) == ["action", "due_date", "responsible", "status"]


@pytest.mark.parametrize("who", ["other_officer", "leader"])
def test_remediation_update_refused_for_others(suggested, commune, who, request):
    user = request.getfixturevalue(who)
    item = RemediationItem.objects.filter(assessment__unit=commune).first()
    with pytest.raises(ServiceError) as refused:
        remediation_update(
            item=item, action="x", responsible="y", due_date=None, status="planned", actor=user
        )
    assert refused.value.error_code == ErrorCode.FORBIDDEN and refused.value.status == 403
    item.refresh_from_db()
    assert item.action == "" and item.status == RemediationStatus.PROPOSED


# --- views per persona ----------------------------------------------------------------------------------

PERSONAS = ["leader", "appraiser", "officer", "other_officer", "anonymous"]


def client_for(client, request, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    return client


FRAMEWORK_PAGES = [
    "/dashboards/?framework=XA-2024",
    "/dashboards/frameworks/XA-2024/areas/",
    "/dashboards/frameworks/XA-2024/progress/",
    "/dashboards/frameworks/XA-2024/ranking.csv",
    "/dashboards/frameworks/XA-2024/ranking.xlsx",
]


@pytest.mark.parametrize("url", FRAMEWORK_PAGES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [("leader", 200), ("appraiser", 200), ("officer", 403), ("other_officer", 403), ("anonymous", 302)],
)
def test_framework_pages_per_persona(suggested, client, request, url, who, expected):
    if expected == 403 and url.startswith("/dashboards/?"):
        expected = 404  # the dashboard itself lists the results of many units: nothing there for an officer
    response = client_for(client, request, who).get(url)
    assert response.status_code == expected
    if expected == 302:
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "expected"),
    [("leader", 200), ("appraiser", 200), ("officer", 200), ("other_officer", 404), ("anonymous", 302)],
)
def test_unit_profile_per_persona(suggested, client, request, who, expected):
    response = client_for(client, request, who).get("/dashboards/units/X1/?framework=XA-2024")
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("leader", 200), ("appraiser", 200), ("officer", 200), ("other_officer", 200), ("anonymous", 302)],
)
def test_remediation_list_per_persona(suggested, client, request, who, expected):
    response = client_for(client, request, who).get("/dashboards/remediation/")
    assert response.status_code == expected
    if who == "officer":
        shown = {item.assessment.unit.code for item in response.context["items"]}
        assert shown == {"X1"}
    if who == "leader":
        assert response.context["page"].paginator.count == RemediationItem.objects.count()


@pytest.mark.parametrize(
    ("who", "get", "post"),
    [
        ("leader", 200, 403),
        ("appraiser", 200, 302),
        ("officer", 200, 302),
        ("other_officer", 404, 404),
        ("anonymous", 302, 302),
    ],
)
def test_remediation_edit_per_persona(suggested, client, request, commune, who, get, post):
    item = RemediationItem.objects.filter(assessment__unit=commune).first()
    c = client_for(client, request, who)
    assert c.get(f"/dashboards/remediation/{item.pk}/").status_code == get
    response = c.post(
        f"/dashboards/remediation/{item.pk}/",
        {
            "action": "Ban hành kế hoạch",
            "responsible": "Chủ tịch UBND xã",
            "due_date": "30/06/2025",
            "status": "in_progress",
        },
    )
    assert response.status_code == post
    item.refresh_from_db()
    if who in ("officer", "appraiser"):
        assert (item.action, item.due_date, item.status) == (
            "Ban hành kế hoạch",
            date(2025, 6, 30),
            "in_progress",
        )
    else:
        assert item.action == "" and item.status == "proposed"


def test_remediation_edit_form_errors_save_nothing(suggested, client, officer, commune):
    item = RemediationItem.objects.filter(assessment__unit=commune).first()
    client.force_login(officer)
    response = client.post(
        f"/dashboards/remediation/{item.pk}/", {"action": "", "due_date": "31/02/2025", "status": "planned"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"action", "due_date"}
    item.refresh_from_db()
    assert item.status == "proposed"


@pytest.mark.parametrize(
    ("who", "expected"),
    [("appraiser", 302), ("leader", 403), ("officer", 403), ("other_officer", 403), ("anonymous", 302)],
)
def test_remediation_suggest_button_per_persona(years, client, request, who, expected):
    response = client_for(client, request, who).post("/dashboards/frameworks/XA-2024/remediation/suggest/")
    assert response.status_code == expected
    assert RemediationItem.objects.exists() == (who == "appraiser")


def test_remediation_suggest_is_post_only(years, client, appraiser):
    client.force_login(appraiser)
    assert client.get("/dashboards/frameworks/XA-2024/remediation/suggest/").status_code == 405


def test_overdue_filter(suggested, client, leader, commune):
    item = RemediationItem.objects.filter(assessment__unit=commune).first()
    RemediationItem.objects.filter(pk=item.pk).update(due_date=date(2020, 1, 1), status="planned")
    client.force_login(leader)
    response = client.get("/dashboards/remediation/?overdue=on")
    assert [i.pk for i in response.context["items"]] == [item.pk]
    assert "quá hạn" in response.content.decode()


def test_unknown_subtree_or_framework_is_404(years, client, leader):
    client.force_login(leader)
    assert client.get("/dashboards/?framework=NOPE").status_code == 404
    assert client.get("/dashboards/frameworks/XA-2024/areas/?under=NOPE").status_code == 404
    assert client.get("/dashboards/frameworks/NOPE/progress/").status_code == 404
    assert client.get("/dashboards/frameworks/XA-2024/ranking.pdf").status_code == 404


def test_dashboard_page_shows_ranking_changes_and_charts(years, client, leader):
    client.force_login(leader)
    response = client.get("/dashboards/?year=2024&kind=commune")
    assert response.context["framework"].code == "XA-2024"
    html = response.content.decode()
    assert 'data-chart="index-chart"' in html and 'id="index-chart" type="application/json"' in html
    assert 'data-chart="grade-chart"' in html and 'id="grade-table"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    rows = response.context["rows"]
    moved = next(row for row in rows if row.rank_change)
    assert ("tăng" if moved.rank_change > 0 else "giảm") in html and "bậc" in html
    assert "Đề xuất kế hoạch khắc phục" not in html  # leaders do not suggest


def test_provisional_badge_until_appraised(district, commune, leader, client):
    fw = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-OPEN")
    bulk_year(fw, [commune], seed=5, status=AssessmentStatus.SUBMITTED)
    client.force_login(leader)
    html = client.get("/dashboards/?framework=XA-OPEN").content.decode()
    assert 'class="badge provisional"' in html and "tạm tính" in html


def test_appraiser_sees_the_suggest_button_once_published(years, client, appraiser):
    client.force_login(appraiser)
    assert "Đề xuất kế hoạch khắc phục" in client.get("/dashboards/?framework=XA-2024").content.decode()
    assert "Đề xuất kế hoạch khắc phục" not in client.get("/dashboards/?framework=XA-2023").content.decode()


# --- exports ------------------------------------------------------------------------------------------------


def test_ranking_csv_export(years, client, leader):
    client.force_login(leader)
    response = client.get("/dashboards/frameworks/XA-2024/ranking.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="xep-hang-XA-2024.csv"' in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    # Vietnamese: semicolons and decimal commas, as Excel in a Vietnamese locale reads them.
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert lines[0][:3] == ["Xếp hạng", "Mã đơn vị", "Đơn vị"]
    stored = list(
        AssessmentResult.objects.filter(framework=years["fw24"])
        .select_related("assessment__unit")
        .order_by("rank", "assessment__unit__code")
    )
    assert len(lines) == 1 + len(stored)
    first = lines[1]
    assert first[0] == "hạng 1/8" and first[1] == stored[0].assessment.unit.code
    assert first[3] == f"{stored[0].points:.2f}".replace(".", ",")
    assert first[5] == f"{stored[0].index:.2f}".replace(".", ",")


def test_ranking_xlsx_export_of_a_subtree(years, client, leader, district):
    client.force_login(leader)
    response = client.get("/dashboards/frameworks/XA-2024/ranking.xlsx?under=H")
    assert response.status_code == 200
    assert 'filename="xep-hang-XA-2024-H.xlsx"' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value.endswith("(XA-2024)")
    assert [cell.value for cell in sheet[4]][:6] == [
        "Xếp hạng",
        "Mã đơn vị",
        "Đơn vị",
        "Điểm",
        "Điểm tối đa",
        "Chỉ số",
    ]
    stored = (
        AssessmentResult.objects.filter(framework=years["fw24"], rank=1)
        .select_related("assessment__unit")
        .first()
    )
    assert sheet["A5"].value == "1/8" and sheet["B5"].value == stored.assessment.unit.code
    assert D(str(sheet["D5"].value)) == stored.points
    assert sheet.max_row == 4 + 8


# --- constant query counts: 15 and 300 units ---------------------------------------------------------------


def _framework_with(province, leader_and_appraiser, n: int, code: str):
    district = make_unit(f"D{n}", kind=UnitKind.DISTRICT, parent=province)
    units = bulk_units(district, n, f"Q{n}-")
    before = make_framework(district, rows=rows_from_spec(TREE), year=2023, code=f"{code}-2023")
    bulk_year(before, units, seed=n)
    fw = make_framework(district, rows=rows_from_spec(TREE), year=2024, code=code)
    bulk_year(fw, units, seed=n + 1)
    fw = publish(fw)
    remediation_suggest(framework=fw)
    return fw, units


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries.captured_queries)


@pytest.mark.parametrize("role", [Role.LEADER, Role.APPRAISER])
def test_query_counts_do_not_grow_with_units(province, client, role):
    user = make_member(province, role, f"{role}_province")
    small, small_units = _framework_with(province, user, 15, "SMALL")
    large, large_units = _framework_with(province, user, 300, "LARGE")
    client.force_login(user)
    pages = [
        "/dashboards/?framework={code}",
        "/dashboards/frameworks/{code}/areas/",
        "/dashboards/frameworks/{code}/areas/?show=rank",
        "/dashboards/frameworks/{code}/progress/",
        "/dashboards/frameworks/{code}/ranking.csv",
        "/dashboards/frameworks/{code}/ranking.xlsx",
        "/dashboards/remediation/?framework={code}",
        "/dashboards/units/{unit}/?framework={code}",
    ]
    for page in pages:
        counts = [
            _count(client, page.format(code=fw.code, unit=units[-1].code))
            for fw, units in ((small, small_units), (large, large_units))
        ]
        assert counts[0] == counts[1], f"{page}: {counts[0]} queries with 15 units, {counts[1]} with 300"
        assert counts[1] <= 20, f"{page}: {counts[1]} queries"
    # At most five items per unit (fewer where a unit lost points on fewer criteria).
    assert 300 * 4 < RemediationItem.objects.filter(assessment__framework=large).count() <= 300 * 5
    assert Framework.objects.get(pk=large.pk).status == FrameworkStatus.PUBLISHED


def test_areas_page_heatmap_titles_and_ranks(years, client, leader):
    client.force_login(leader)
    html = client.get("/dashboards/frameworks/XA-2024/areas/").content.decode()
    assert "trong lĩnh vực" in html and "xếp thứ 1/8 trong lĩnh vực" in html
    assert 'id="heatmap"' in html and 'id="averages"' in html and "Trung bình chung" in html
    assert "<small>#" not in html
    ranked = client.get("/dashboards/frameworks/XA-2024/areas/?show=rank").content.decode()
    assert "<small>#1</small>" in ranked


def test_english_on_request(years, client, leader):
    client.force_login(leader)
    client.cookies["django_language"] = "en"
    html = client.get("/dashboards/?framework=XA-2024").content.decode()
    assert "Grade distribution" in html and "Export to CSV" in html


def test_profile_of_a_merged_unit_names_predecessors_of_two_former_districts(client, province):
    """Ward P from Xã Đông (district H1) and Xã Tây (district H2), assessed by the province in 2025:
    its history shows each predecessor by name with the framework and authority that assessed it."""
    h1 = make_unit("H1", kind=UnitKind.DISTRICT, parent=province, name="Huyện Đông Sơn")
    h2 = make_unit("H2", kind=UnitKind.DISTRICT, parent=province, name="Huyện Tây Sơn")
    east = make_unit("XD", parent=h1, name="Xã Đông")
    west = make_unit("XT", parent=h2, name="Xã Tây")
    ward = make_unit("PW", parent=province, name="Phường Hợp Nhất", predecessors=[east, west])
    fw1 = make_framework(h1, rows=rows_from_spec(TREE), year=2024, code="H1-2024")
    fw2 = make_framework(h2, rows=rows_from_spec(TREE), year=2024, code="H2-2024")
    bulk_year(fw1, [east], seed=1)
    bulk_year(fw2, [west], seed=2)
    fw25 = make_framework(province, rows=rows_from_spec(TREE), year=2025, code="T-2025")
    bulk_year(fw25, [ward], seed=3)
    profile = selectors.unit_profile(ward)
    assert [(p.year, p.unit_name, p.framework.code, p.authority_name, p.own) for p in profile.history] == [
        (2024, "Xã Đông", "H1-2024", "Huyện Đông Sơn", False),
        (2024, "Xã Tây", "H2-2024", "Huyện Tây Sơn", False),
        (2025, "Phường Hợp Nhất", "T-2025", "Tỉnh Thử", True),
    ]
    client.force_login(make_member(province, Role.LEADER))
    html = client.get("/dashboards/units/PW/").content.decode()
    assert "Xã Đông (Huyện Đông Sơn), Xã Tây (Huyện Tây Sơn)" in html  # formed from, by name
    history = html[html.index('id="history"') :]
    assert "Xã Đông" in history and "Xã Tây" in history and "XD" not in history and "XT" not in history
    assert f'{fw1.name} <span class="muted">· Huyện Đông Sơn</span>' in history
    assert f'{fw2.name} <span class="muted">· Huyện Tây Sơn</span>' in history
    # The 2024 figure of its line is the predecessors pooled across the two districts' frameworks.
    result = AssessmentResult.objects.get(assessment__unit=ward)
    before = AssessmentResult.objects.filter(assessment__unit__in=[east, west])
    pooled = sum(r.points for r in before) * 100 / sum(r.max_points for r in before)
    assert result.previous_index == pooled.quantize(D("0.01"), "ROUND_HALF_UP")
    assert result.previous_rank is None and result.rank_change is None
    assert profile.continuous_series()[2024] == (result.previous_index, None)
