"""The province view (issue 12, deliverable 6): a province office and its leader see one row per
framework × ranking group of a year (units, submitted, appraised, not ranked, mean index, grade
distribution) and a searchable, paginated table of all their units, in a constant number of queries;
nobody else opens it."""

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports import selectors
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.frameworks.groups import assessment_set_ranked, framework_set_groups, parse_groups
from scoring.models import Assessment, AssessmentStatus, RankingGroup
from scoring.results.engine import results_recompute
from units.models import Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .test_dashboards import bulk_units, bulk_year

TREE = [("1", 60), ("1.1", 60), ("2", 40), ("2.1", 40)]


def score(framework, unit, first, second):
    """Self points on the two leaves: index = first + second (of 100)."""
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D(first)), "2.1": SelfEntry(D(second))}
    )
    return assessment


def set_status(framework, status, *codes):
    Assessment.objects.filter(framework=framework, unit__code__in=codes).update(status=status)


def build_province(province):
    """Province T: two former districts (2024 frameworks of their communes), their communes merged in
    2025 into communes XA, XB, XC (XC from both districts), wards PA, PB and special zone DK, assessed
    by the province's 2025 commune-level set CX (groups Xã, Phường; DK not ranked), and a department
    assessed by the province's department set SO."""
    h1 = make_unit("H1", kind=UnitKind.DISTRICT, parent=province, name="Huyện Cũ Một", active_to=2025)
    h2 = make_unit("H2", kind=UnitKind.DISTRICT, parent=province, name="Huyện Cũ Hai", active_to=2025)
    old = {
        code: make_unit(code, parent=parent, name=f"Xã cũ {code}", active_to=2024)
        for code, parent in [("A1", h1), ("A2", h1), ("B1", h2), ("B2", h2)]
    }
    new = {
        "XA": make_unit("XA", parent=province, name="Xã An Phú", predecessors=[old["A1"]], active_from=2025),
        "XB": make_unit(
            "XB", parent=province, name="Xã Bình Minh", predecessors=[old["B1"]], active_from=2025
        ),
        "XC": make_unit(
            "XC", parent=province, name="Xã Cẩm Giang", predecessors=[old["A2"], old["B2"]], active_from=2025
        ),
        "DK": make_unit("DK", kind=UnitKind.SPECIAL_ZONE, parent=province, name="Đặc khu Hòn Mê"),
        "PA": make_unit("PA", kind=UnitKind.WARD, parent=province, name="Phường Đông Sơn"),
        "PB": make_unit("PB", kind=UnitKind.WARD, parent=province, name="Phường Tây Sơn"),
        "SO": make_unit("SO", kind=UnitKind.DEPARTMENT, parent=province, name="Sở Tư pháp"),
    }
    fw24 = make_framework(h1, rows=rows_from_spec(TREE), year=2024, code="H1-2024")
    for code, first, second in [("A1", 50, 30), ("A2", 40, 30)]:
        score(fw24, old[code], first, second)
    cx = make_framework(province, rows=rows_from_spec(TREE), year=2025, code="CX-2025")
    cx.unit_kinds = ["commune", "special_zone", "ward"]
    cx.save(update_fields=["unit_kinds"])
    framework_set_groups(framework=cx, groups=parse_groups("Xã:commune,special_zone;Phường:ward"))
    for code, first, second in [
        ("XA", 55, 35),  # 90 Xuất sắc
        ("XB", 50, 30),  # 80 Tốt
        ("XC", 30, 30),  # 60 Trung bình
        ("DK", 40, 30),  # 70 Khá, not ranked
        ("PA", 50, 38),  # 88 Tốt
        ("PB", 60, 35),  # 95 Xuất sắc
    ]:
        score(cx, new[code], first, second)
    set_status(cx, AssessmentStatus.APPRAISED, "XA", "DK", "PA")
    set_status(cx, AssessmentStatus.SUBMITTED, "XB")
    set_status(cx, AssessmentStatus.RETURNED, "PB")
    results_recompute(cx)
    assessment_set_ranked(
        assessment=Assessment.objects.get(framework=cx, unit=new["DK"]), ranked=False, reason="Mới thành lập"
    )
    so = make_framework(
        province, rows=rows_from_spec(TREE), year=2025, code="SO-2025", unit_kind=UnitKind.DEPARTMENT
    )
    score(so, new["SO"], 45, 30)  # 75 Khá, draft
    return {"cx": cx, "so": so, "fw24": fw24, "h1": h1, "h2": h2, **old, **new}


