"""Commune-level unit kinds, several frameworks per authority, kind and year, ranking groups and units
assessed but not ranked (DESIGN §2.2, §5)."""

import json
from decimal import Decimal as D

import pytest
from django.utils import translation

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.frameworks.groups import GroupSpec, assessment_set_ranked, framework_set_groups, parse_groups
from scoring.models import AreaResult, Assessment, AssessmentResult, Framework
from scoring.results.selectors import ranking
from units.models import UnitKind

from .factories import make_framework, make_unit, rows_from_spec
from .sheet_files import call, call_failing, write_xlsx

TREE = [("1", 60), ("1.1", 60), ("2", 40), ("2.1", 40)]


@pytest.fixture
def units(province):
    return {
        code: make_unit(code, kind=kind, parent=province, name=name)
        for code, kind, name in [
            ("XA", UnitKind.COMMUNE, "Xã A"),
            ("XB", UnitKind.COMMUNE, "Xã B"),
            ("XC", UnitKind.COMMUNE, "Xã C"),
            ("DK", UnitKind.SPECIAL_ZONE, "Đặc khu D"),
            ("PA", UnitKind.WARD, "Phường A"),
            ("PB", UnitKind.WARD, "Phường B"),
            ("PC", UnitKind.WARD, "Phường C"),
        ]
    }


def score(framework, unit, first, second):
    """Self points on the two leaves (areas 1 and 2): index = first + second of 100."""
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D(first)), "2.1": SelfEntry(D(second))}
    )
    return assessment


def places(framework):
    return {
        r.assessment.unit.code: (r.index, r.rank)
        for r in AssessmentResult.objects.filter(framework=framework).select_related("assessment__unit")
    }


# --- unit kinds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ward", UnitKind.WARD),
        ("Phường", UnitKind.WARD),
        ("phuong", UnitKind.WARD),
        ("special_zone", UnitKind.SPECIAL_ZONE),
        ("Đặc khu", UnitKind.SPECIAL_ZONE),
        ("Special zone", UnitKind.SPECIAL_ZONE),
        ("township", UnitKind.TOWNSHIP),
        ("THỊ TRẤN", UnitKind.TOWNSHIP),
        ("xã", UnitKind.COMMUNE),
        ("commune", UnitKind.COMMUNE),
    ],
)
def test_commune_level_kinds_are_parsed_by_code_label_and_vietnamese_word(name, kind):
    assert UnitKind.parse(name) == kind


def test_kinds_are_shown_in_vietnamese_and_english():
    kinds = [UnitKind.COMMUNE, UnitKind.WARD, UnitKind.SPECIAL_ZONE, UnitKind.TOWNSHIP]
    with translation.override("vi"):
        assert [str(k.label) for k in kinds] == ["Xã", "Phường", "Đặc khu", "Thị trấn"]
    with translation.override("en"):
        assert [str(k.label) for k in kinds] == ["Commune", "Ward", "Special zone", "Township"]


def test_a_list_of_kinds_is_parsed_in_order_and_unknown_names_are_reported():
    assert UnitKind.parse_list("commune, special_zone") == ([UnitKind.COMMUNE, UnitKind.SPECIAL_ZONE], [])
    assert UnitKind.parse_list("xã; phường; xã") == ([UnitKind.COMMUNE, UnitKind.WARD], [])
    assert UnitKind.parse_list("sở, ban, ngành") == ([UnitKind.DEPARTMENT], [])
    assert UnitKind.parse_list("ward,thôn") == ([UnitKind.WARD], ["thôn"])


# --- several frameworks per authority, kind and year ---------------------------------------------------


def import_framework(tmp_path, code, kinds, *extra):
    path = write_xlsx(
        tmp_path / f"{code}.xlsx",
        [["Mã", "Tiêu chí", "Điểm tối đa"], *[(c, f"Tiêu chí {c}", m) for c, m in TREE]],
    )
    return call(
        "import_framework",
        path,
        "--code",
        code,
        "--authority",
        "T",
        "--unit-kind",
        kinds,
        "--year",
        "2025",
        "--name",
        f"Bộ chỉ số {code}",
        *extra,
    )


