"""Year on year across the 2025 reform (DESIGN §2.2): the previous result of a unit is its own result
in any framework of its level the year before (whoever ran it, whatever kind the framework names
first), else its predecessors' results pooled across frameworks of different former districts; a
change of place only when last year's place was held in the same ranking: the same framework lineage
AND the same ranking group.

Plain service calls on small trees, so the file runs on SQLite and, with DATABASE_URL=postgres://…
(CI's second pass), on PostgreSQL: the statement under test is raw SQL that must agree on both."""

import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command

from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.frameworks.groups import assessment_set_ranked, framework_set_groups, parse_groups
from scoring.frameworks.services import framework_create
from scoring.models import AssessmentResult
from scoring.results.engine import previous_framework
from units.models import Role, UnitKind
from units.services import unit_move, unit_update

from .factories import make_member, make_unit, rows_from_spec

TREE = [("1", 100), ("1.1", 50), ("1.2", 50)]
COMMUNE_LEVEL = [UnitKind.COMMUNE, UnitKind.WARD, UnitKind.SPECIAL_ZONE]


def framework(authority, year, code, kinds=(UnitKind.COMMUNE,), groups=""):
    made = framework_create(
        code=code,
        authority=authority,
        unit_kind=kinds[0],
        unit_kinds=kinds,
        year=year,
        name=f"Bộ chỉ số {code}",
        rows=rows_from_spec(TREE),
    )
    if groups:
        framework_set_groups(framework=made, groups=parse_groups(groups))
    return made


def assess(framework, unit, first, second=None):
    """1.1 gets `first` points; 1.2 gets `second`, or is proposed not applicable when None."""
    a = assessment_get_or_create(unit=unit, framework=framework)
    if second is None:
        entries = {
            "1.1": SelfEntry(D(first)),
            "1.2": SelfEntry(None, not_applicable=True, not_applicable_reason="Không phát sinh"),
        }
    else:
        entries = {"1.1": SelfEntry(D(first)), "1.2": SelfEntry(D(second))}
    scores_apply_self(assessment=a, entries=entries)
    return a


def change(assessment):
    r = AssessmentResult.objects.get(assessment=assessment)
    return (
        r.previous_points,
        r.previous_index,
        r.previous_rank,
        r.points_change,
        r.index_change,
        r.rank_change,
    )


def json_item(framework, unit_code):
    out = StringIO()
    call_command("ranking", framework=framework.code, format="json", stdout=out)
    return next(item for item in json.loads(out.getvalue()) if item["unit_code"] == unit_code)


@pytest.fixture
def reform(province):
    """Two former districts with their 2024 commune frameworks; the province's 2025 commune-level
    framework ranks communes and wards apart."""
    h1 = make_unit("H1", kind=UnitKind.DISTRICT, parent=province, name="Huyện Đông")
    h2 = make_unit("H2", kind=UnitKind.DISTRICT, parent=province, name="Huyện Tây")
    return {
        "h1": h1,
        "h2": h2,
        "f1": framework(h1, 2024, "H1-2024", kinds=(UnitKind.COMMUNE, UnitKind.TOWNSHIP)),
        "f2": framework(h2, 2024, "H2-2024", kinds=(UnitKind.COMMUNE, UnitKind.TOWNSHIP)),
        "t25": framework(
            province, 2025, "T-2025", kinds=COMMUNE_LEVEL, groups="Xã:commune,special_zone;Phường:ward"
        ),
    }


def test_own_result_counts_across_a_different_authority_without_a_place_change(province, reform):
    """Xã K, kept as it was, ran in district H1's 2024 ranking (1st of 2 with 80 of 100) and in the
    province's 2025 group "Xã" (2nd with 85): points and index change, no change of place."""
    kept = make_unit("K", parent=reform["h1"], name="Xã Giữ Nguyên")
    other = make_unit("O", parent=reform["h1"])
    assess(reform["f1"], kept, "40", "40")
    assess(reform["f1"], other, "30", "30")
    unit_move(unit=kept, parent=province)  # the district is gone; the commune stays as it was
    new = make_unit("N", parent=province)
    a = assess(reform["t25"], kept, "42", "43")
    assess(reform["t25"], new, "45", "45")
    assert change(a) == (D("80"), D("80"), None, D("5"), D("5"), None)
    item = json_item(reform["t25"], "K")
    assert (item["group"], item["ranked"], item["rank"]) == ("Xã", True, 2)
    assert item["change"] == {"points": "5.00", "index": "5.00", "rank": None}