@pytest.fixture
def data(province):
    return build_province(province)


@pytest.fixture
def leader_t(province):
    return make_member(province, Role.LEADER, "leader_t")


@pytest.fixture
def appraiser_t(province):
    return make_member(province, Role.APPRAISER, "noivu_t")


def url(province, **query):
    from urllib.parse import urlencode

    return reverse("reports:province", args=[province.code]) + ("?" + urlencode(query) if query else "")


# --- rows per framework × group ---------------------------------------------------------------------


def summary(rows):
    return [
        (
            row.framework.code,
            row.group_name,
            row.units,
            row.submitted,
            row.appraised,
            row.not_ranked,
            row.average_index,
        )
        for row in rows
    ]


def test_one_row_per_framework_and_group_with_counts_and_mean_index(data, province):
    rows = selectors.province_rows(province, 2025)
    assert summary(rows) == [
        ("CX-2025", "Xã", 4, 3, 2, 1, D("75.00")),  # (90 + 80 + 60 + 70) / 4
        ("CX-2025", "Phường", 2, 2, 1, 0, D("91.50")),  # (88 + 95) / 2
        ("SO-2025", "", 1, 0, 0, 0, D("75.00")),
    ]
    assert [row.provisional for row in rows] == [True, True, True]


def test_each_row_counts_units_per_grade_band_of_its_framework(data, province):
    rows = selectors.province_rows(province, 2025)
    grades = [[(line.name, line.count) for line in row.grades] for row in rows]
    assert grades == [
        [("Xuất sắc", 1), ("Tốt", 1), ("Khá", 1), ("Trung bình", 1), ("Yếu", 0)],
        [("Xuất sắc", 1), ("Tốt", 1), ("Khá", 0), ("Trung bình", 0), ("Yếu", 0)],
        [("Xuất sắc", 0), ("Tốt", 0), ("Khá", 1), ("Trung bình", 0), ("Yếu", 0)],
    ]


def test_a_group_without_units_and_units_in_no_group_have_rows_of_their_own(data, province):
    cx = data["cx"]
    RankingGroup.objects.create(framework=cx, name="Nhóm trống", order=9)
    Assessment.objects.filter(framework=cx, unit__code="XC").update(ranking_group=None)
    rows = summary(selectors.province_rows(province, 2025))
    assert rows[:4] == [
        ("CX-2025", "Xã", 3, 3, 2, 1, D("80.00")),
        ("CX-2025", "Phường", 2, 2, 1, 0, D("91.50")),
        ("CX-2025", "Nhóm trống", 0, 0, 0, 0, None),
        ("CX-2025", "", 1, 0, 0, 0, D("60.00")),
    ]


def test_the_page_defaults_to_the_latest_year_and_shows_former_district_frameworks_of_other_years(
    data, province, client, leader_t
):
    client.force_login(leader_t)
    response = client.get(url(province))
    assert response.status_code == 200
    assert response.context["year"] == 2025 and response.context["years"] == [2025, 2024]
    html = response.content.decode()
    for label in ("Tổng hợp cấp tỉnh", "Đã nộp", "Đã thẩm định", "Không xếp hạng", "Chỉ số bình quân"):
        assert label in html
    assert "Phân bố xếp loại" in html and "Huyện cũ" in html and "Tìm kiếm" in html
    assert "75,00" in html and "91,50" in html  # Vietnamese decimal comma
    # The row's link opens the framework's ranking of that group.
    assert "?framework=CX-2025&amp;group=Ph%C6%B0%E1%BB%9Dng" in html

    response = client.get(url(province, year=2024))
    assert summary(response.context["rows"]) == [("H1-2024", "", 2, 0, 0, 0, D("75.00"))]
    assert "Huyện Cũ Một" in response.content.decode()  # who issued a former district's set


