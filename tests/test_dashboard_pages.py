"""Dashboards that stay small at any scale (issue 14, deliverable 3): the ranking, the areas heatmap
and the progress board show a page of DASHBOARD_PAGE_SIZE units narrowed by filters (search, unit
kind, former district, ranking group, grade, status), with the true ranks of the framework; the whole
lists are the exports; the number of queries does not depend on the number of units."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.selectors import DASHBOARD_PAGE_SIZE, HEATMAP_PAGE_SIZE
from scoring.models import AssessmentResult, AssessmentStatus, Framework
from scoring.results.selectors import ranking
from units.models import Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .test_dashboards import TREE, bulk_units, bulk_year

MAX_QUERIES = 12


def _framework(authority, units, code: str, *, status=AssessmentStatus.APPRAISED) -> Framework:
    """A framework of communes and wards (every third unit a ward) with every leaf scored."""
    Unit.objects.filter(pk__in=[u.pk for u in units[1::3]]).update(kind=UnitKind.WARD)
    framework = make_framework(authority, rows=rows_from_spec(TREE), year=2024, code=code)
    Framework.objects.filter(pk=framework.pk).update(unit_kinds=[UnitKind.WARD])
    bulk_year(framework, units, seed=len(units), status=status)
    return Framework.objects.get(pk=framework.pk)


@pytest.fixture
def big(district):
    units = bulk_units(district, 150, "B")
    return _framework(district, units, "BIG"), units


def _rows(html: str, table_id: str) -> int:
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr")


# --- pages and true ranks ------------------------------------------------------------------------------


def test_ranking_page_two_shows_the_true_ranks(big, client, leader):
    framework, _units = big
    client.force_login(leader)
    whole = ranking(framework).lines
    first = client.get(f"/dashboards/?framework={framework.code}")
    second = client.get(f"/dashboards/?framework={framework.code}&page=2")
    assert len(first.context["rows"]) == DASHBOARD_PAGE_SIZE
    rows = second.context["rows"]
    assert [row.assessment_id for row in rows] == [line.assessment_id for line in whole[DASHBOARD_PAGE_SIZE:]]
    stored = dict(AssessmentResult.objects.filter(framework=framework).values_list("assessment_id", "rank"))
    assert [row.rank for row in rows] == [stored[row.assessment_id] for row in rows]
    assert rows[0].rank > DASHBOARD_PAGE_SIZE // 2  # not the position on the page
    html = second.content.decode()
    assert f"{rows[0].rank}/150" in html and _rows(html, "ranking") == 50
    assert second.context["total"] == 150 and second.context["ranked"] == 150
    # Past the last page: the last page.
    assert client.get(f"/dashboards/?framework={framework.code}&page=9").context["page"].number == 2


def test_heatmap_and_progress_are_paginated(big, client, leader):
    framework, _units = big
    client.force_login(leader)
    areas = client.get(f"/dashboards/frameworks/{framework.code}/areas/?page=2&show=rank")
    assert _rows(areas.content.decode(), "heatmap") == HEATMAP_PAGE_SIZE == 50
    assert "show=rank" in areas.context["query"]  # the page links keep the view
    past = client.get(f"/dashboards/frameworks/{framework.code}/areas/?page=7")
    assert past.context["page"].number == 3 and len(past.context["matrix"].rows) == 50
    whole = ranking(framework).lines
    assert [line.unit_code for line, _cells in areas.context["matrix"].rows] == [
        line.unit_code for line in whole[50:100]
    ]
    assert areas.context["page"].paginator.count == 150
    progress = client.get(f"/dashboards/frameworks/{framework.code}/progress/")
    html = progress.content.decode()
    assert _rows(html, "progress-table") == DASHBOARD_PAGE_SIZE
    assert progress.context["total"] == 150 and 'rel="next"' in html


def test_filters_combine_and_stay_in_the_page_links(big, client, leader):
    framework, _units = big
    client.force_login(leader)
    grade = AssessmentResult.objects.filter(framework=framework).values_list("grade", flat=True)[0]
    url = f"/dashboards/?framework={framework.code}&kind=ward&q=B00&grade={grade}"
    response = client.get(url)
    rows = response.context["rows"]
    expected = AssessmentResult.objects.filter(
        framework=framework,
        assessment__unit__kind=UnitKind.WARD,
        assessment__unit__code__contains="B00",
        grade=grade,
    ).count()
    assert 0 < len(rows) == expected == response.context["total"]
    assert all(row.grade == grade and "B00" in row.unit_code for row in rows)
    assert {Unit.objects.get(code=row.unit_code).kind for row in rows} == {UnitKind.WARD}
    query = response.context["query"]
    assert "kind=ward" in query and "q=B00" in query and "grade=" in query
    # The grade distribution and the count are those of the filtered rows.
    assert sum(line.count for line in response.context["distribution"]) == expected
    # The same filters on the heatmap and the progress board.
    areas = client.get(f"/dashboards/frameworks/{framework.code}/areas/?kind=ward&q=B00&grade={grade}")
    assert len(areas.context["matrix"].rows) == expected
    progress = client.get(f"/dashboards/frameworks/{framework.code}/progress/?kind=ward&q=B00&grade={grade}")
    assert len(progress.context["board"].rows) == expected


def test_former_district_filter_follows_predecessors(province, client):
    """Ward Z of the province, merged in 2025 from commune Y of former district H2: the filter
    "former district H2" finds it, and not the units of other districts."""
    h1 = make_unit("H1", kind=UnitKind.DISTRICT, parent=province, name="Huyện Một")
    h2 = make_unit("H2", kind=UnitKind.DISTRICT, parent=province, name="Huyện Hai")
    y = make_unit("Y1", parent=h2, name="Xã Y")
    z = make_unit("Z1", parent=province, name="Xã Z", predecessors=[y])
    others = bulk_units(h1, 5, "K")
    framework = make_framework(province, rows=rows_from_spec(TREE), year=2025, code="TINH-2025")
    bulk_year(framework, [z, *others], seed=3)
    leader = make_member(province, Role.LEADER, "lanhdao_tinh")
    client.force_login(leader)
    response = client.get(f"/dashboards/?framework={framework.code}&district=H2")
    assert [row.unit_code for row in response.context["rows"]] == ["Z1"]
    assert h2 in response.context["districts"]
    assert 'name="district"' in response.content.decode()
    h1_rows = client.get(f"/dashboards/?framework={framework.code}&district=H1").context["rows"]
    assert sorted(row.unit_code for row in h1_rows) == [u.code for u in others]
    # An unknown district is no filter.
    assert len(client.get(f"/dashboards/?framework={framework.code}&district=NOPE").context["rows"]) == 6


def test_group_filter(big, client, leader):
    framework, _units = big
    from scoring.models import Assessment, RankingGroup

    group = RankingGroup.objects.create(framework=framework, name="Phường", order=1)
    Assessment.objects.filter(framework=framework, unit__kind=UnitKind.WARD).update(ranking_group=group)
    client.force_login(leader)
    rows = client.get(f"/dashboards/frameworks/{framework.code}/progress/?group=Phường").context["board"].rows
    assert len(rows) == 50
    rows = client.get(f"/dashboards/?framework={framework.code}&group=Phường").context["rows"]
    assert len(rows) == 50 and {row.group for row in rows} == {"Phường"}


# --- exports: the whole lists, one click away -----------------------------------------------------------


def test_exports_hold_every_unit(big, client, leader):
    framework, _units = big
    client.force_login(leader)
    html = client.get(f"/dashboards/frameworks/{framework.code}/areas/").content.decode()
    assert f"/dashboards/frameworks/{framework.code}/areas.csv" in html
    text = client.get(f"/dashboards/frameworks/{framework.code}/areas.csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(lines) == 1 + 150 and lines[1][0] == "hạng 1/150"
    html = client.get(f"/dashboards/frameworks/{framework.code}/progress/").content.decode()
    assert f"/dashboards/frameworks/{framework.code}/progress.csv" in html
    text = client.get(f"/dashboards/frameworks/{framework.code}/progress.csv?kind=ward").content.decode(
        "utf-8-sig"
    )
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(lines) == 1 + 50 and lines[0][:2] == ["Mã đơn vị", "Đơn vị"]
    ranking_csv = client.get(f"/dashboards/frameworks/{framework.code}/ranking.csv").content.decode(
        "utf-8-sig"
    )
    assert len(ranking_csv.strip().splitlines()) == 1 + 150


# --- permissions unchanged ------------------------------------------------------------------------------


def test_an_officer_never_sees_other_units(district, commune, officer, client):
    units = [commune, *bulk_units(district, 12, "D")]
    framework = _framework(district, units, "NHAP", status=AssessmentStatus.DRAFT)
    client.force_login(officer)
    for url in (
        f"/dashboards/?framework={framework.code}",
        f"/dashboards/?framework={framework.code}&q=D00",
        f"/dashboards/frameworks/{framework.code}/areas/?q=D00",
        f"/dashboards/frameworks/{framework.code}/areas.csv",
        f"/dashboards/frameworks/{framework.code}/progress/?status=draft",
        f"/dashboards/frameworks/{framework.code}/progress.csv",
        "/dashboards/units/D0001/",
    ):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert b"D0001" not in response.content, url


def test_a_leader_of_another_district_sees_none_of_these_units(big, province, client):
    framework, _units = big
    stranger = make_member(make_unit("H9", kind=UnitKind.DISTRICT, parent=province), Role.LEADER, "h9")
    client.force_login(stranger)
    assert client.get(f"/dashboards/frameworks/{framework.code}/progress.csv").status_code == 404
    assert client.get(f"/dashboards/?framework={framework.code}").status_code == 404


# --- constant queries, small pages ------------------------------------------------------------------------


PAGES = [
    "/dashboards/?framework={code}",
    "/dashboards/?framework={code}&page=1&kind=commune&q=Q&grade=Tốt",
    "/dashboards/frameworks/{code}/areas/",
    "/dashboards/frameworks/{code}/areas/?show=rank&page=1&q=Q",
    "/dashboards/frameworks/{code}/progress/",
    "/dashboards/frameworks/{code}/progress/?status=overdue&kind=ward",
    "/dashboards/units/{unit}/?framework={code}",
]


@pytest.mark.parametrize("role", [Role.LEADER, Role.APPRAISER])
def test_queries_do_not_grow_with_units(province, client, role, django_assert_max_num_queries):
    user = make_member(province, role, f"{role}_tinh")
    frameworks = []
    for n in (10, 60):
        district = make_unit(f"D{n}", kind=UnitKind.DISTRICT, parent=province)
        units = bulk_units(district, n, f"Q{n}-")
        frameworks.append((_framework(district, units, f"SO{n}"), units))
    client.force_login(user)
    for page in PAGES:
        counts = []
        for framework, units in frameworks:
            url = page.format(code=framework.code, unit=units[-1].code)
            client.get(url)  # the first read of the results' version fills the cache
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200, url
            counts.append(len(queries.captured_queries))
        assert counts[0] == counts[1], f"{page}: {counts[0]} queries with 10 units, {counts[1]} with 60"
        assert counts[1] <= MAX_QUERIES, "\n".join(
            [page, *(q["sql"][:150] for q in queries.captured_queries)]
        )
        with django_assert_max_num_queries(MAX_QUERIES):
            client.get(page.format(code=frameworks[1][0].code, unit=frameworks[1][1][-1].code))


def test_pages_stay_small(big, client, leader):
    framework, _units = big
    client.force_login(leader)
    for url, table, size in (
        (f"/dashboards/?framework={framework.code}", "ranking", DASHBOARD_PAGE_SIZE),
        (f"/dashboards/frameworks/{framework.code}/areas/", "heatmap", HEATMAP_PAGE_SIZE),
        (f"/dashboards/frameworks/{framework.code}/progress/", "progress-table", DASHBOARD_PAGE_SIZE),
    ):
        html = client.get(url).content.decode()
        assert _rows(html, table) == size, url
        assert len(html.encode()) < 300_000, url
        # Links and wording resolved once, not once a row.
        assert "{%" not in html