def test_two_frameworks_for_the_same_authority_kind_and_year_are_imported(tmp_path, units):
    import_framework(tmp_path, "XA-1", "commune,special_zone")
    import_framework(tmp_path, "XA-2", "Xã")
    first, second = Framework.objects.get(code="XA-1"), Framework.objects.get(code="XA-2")
    assert (first.authority, first.year) == (second.authority, second.year)
    assert first.covered_kinds == ["commune", "special_zone"] and second.covered_kinds == ["commune"]
    assert first.unit_kind == second.unit_kind == "commune"
    with translation.override("vi"):
        assert str(first.kinds_display) == "Xã, Đặc khu"
    assessment_get_or_create(unit=units["DK"], framework=first)
    assessment_get_or_create(unit=units["XA"], framework=second)


def test_an_unknown_kind_in_the_list_is_refused(tmp_path, units):
    path = write_xlsx(
        tmp_path / "k.xlsx", [["Mã", "Tiêu chí", "Điểm tối đa"], *[(c, f"Tiêu chí {c}", m) for c, m in TREE]]
    )
    err, _ = call_failing(
        "import_framework", path, "--code", "K", "--authority", "T", "--unit-kind", "commune,thôn",
        "--year", "2025", "--name", "K",
    )  # fmt: skip
    assert "thôn" in err
    assert not Framework.objects.filter(code="K").exists()


def test_a_unit_assessed_in_one_framework_is_refused_by_another_of_the_same_authority_and_year(
    tmp_path, units
):
    import_framework(tmp_path, "XA-1", "commune,special_zone")
    import_framework(tmp_path, "XA-2", "commune")
    first, second = Framework.objects.get(code="XA-1"), Framework.objects.get(code="XA-2")
    assessment_get_or_create(unit=units["XA"], framework=first)
    with pytest.raises(ServiceError) as refused:
        assessment_get_or_create(unit=units["XA"], framework=second)
    assert refused.value.error_code == ErrorCode.CONFLICT
    assert "XA-1" in refused.value.text("en") and "XA-1" in refused.value.text("vi")
    assert not Assessment.objects.filter(framework=second).exists()
    # Its own framework still finds it; another year's framework of the same authority may assess it.
    assert assessment_get_or_create(unit=units["XA"], framework=first).framework == first
    other_year = make_framework(units["XA"].parent, rows=rows_from_spec(TREE), year=2024, code="XA-2024")
    assessment_get_or_create(unit=units["XA"], framework=other_year)


def test_a_unit_whose_kind_the_framework_does_not_cover_is_refused(tmp_path, units):
    import_framework(tmp_path, "XA-1", "commune,special_zone")
    with pytest.raises(ServiceError) as refused:
        assessment_get_or_create(unit=units["PA"], framework=Framework.objects.get(code="XA-1"))
    with translation.override("en"):
        assert refused.value.text("en") == (
            "Unit PA is a Ward; framework XA-1 assesses units of kind Commune, Special zone."
        )


# --- ranking groups -----------------------------------------------------------------------------------


def test_groups_from_the_command_rank_wards_apart_from_communes(tmp_path, units):
    import_framework(
        tmp_path, "CX", "commune,special_zone,ward", "--groups", "Xã:commune,special_zone;Phường:ward"
    )
    framework = Framework.objects.get(code="CX")
    assert list(framework.ranking_groups.values_list("name", "unit_kinds")) == [
        ("Xã", ["commune", "special_zone"]),
        ("Phường", ["ward"]),
    ]
    # Communes: 90, 85.5, 85.5 (tie), special zone 70 → 1, 2, 2, 4. Wards: 88, 95, 60 → 2, 1, 3.
    for code, first, second in [
        ("XA", 55, 35),
        ("XB", "50.5", 35),
        ("XC", "45.5", 40),
        ("DK", 40, 30),
        ("PA", 50, 38),
        ("PB", 60, 35),
        ("PC", 30, 30),
    ]:
        score(framework, units[code], first, second)
    assert places(framework) == {
        "XA": (D("90.00"), 1),
        "XB": (D("85.50"), 2),
        "XC": (D("85.50"), 2),
        "DK": (D("70.00"), 4),
        "PA": (D("88.00"), 2),
        "PB": (D("95.00"), 1),
        "PC": (D("60.00"), 3),
    }
    # Area 2 within the ward group: 38, 35, 30 → 1, 2, 3 (the communes' 40 does not count).
    area_ranks = dict(
        AreaResult.objects.filter(framework=framework, area__code="2").values_list(
            "assessment__unit__code", "rank"
        )
    )
    assert (area_ranks["PA"], area_ranks["PB"], area_ranks["PC"]) == (1, 2, 3)
    assert (area_ranks["XC"], area_ranks["XA"], area_ranks["XB"], area_ranks["DK"]) == (1, 2, 2, 4)

    out, _ = call("ranking", "--framework", "CX", "--format", "json")
    items = json.loads(out)
    assert [(i["group"], i["unit_code"], i["rank"], i["ranked"]) for i in items] == [
        ("Xã", "XA", 1, True),
        ("Xã", "XB", 2, True),
        ("Xã", "XC", 2, True),
        ("Xã", "DK", 4, True),
        ("Phường", "PB", 1, True),
        ("Phường", "PA", 2, True),
        ("Phường", "PC", 3, True),
    ]
    out, _ = call("ranking", "--framework", "CX", "--format", "json", "--group", "Phường")
    assert [(i["unit_code"], i["rank"], i["index"]) for i in json.loads(out)] == [
        ("PB", 1, "95.00"),
        ("PA", 2, "88.00"),
        ("PC", 3, "60.00"),
    ]
    err, _ = call_failing("ranking", "--framework", "CX", "--group", "Nhóm III")
    assert "Nhóm III" in err or "Nhóm III" in str(_)