# --- the table of units ------------------------------------------------------------------------------


def codes(response):
    return [line.unit.code for line in response.context["lines"]]


def test_the_unit_table_lists_the_year_s_units_with_their_results(data, province, client, appraiser_t):
    client.force_login(appraiser_t)
    response = client.get(url(province))
    # Units active in 2025 (the communes merged away in 2024 are left out), by code.
    assert codes(response) == ["DK", "H1", "H2", "PA", "PB", "SO", "XA", "XB", "XC"]
    lines = {line.unit.code: line for line in response.context["lines"]}
    xc = lines["XC"]
    assert (str(xc.kind_label), xc.former_districts, xc.framework.code, xc.group) == (
        "Xã",
        ["Huyện Cũ Hai", "Huyện Cũ Một"],
        "CX-2025",
        "Xã",
    )
    assert (xc.index, xc.grade, xc.rank, xc.places) == (D("60.00"), "Trung bình", 3, 3)
    assert (lines["PB"].rank, lines["PB"].places, str(lines["PB"].kind_label)) == (1, 2, "Phường")
    assert lines["DK"].rank is None and not lines["DK"].ranked and str(lines["DK"].kind_label) == "Đặc khu"
    assert lines["H1"].framework is None
    html = response.content.decode()
    assert ">1/2<" in html and ">3/3<" in html and "01/02" not in html
    assert 'title="Không xếp hạng: Mới thành lập"' in html
    assert reverse("reports:unit_profile", args=["XC"]) + "?framework=CX-2025" in html

    # An earlier year lists that year's units: a former district's commune under its district.
    response = client.get(url(province, year=2024))
    lines = {line.unit.code: line for line in response.context["lines"]}
    assert "XA" not in lines and lines["A1"].former_districts == ["Huyện Cũ Một"]
    assert (lines["A1"].framework.code, lines["A1"].rank, lines["A1"].places) == ("H1-2024", 1, 2)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "Sơn"}, ["PA", "PB"]),  # a part of the name
        ({"q": "xb"}, ["XB"]),  # a part of the code, any case
        ({"q": "đông sơn"}, ["PA"]),  # the name in lower case (Đ is no ASCII letter)
        ({"q": "ĐẶC KHU"}, ["DK"]),
        ({"kind": "ward"}, ["PA", "PB"]),
        ({"kind": "special_zone"}, ["DK"]),
        ({"district": "H1"}, ["XA", "XC"]),  # through the predecessors' district
        ({"district": "H2"}, ["XB", "XC"]),
        ({"district": "H1", "q": "Phú"}, ["XA"]),
        ({"kind": "nonsense"}, ["DK", "H1", "H2", "PA", "PB", "SO", "XA", "XB", "XC"]),
    ],
)
def test_the_unit_table_is_searched_by_name_code_former_district_and_kind(
    data, province, client, leader_t, query, expected
):
    client.force_login(leader_t)
    assert codes(client.get(url(province, **query))) == expected