def test_merged_ward_pools_predecessors_of_two_former_districts(province, reform):
    """Phường M from Thị trấn A (H1: 45 of an applicable 50, index 90) and Xã B (H2: 60 of 100, index
    60): points averaged (45 + 60) ÷ 2 = 52,5; index pooled (45 + 60) ÷ (50 + 100) × 100 = 70,00 (not
    the mean of the indices, 75); 77 points in 2025: +24,5 points, +7,00 index, no place change."""
    a = make_unit("A", kind=UnitKind.TOWNSHIP, parent=reform["h1"], name="Thị trấn A")
    b = make_unit("B", parent=reform["h2"], name="Xã B")
    assess(reform["f1"], a, "45")
    assess(reform["f2"], b, "30", "30")
    assess(reform["f2"], make_unit("C", parent=reform["h2"]), "50", "50")
    ward = make_unit("M", kind=UnitKind.WARD, parent=province, name="Phường M", predecessors=[a, b])
    result = assess(reform["t25"], ward, "38.5", "38.5")
    assert change(result) == (D("52.5"), D("70"), None, D("24.5"), D("7"), None)
    item = json_item(reform["t25"], "M")
    assert item["group"] == "Phường" and item["change"] == {"points": "24.50", "index": "7.00", "rank": None}


def test_a_unit_assessed_but_not_ranked_keeps_its_change_of_points_and_index(province, reform):
    a, b = make_unit("A", parent=reform["h1"]), make_unit("B", parent=reform["h1"])
    assess(reform["f1"], a, "40", "40")
    assess(reform["f1"], b, "30", "30")
    merged = make_unit("M", parent=province, predecessors=[a, b])
    assessment = assess(reform["t25"], merged, "40", "40")
    assessment_set_ranked(assessment=assessment, ranked=False, reason="Đơn vị mới thành lập")
    assert change(assessment) == (D("70"), D("70"), None, D("10"), D("10"), None)
    item = json_item(reform["t25"], "M")
    assert (item["ranked"], item["rank"], item["change"]["rank"]) == (False, None, None)


def test_the_previous_framework_is_found_by_any_kind_it_covers(province, reform):
    """District H1's 2024 set named departments first and covered its communes too (one set for all
    its units): a commune's 2024 result there still counts for the province's 2025 commune framework."""
    mixed = framework(reform["h1"], 2024, "H1-ALL-2024", kinds=(UnitKind.DEPARTMENT, UnitKind.COMMUNE))
    commune = make_unit("X", parent=reform["h1"])
    assess(mixed, commune, "30", "30")
    current = assess(reform["t25"], commune, "35", "35")
    assert change(current)[:2] == (D("60"), D("60"))
    assert change(current)[3:5] == (D("10"), D("10"))