def test_a_group_by_explicit_units_wins_over_the_kind_and_regroups_existing_assessments(units, province):
    framework = make_framework(province, rows=rows_from_spec(TREE), unit_kind=UnitKind.COMMUNE, code="G")
    for code, first, second in [("XA", 50, 40), ("XB", 40, 40), ("XC", 30, 30)]:
        score(framework, units[code], first, second)
    assert [p[1] for p in sorted(places(framework).values())] == [3, 2, 1]
    framework_set_groups(
        framework=framework,
        groups=parse_groups("Nhóm I:commune;Nhóm II:XA,XC"),
    )
    assert {a.unit.code: a.ranking_group.name for a in Assessment.objects.filter(framework=framework)} == {
        "XA": "Nhóm II",
        "XB": "Nhóm I",
        "XC": "Nhóm II",
    }
    assert places(framework) == {"XA": (D("90.00"), 1), "XB": (D("80.00"), 1), "XC": (D("60.00"), 2)}
    assert AuditEntry.objects.filter(action="framework_set_groups").count() == 1
    # No groups again: one ranking for all.
    framework_set_groups(framework=framework, groups=[])
    assert places(framework) == {"XA": (D("90.00"), 1), "XB": (D("80.00"), 2), "XC": (D("60.00"), 3)}


def test_groups_are_refused_for_an_uncovered_kind_an_unknown_unit_or_a_kind_twice(units, province):
    framework = make_framework(province, rows=rows_from_spec(TREE), unit_kind=UnitKind.COMMUNE, code="G")
    with pytest.raises(ServiceError) as refused:
        framework_set_groups(
            framework=framework,
            groups=[
                GroupSpec("A", ("commune",)),
                GroupSpec("B", ("commune", "ward"), ("NOPE",)),
            ],
        )
    texts = (
        [e.text("en") for e in refused.value.details] if refused.value.details else [refused.value.text("en")]
    )
    joined = " ".join(texts)
    assert "NOPE" in joined and "Ward" in joined and "two ranking groups" in joined
    assert not framework.ranking_groups.exists()
    with pytest.raises(ServiceError):
        parse_groups("Xã commune")


# --- assessed but not ranked ----------------------------------------------------------------------------