def test_htmx_asks_for_the_unit_table_alone(data, province, client, leader_t):
    client.force_login(leader_t)
    response = client.get(url(province, q="Sơn"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="province-units")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="province-units">')
    assert "Phường Đông Sơn" in html and "province-rows" not in html and "<html" not in html


def add_units(province, framework, n, prefix):
    """n communes of the province assessed in `framework`, ranked in its Xã group, each formed from a
    commune of a former district."""
    units = bulk_units(province, n, prefix)
    district = Unit.objects.get(code="H1")
    former = bulk_units(district, n, f"{prefix}old")
    Unit.predecessors.through.objects.bulk_create(
        [
            Unit.predecessors.through(from_unit_id=unit.pk, to_unit_id=old.pk)
            for unit, old in zip(units, former, strict=True)
        ]
    )
    Unit.objects.filter(pk__in=[u.pk for u in former]).update(active_to=2024)
    bulk_year(framework, units, seed=n)
    Assessment.objects.filter(framework=framework, unit__in=units).update(
        ranking_group=RankingGroup.objects.get(framework=framework, name="Xã")
    )
    results_recompute(framework)
    return units


def test_the_unit_table_is_paginated_fifty_a_page(data, province, client, leader_t):
    add_units(province, data["cx"], 60, "Q")
    client.force_login(leader_t)
    first = client.get(url(province))
    assert first.context["page"].paginator.count == 69 and len(codes(first)) == 50
    assert first.context["page"].paginator.num_pages == 2
    second = client.get(url(province, page=2))
    assert len(codes(second)) == 19 and set(codes(first)).isdisjoint(codes(second))
    assert "page=2" in first.content.decode()
    searched = client.get(url(province, q="Q00", page=2))
    assert codes(searched) == [f"Q{i:04d}" for i in range(51, 61)]
    assert "q=Q00&amp;page=1" in searched.content.decode()  # the pager keeps the search


def count_queries(client, address) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(address)
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_page_reads_a_constant_number_of_queries_with_2_or_many_units(province, client, leader_t):
    """With 2 units of each group and with 150 more (predecessors, groups, former districts, ranks):
    the same number of queries for the rows, the table, a search and the htmx table."""
    data = build_province(province)
    client.force_login(leader_t)
    addresses = [
        url(province),
        url(province, district="H1"),
        url(province, q="X", kind="commune"),
        url(province, year=2024),
    ]
    small = [count_queries(client, address) for address in addresses]
    add_units(province, data["cx"], 150, "Q")
    large = [count_queries(client, address) for address in addresses]
    assert small == large
    assert max(large) <= 20, large
    rows = selectors.province_rows(province, 2025)
    assert rows[0].units == 154  # the many units are really in the rows read


# --- who may open it ------------------------------------------------------------------------------


def test_only_the_province_s_appraisers_and_leaders_open_it(data, province, client):
    other = make_unit("T2", kind=UnitKind.PROVINCE, name="Tỉnh Khác")
    make_framework(other, rows=rows_from_spec(TREE), year=2025, code="T2-2025")
    personas = {
        "leader": (make_member(province, Role.LEADER, "lead"), 200),
        "appraiser": (make_member(province, Role.APPRAISER, "appr"), 200),
        "commune officer": (make_member(data["XA"], Role.OFFICER, "off_xa"), 404),
        "former district's appraiser": (make_member(data["h1"], Role.APPRAISER, "appr_h1"), 404),
        "other province's leader": (make_member(other, Role.LEADER, "lead_t2"), 404),
        "other province's appraiser": (make_member(other, Role.APPRAISER, "appr_t2"), 404),
    }
    for name, (user, status) in personas.items():
        client.force_login(user)
        assert client.get(url(province)).status_code == status, name
    client.logout()
    assert client.get(url(province)).status_code == 302  # to the sign-in page
    # The other province's leader opens their own province, not this one (nor a unit that is no province).
    client.force_login(personas["other province's leader"][0])
    assert client.get(url(other)).status_code == 200
    assert client.get(reverse("reports:province", args=["XA"])).status_code == 404


def test_the_province_home_sends_to_the_user_s_province_and_the_dashboard_links_it(
    data, province, client, leader_t
):
    client.force_login(leader_t)
    response = client.get(reverse("reports:province_home"))
    assert response.status_code == 302 and response.url == url(province)
    dashboard = client.get(reverse("reports:dashboard") + "?framework=CX-2025").content.decode()
    assert dashboard.count(url(province)) >= 1 and "Tổng hợp cấp tỉnh" in dashboard
    assert url(province, year=2025) in dashboard  # the framework's tab
    client.force_login(make_member(data["h1"], Role.LEADER, "lead_h1"))
    assert client.get(reverse("reports:province_home")).status_code == 404
    assert "Tổng hợp cấp tỉnh" not in client.get(reverse("reports:dashboard")).content.decode()


def test_the_tabs_of_a_province_framework_link_the_province_view_and_a_district_s_do_not(
    data, client, province
):
    client.force_login(make_member(province, Role.LEADER, "lead"))
    html = client.get(reverse("reports:areas", args=["CX-2025"])).content.decode()
    assert "Tổng hợp cấp tỉnh" in html and url(province, year=2025) in html
    html = client.get(reverse("reports:areas", args=["H1-2024"])).content.decode()
    assert "Tổng hợp cấp tỉnh" not in html