def test_place_change_within_the_same_ranking_and_group_only(province, reform):
    """2026 continues the province's 2025 set with the same groups. In group "Phường", P1 went from
    2nd to 1st (+1) and M, formed from P2 and P3 (both in "Phường" in 2025), gets the place its pooled
    index would have held there. Q was ranked in group "Xã" in 2025 and in "Phường" in 2026 (now a
    ward): no place change. In a 2026 set without groups, nobody's place is compared."""
    p1, p2, p3, p4, p5 = (make_unit(f"P{i}", kind=UnitKind.WARD, parent=province) for i in range(1, 6))
    q = make_unit("Q", parent=province)
    t25 = reform["t25"]
    for unit, first in ((p1, "40"), (p2, "45"), (p3, "20"), (p4, "30"), (p5, "35"), (q, "10")):
        assess(t25, unit, first, first)  # Phường: P2 90, P1 80, P5 70, P4 60, P3 40; Xã: Q 20
    assert AssessmentResult.objects.get(assessment__unit=p1, framework=t25).rank == 2

    t26 = framework(province, 2026, "T-2026", kinds=COMMUNE_LEVEL, groups="Xã:commune;Phường:ward")
    assert previous_framework(t26) == t25
    merged = make_unit("M", kind=UnitKind.WARD, parent=province, predecessors=[p2, p3])
    q = unit_update(unit=q, kind=UnitKind.WARD)
    a1 = assess(t26, p1, "45", "45")  # 90: 1st
    am = assess(t26, merged, "35", "35")  # 70: 2nd
    aq = assess(t26, q, "10", "10")  # 20: 4th
    assess(t26, p4, "20", "20")  # 40: 3rd
    assert change(a1) == (D("80"), D("80"), 2, D("10"), D("10"), 1)
    # M's predecessors: (90 + 40) ÷ 2 = 65 points, pooled index 65, which would have stood 3rd in
    # 2025's "Phường" behind P1 (80) and P5 (70), its predecessors left out: 3rd → 2nd, up one.
    assert change(am) == (D("65"), D("65"), 3, D("5"), D("5"), 1)
    assert json_item(t26, "M")["change"] == {"points": "5.00", "index": "5.00", "rank": 1}
    # Q: 20 → 20 points; its 2025 place (1st of "Xã") was held in another group.
    assert change(aq) == (D("20"), D("20"), None, D("0"), D("0"), None)
    assert json_item(t26, "Q")["change"]["rank"] is None

    # P5 is assessed in 2026 in another set of the province, without groups: a ranking of another
    # shape, so no place is compared; points and index still are.
    plain = framework(province, 2026, "T-2026-B", kinds=COMMUNE_LEVEL)
    moved = assess(plain, p5, "30", "30")
    assert AssessmentResult.objects.get(assessment=moved).rank == 1
    assert change(moved) == (D("70"), D("70"), None, D("-10"), D("-10"), None)


def test_pooled_place_is_empty_when_predecessors_stood_in_different_groups(province, reform):
    p1 = make_unit("P1", kind=UnitKind.WARD, parent=province)
    x1 = make_unit("X1", parent=province)
    t25 = reform["t25"]
    assess(t25, p1, "40", "40")
    assess(t25, x1, "30", "30")
    t26 = framework(province, 2026, "T-2026", kinds=COMMUNE_LEVEL, groups="Xã:commune;Phường:ward")
    merged = make_unit("M", kind=UnitKind.WARD, parent=province, predecessors=[p1, x1])
    a = assess(t26, merged, "40", "40")
    # Points (80 + 60) ÷ 2 = 70, index 70; a place only within one group: none.
    assert change(a) == (D("70"), D("70"), None, D("10"), D("10"), None)


def test_the_profile_of_a_merged_ward_shows_its_predecessors_by_name_year_by_year(client, province, reform):
    """Phường M's profile: 2024 through its predecessors by name, each with its former district and
    index, and their index taken together (what its year on year compares with)."""
    a = make_unit("A", kind=UnitKind.TOWNSHIP, parent=reform["h1"], name="Thị trấn A")
    b = make_unit("B", parent=reform["h2"], name="Xã B")
    assess(reform["f1"], a, "45")  # 45 of 50: 90,00
    assess(reform["f2"], b, "30", "30")  # 60 of 100: 60,00
    ward = make_unit("M", kind=UnitKind.WARD, parent=province, name="Phường M", predecessors=[a, b])
    assess(reform["t25"], ward, "38.5", "38.5")
    client.force_login(make_member(province, Role.LEADER))
    html = client.get("/dashboards/units/M/").content.decode()
    line = html[html.index('id="predecessor-years"') :]
    line = line[: line.index("</ul>")]
    assert "2024: Thị trấn A (Huyện Đông) 90,00 — Xã B (Huyện Tây) 60,00; tính chung 70,00" in line
    assert "2025" not in line  # the ward's own year is not a predecessors' year
    # A unit the reform kept shows no predecessors' years.
    kept = make_unit("K", parent=province)
    assess(reform["t25"], kept, "40", "40")
    assert 'id="predecessor-years"' not in client.get("/dashboards/units/K/").content.decode()