def test_a_unit_not_ranked_has_no_place_and_leaves_the_others_ranks(units, province):
    framework = make_framework(province, rows=rows_from_spec(TREE), unit_kind=UnitKind.COMMUNE, code="NR")
    xa = score(framework, units["XA"], 50, 40)  # 90
    score(framework, units["XB"], 55, 40)  # 95: the best, but not ranked
    score(framework, units["XC"], 40, 40)  # 80
    with pytest.raises(ServiceError):
        assessment_set_ranked(assessment=Assessment.objects.get(unit=units["XB"]), ranked=False, reason=" ")
    assessment_set_ranked(
        assessment=Assessment.objects.get(unit=units["XB"]), ranked=False, reason="Mới thành lập năm 2025"
    )
    assert places(framework) == {"XA": (D("90.00"), 1), "XB": (D("95.00"), None), "XC": (D("80.00"), 2)}
    assert not AreaResult.objects.filter(assessment__unit=units["XB"], rank__isnull=False).exists()
    # Area 2: XB's 45 is out of the ranks, XA's and XC's 40 share the first place.
    assert AreaResult.objects.get(assessment=xa, area__code="2").rank == 1
    entry = AuditEntry.objects.get(action="assessment_set_ranked")
    assert (entry.old_value, entry.new_value, entry.reason, entry.unit_code) == (
        "ranked",
        "not ranked",
        "Mới thành lập năm 2025",
        "XB",
    )

    lines = ranking(framework)
    assert [(line.unit_code, line.rank, line.ranked) for line in lines] == [
        ("XA", 1, True),
        ("XC", 2, True),
        ("XB", None, False),
    ]
    assert lines.ranked == 2 and lines.lines[2].not_ranked_reason == "Mới thành lập năm 2025"
    out, _ = call("ranking", "--framework", "NR", "--format", "json")
    item = {i["unit_code"]: i for i in json.loads(out)}["XB"]
    assert (item["rank"], item["ranked"], item["group"], item["index"]) == (None, False, None, "95.00")

    assessment_set_ranked(assessment=Assessment.objects.get(unit=units["XB"]), ranked=True)
    assert places(framework) == {"XA": (D("90.00"), 2), "XB": (D("95.00"), 1), "XC": (D("80.00"), 3)}


# --- the dashboard's ranking page ---------------------------------------------------------------------


@pytest.fixture
def grouped(units, province):
    framework = make_framework(
        province, rows=rows_from_spec(TREE), unit_kind=UnitKind.COMMUNE, code="CX", year=2025
    )
    framework.unit_kinds = ["commune", "special_zone", "ward"]
    framework.save(update_fields=["unit_kinds"])
    framework_set_groups(framework=framework, groups=parse_groups("Xã:commune,special_zone;Phường:ward"))
    for code, first, second in [
        ("XA", 55, 35),
        ("XB", 50, 30),
        ("DK", 40, 30),
        ("PA", 50, 38),
        ("PB", 60, 35),
    ]:
        score(framework, units[code], first, second)
    assessment_set_ranked(
        assessment=Assessment.objects.get(unit=units["DK"]), ranked=False, reason="Mới thành lập"
    )
    return framework


def test_the_dashboard_shows_each_unit_s_group_place_and_the_unranked_with_their_reason(
    grouped, client, province
):
    from .factories import make_member

    client.force_login(make_member(province, "leader", "leader_t"))
    response = client.get("/dashboards/?framework=CX")
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.group, r.unit_code, r.rank, r.places) for r in rows] == [
        ("Xã", "XA", 1, 2),
        ("Xã", "XB", 2, 2),
        ("Xã", "DK", None, 2),
        ("Phường", "PB", 1, 2),
        ("Phường", "PA", 2, 2),
    ]
    html = response.content.decode()
    assert "Nhóm xếp hạng" in html and "1/2" in html and "01/02" not in html
    assert "đánh giá, không xếp hạng" in html and "Mới thành lập" in html

    response = client.get("/dashboards/?framework=CX&group=Phường")
    assert [r.unit_code for r in response.context["rows"]] == ["PB", "PA"]
    assert ">2/2<" in response.content.decode()
    # An unknown group shows them all.
    assert len(client.get("/dashboards/?framework=CX&group=Nope").context["rows"]) == 5


def test_a_ward_shows_phuong_in_the_dashboard_kind_filter(grouped, client, province):
    from .factories import make_member

    client.force_login(make_member(province, "leader", "leader_t"))
    kinds = dict(client.get("/dashboards/?framework=CX").context["kinds"])
    assert str(kinds["ward"]) == "Phường" and str(kinds["special_zone"]) == "Đặc khu"
    assert [f.code for f in client.get("/dashboards/?kind=ward").context["candidates"]] == ["CX"]


def test_the_ranking_export_carries_the_group_place_and_not_ranked_reason(grouped, client, province):
    import csv
    import io

    from django.urls import reverse

    from .factories import make_member

    client.force_login(make_member(province, "leader", "leader_t"))
    response = client.get(reverse("reports:ranking_export", args=["CX", "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    by_unit = {row[1]: (row[0], row[-2], row[-1]) for row in rows[1:]}
    assert by_unit == {
        "XA": ("hạng 1/2", "Xã", ""),
        "XB": ("hạng 2/2", "Xã", ""),
        "DK": ("", "Xã", "Mới thành lập"),
        "PB": ("hạng 1/2", "Phường", ""),
        "PA": ("hạng 2/2", "Phường", ""),
    }


def test_the_import_page_takes_several_kinds_and_groups(client, units, province):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from .factories import make_member

    client.force_login(make_member(province, "appraiser", "appraiser_t"))
    body = "Mã,Tiêu chí,Điểm tối đa\n1,A,60\n1.1,B,60\n2,C,40\n2.1,D,40\n".encode()
    response = client.post(
        reverse("scoring:framework_import"),
        {
            "file": SimpleUploadedFile("bo.csv", body),
            "code": "CX-WEB",
            "name": "Bộ chỉ số cấp xã",
            "authority": "T",
            "unit_kind": ["commune", "ward"],
            "groups": "Xã:commune;Phường:ward",
            "year": 2025,
            "bands": "Tốt:80,Khá:0",
            "decimals": 2,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    framework = Framework.objects.get(code="CX-WEB")
    assert framework.covered_kinds == ["commune", "ward"]
    assert list(framework.ranking_groups.values_list("name", flat=True)) == ["Xã", "Phường"]


def test_the_admin_shows_a_framework_s_groups_and_kinds(grouped, admin_client):
    from django.urls import reverse

    html = admin_client.get(reverse("admin:scoring_framework_change", args=[grouped.pk])).content.decode()
    assert "Xã, Đặc khu, Phường" in html and "Nhóm xếp hạng" in html
    listing = admin_client.get(reverse("admin:scoring_assessment_changelist") + "?ranked__exact=0")
    assert [a.unit.code for a in listing.context["cl"].result_list] == ["DK"]


def test_a_framework_s_units_leave_out_those_assessed_in_another_set_of_the_year(tmp_path, units):
    from scoring.frameworks.views import framework_units

    import_framework(tmp_path, "XA-1", "commune")
    import_framework(tmp_path, "XA-2", "commune")
    first, second = Framework.objects.get(code="XA-1"), Framework.objects.get(code="XA-2")
    assessment_get_or_create(unit=units["XA"], framework=first)
    assert [u.code for u in framework_units(first)] == ["XA", "XB", "XC"]
    assert [u.code for u in framework_units(second)] == ["XB", "XC"]


def test_the_board_leaves_a_unit_out_of_the_ranking_and_ranks_it_again(grouped, client, province, units):
    from django.urls import reverse

    from .factories import make_member

    xa = Assessment.objects.get(unit=units["XA"], framework=grouped)
    url = reverse("scoring:assessment_ranked", args=[xa.pk])
    client.force_login(make_member(units["XB"], "officer", "officer_xb"))
    assert client.post(url, {"ranked": "0", "reason": "x"}).status_code == 404
    client.force_login(make_member(province, "appraiser", "appraiser_t"))
    assert client.get(url).status_code == 405
    client.post(url, {"ranked": "0", "reason": ""})
    assert Assessment.objects.get(pk=xa.pk).ranked  # refused without a reason
    response = client.post(url, {"ranked": "0", "reason": "Miễn theo quyết định"})
    assert response.status_code == 302
    assert places(grouped)["XA"] == (D("90.00"), None) and places(grouped)["XB"] == (D("80.00"), 1)
    response = client.get(reverse("scoring:framework_board", args=["CX"]))
    html = response.content.decode()
    assert "Miễn theo quyết định" in html and "Xếp hạng trở lại" in html
    # Places are out of the units ranked in the unit's group: XB 1/1 among communes, PB 1/2 among wards.
    board = {row.unit.code: (row.result.rank, row.places) for row in response.context["rows"] if row.result}
    assert board["XB"] == (1, 1) and board["PB"] == (1, 2) and board["XA"] == (None, 1)
    client.post(url, {"ranked": "1"})
    assert places(grouped)["XA"] == (D("90.00"), 1) and places(grouped)["XB"] == (D("80.00"), 2)
