"""The forecast (DESIGN §2.4): a scored leaf keeps its final points; an unscored applicable leaf takes
the unit's own ratio on that code last year, else its predecessors' pooled, else the mean ratio of
this framework's units that scored it, else 0; index, grade and rank by the engine's rules.

Hand-worked on a small district (expected figures computed here with Decimal, never by the code
under test). Plain service calls and raw SQL underneath, so the file runs on SQLite and, with
DATABASE_URL=postgres://… (CI's second pass, and `test_forecast_on_postgresql` below), on PostgreSQL.
"""

import csv
import json
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.frameworks.groups import assessment_set_ranked, framework_set_groups, parse_groups
from scoring.frameworks.services import framework_create, parse_bands
from scoring.models import AssessmentResult, Score
from scoring.results.engine import results_recompute
from scoring.results.forecast import (
    MEAN,
    NONE,
    OWN,
    PREDECESSORS,
    SCORED,
    forecast,
    forecast_at_risk,
    forecast_leaves,
)
from units.models import Role, UnitKind

from .factories import make_member, make_unit, rows_from_spec

T24 = [("1", 100), ("1.1", 40), ("1.2", 30), ("1.3", 20), ("1.4", 10)]
T25 = [("1", 100), ("1.1", 40), ("1.2", 25), ("1.3", 20), ("1.4", 10), ("1.5", 5)]
BANDS = "Tốt:80,Khá:60,Yếu:0"


def half_up(value: D, places: str = "0.01") -> D:
    return value.quantize(D(places), rounding=ROUND_HALF_UP)


def make_fw(authority, year, code, tree, kinds=(UnitKind.COMMUNE,), groups="", bands=BANDS):
    made = framework_create(
        code=code,
        authority=authority,
        unit_kind=kinds[0],
        unit_kinds=kinds,
        year=year,
        name=f"Bộ chỉ số {code}",
        rows=rows_from_spec(tree),
        bands=parse_bands(bands),
    )
    if groups:
        framework_set_groups(framework=made, groups=parse_groups(groups))
    return made


def assess(framework, unit, **points):
    """points: leaf code with '_' for '.', a Decimal string, or 'na' (proposed not applicable)."""
    a = assessment_get_or_create(unit=unit, framework=framework)
    entries = {}
    for key, value in points.items():
        code = key.lstrip("_").replace("_", ".")
        if value == "na":
            entries[code] = SelfEntry(None, not_applicable=True, not_applicable_reason="Không phát sinh")
        else:
            entries[code] = SelfEntry(D(value))
    scores_apply_self(assessment=a, entries=entries)
    return a


@pytest.fixture
def district_years(district):
    """District H's 2024 and 2025 commune frameworks (1.2 has max 30 in 2024, 25 in 2025; 1.5 is new)
    and its units:
    - A, kept as it was: its own 2024 result;
    - M, merged in 2025 from P and Q (both assessed in 2024, Q with 1.3 not applicable);
    - S and N, new in 2025 (no result, no predecessors)."""
    f24 = make_fw(district, 2024, "H-2024", T24)
    f25 = make_fw(district, 2025, "H-2025", T25)
    a = make_unit("A", parent=district, name="Xã A")
    p = make_unit("P", parent=district, name="Xã P")
    q = make_unit("Q", parent=district, name="Xã Q")
    assess(f24, a, _1_1="30", _1_2="0.03", _1_3="7", _1_4="10")
    assess(f24, p, _1_1="20", _1_2="15", _1_3="10", _1_4="5")
    assess(f24, q, _1_1="40", _1_2="30", _1_3="na", _1_4="0")
    m = make_unit("M", parent=district, name="Xã M", predecessors=[p, q])
    s = make_unit("S", parent=district, name="Xã S")
    n = make_unit("N", parent=district, name="Xã N")
    units = {"A": a, "M": m, "S": s, "N": n}
    assessments = {
        "A": assess(f25, a, _1_1="36"),
        "M": assess(f25, m, _1_1="30", _1_2="20"),
        "S": assess(f25, s, _1_1="40", _1_2="24.99", _1_3="18", _1_4="9", _1_5="na"),
        "N": assess(f25, n, _1_1="10"),
    }
    return {"f24": f24, "f25": f25, "units": units, "assessments": assessments}


def by_unit(result):
    return {line.unit_code: line for line in result}


def test_the_three_fallbacks_and_none(district_years):
    """A (own 2024): 1.2 = 0,03/30 × 25 = 0,025 → 0,03 half-up (own ratio before the others' mean);
    1.3 = 7/20 × 20 = 7; 1.4 = 10/10 × 10 = 10; 1.5 (no such code in 2024, nobody scored it in 2025) = 0.
    M (P and Q pooled): 1.3 = (10 + Q's not applicable)/20 × 20 = 10; 1.4 = (5 + 0)/(10 + 10) × 10 = 2,5.
    N (new): 1.2 = the mean of M's 20 and S's 24,99 = 22,495 → 22,50; 1.3 = S's 18; 1.4 = S's 9."""
    result = by_unit(forecast(district_years["f25"]))
    a_points = D("36") + half_up(D("0.03") / 30 * 25) + D("7") + D("10") + D("0")
    assert half_up(D("0.03") / 30 * 25) == D("0.03")  # 0.025 rounds half-up
    assert a_points == D("53.03")
    m_points = D("30") + D("20") + D("10") / 20 * 20 + (D("5") + D("0")) / 20 * 10 + D("0")
    n_points = D("10") + half_up((D("20") + D("24.99")) / 2) + D("18") + D("9") + D("0")
    s_points, s_max = D("40") + D("24.99") + D("18") + D("9"), D("95")
    assert result["A"].points == a_points and result["A"].max_points == D("100")
    assert result["A"].index == half_up(a_points)
    assert result["M"].points == m_points == D("62.5")
    assert result["N"].points == n_points == D("59.5")
    assert result["S"].points == s_points and result["S"].max_points == s_max
    assert result["S"].index == half_up(s_points / s_max * 100) == D("96.83")


def test_bases_of_the_leaves_at_risk(district_years):
    leaves = {(leaf.unit_code, leaf.code): leaf for leaf in forecast_at_risk(district_years["f25"])}
    assert leaves[("A", "1.2")].basis == OWN and leaves[("A", "1.2")].points == D("0.03")
    assert leaves[("A", "1.5")].basis == NONE and leaves[("A", "1.5")].points == D("0")
    assert leaves[("M", "1.4")].basis == PREDECESSORS and leaves[("M", "1.4")].points == D("2.5")
    assert leaves[("N", "1.1")].basis == SCORED and leaves[("N", "1.1")].scored
    assert ("N", "1.2") not in leaves  # 22,50 of 25 is no risk
    assert {leaf.basis for leaf in leaves.values()} <= {OWN, PREDECESSORS, MEAN, NONE, SCORED}


def test_mean_basis_counts_every_unit_that_scored_the_leaf(district, district_years):
    """A further unit Z scores 1.2 (0,5) and 1.4 (1): N's 1.2 becomes the mean of M's 20, S's 24,99
    and Z's 0,5 = 45,49 / 3 = 15,1633… → 15,16; its 1.4 the mean of S's 9 and Z's 1 = 5 (exactly half:
    not at risk). Z's own 1.3 is S's 18 (mean), its 1.5 nobody's (0)."""
    z = make_unit("Z", parent=district, name="Xã Z")
    assess(district_years["f25"], z, _1_1="5", _1_2="0.5", _1_4="1")
    leaves = {(x.unit_code, x.code): x for x in forecast_leaves(district_years["f25"])}
    assert leaves[("N", "1.2")].points == half_up((D("20") + D("24.99") + D("0.5")) / 3) == D("15.16")
    assert leaves[("N", "1.2")].basis == MEAN
    assert (leaves[("N", "1.4")].points, leaves[("N", "1.4")].basis) == ((D("9") + D("1")) / 2, MEAN)
    assert (leaves[("Z", "1.3")].points, leaves[("Z", "1.3")].basis) == (D("18"), MEAN)
    assert (leaves[("Z", "1.5")].points, leaves[("Z", "1.5")].basis) == (D("0"), NONE)
    assert (leaves[("A", "1.2")].basis, leaves[("M", "1.3")].basis) == (OWN, PREDECESSORS)
    assert ("S", "1.5") not in leaves  # not applicable: no forecast at all
    lines = by_unit(forecast(district_years["f25"]))
    assert lines["N"].points == D("10") + D("15.16") + D("18") + D("5") + D("0")
    assert lines["Z"].points == D("5") + D("0.5") + D("18") + D("1") + D("0")
    at_risk = {(x.unit_code, x.code) for x in forecast_at_risk(district_years["f25"])}
    assert ("N", "1.4") not in at_risk and ("Z", "1.1") in at_risk


def test_certain_grade_rank_and_distance_to_the_next_grade(district_years):
    result = forecast(district_years["f25"])
    lines = by_unit(result)
    assert [line.unit_code for line in result] == ["S", "M", "N", "A"]  # best first
    assert [lines[c].rank for c in ("S", "M", "N", "A")] == [1, 2, 3, 4]
    assert lines["S"].certain and not any(lines[c].certain for c in ("A", "M", "N"))
    assert (lines["S"].grade, lines["S"].next_grade, lines["S"].to_next_grade) == ("Tốt", None, None)
    assert (lines["M"].grade, lines["M"].next_grade, lines["M"].to_next_grade) == ("Khá", "Tốt", D("17.50"))
    assert (lines["A"].grade, lines["A"].next_grade, lines["A"].to_next_grade) == ("Yếu", "Khá", D("6.97"))
    assert (lines["N"].grade, lines["N"].to_next_grade) == ("Yếu", D("0.50"))
    # The authority's average forecast: the mean of the four indices, half-up.
    assert result.average_index == half_up((D("96.83") + D("62.50") + D("59.50") + D("53.03")) / 4)
    assert result.average_index == D("67.97")


def test_at_risk_most_points_lost_first(district_years):
    lines = by_unit(forecast(district_years["f25"]))
    # A: 1.2 lost 25 − 0,03 = 24,97; 1.3 lost 20 − 7 = 13; 1.5 lost 5.
    assert [(x.code, x.points, x.max_points) for x in lines["A"].at_risk] == [
        ("1.2", D("0.03"), D("25")),
        ("1.3", D("7"), D("20")),
        ("1.5", D("0"), D("5")),
    ]
    # M: 1.4 (2,5 of 10) then 1.5; 1.3 at exactly half (10 of 20) is not at risk.
    assert [x.code for x in lines["M"].at_risk] == ["1.4", "1.5"]
    assert [x.code for x in lines["N"].at_risk] == ["1.1", "1.5"]
    assert lines["S"].at_risk == []


def test_what_to_push_is_the_largest_losses_across_units(district_years):
    top = forecast_at_risk(district_years["f25"], limit=3)
    assert [(x.unit_code, x.code, x.lost) for x in top] == [
        ("N", "1.1", D("30")),
        ("A", "1.2", D("24.97")),
        ("A", "1.3", D("13")),
    ]


def test_scored_leaf_keeps_its_final_points_appraised_first(district_years):
    """A's 1.1 self-assessed 36, appraised 20: the forecast keeps the appraised 20."""
    a = district_years["assessments"]["A"]
    Score.objects.filter(assessment=a, criterion__code="1.1").update(appraised_points=D("20"))
    results_recompute(district_years["f25"])
    line = by_unit(forecast(district_years["f25"]))["A"]
    assert line.points == D("53.03") - D("36") + D("20")


def test_fully_scored_forecast_agrees_with_the_stored_results(district_years):
    """A certain unit's forecast is its result: S's index and grade are the stored ones."""
    line = by_unit(forecast(district_years["f25"]))["S"]
    stored = AssessmentResult.objects.get(assessment=district_years["assessments"]["S"])
    assert (line.index, line.grade, line.points) == (stored.index, stored.grade, stored.points)


def test_groups_and_units_not_ranked(province):
    """Communes and wards ranked apart; a ward assessed but not ranked holds no place and takes none
    from the others. Forecast equals the stored index for fully scored units; ties share a place."""
    f = make_fw(
        province,
        2025,
        "T-2025",
        [("1", 100), ("1.1", 50), ("1.2", 50)],
        kinds=(UnitKind.COMMUNE, UnitKind.WARD),
        groups="Xã:commune;Phường:ward",
    )
    x1 = make_unit("X1", parent=province)
    x2 = make_unit("X2", parent=province)
    x3 = make_unit("X3", parent=province)
    w1 = make_unit("W1", kind=UnitKind.WARD, parent=province)
    w2 = make_unit("W2", kind=UnitKind.WARD, parent=province)
    assess(f, x1, _1_1="40", _1_2="40")
    assess(f, x2, _1_1="45", _1_2="35")  # ties X1 at 80
    assess(f, x3, _1_1="30")  # 1.2 from the mean of X1, X2, W1, W2: (40 + 35 + 50 + 10) / 4 = 33,75
    assess(f, w1, _1_1="50", _1_2="50")
    w2a = assess(f, w2, _1_1="50", _1_2="10")
    assessment_set_ranked(assessment=w2a, ranked=False, reason="Mới thành lập")
    lines = by_unit(forecast(f))
    assert (lines["X1"].rank, lines["X2"].rank, lines["X3"].rank) == (1, 1, 3)
    assert lines["X3"].points == D("30") + D("135") / 4 == D("63.75")
    assert (lines["W1"].rank, lines["W1"].group) == (1, "Phường")
    assert (lines["W2"].rank, lines["W2"].ranked, lines["W2"].index) == (None, False, D("60.00"))
    assert lines["X1"].group == "Xã"


def forecast_json(code):
    out = StringIO()
    call_command("forecast", framework=code, format="json", stdout=out)
    return json.loads(out.getvalue())


def test_command_json(district_years):
    items = forecast_json("H-2025")
    assert [item["unit_code"] for item in items] == ["S", "M", "N", "A"]
    a = items[-1]
    assert a["index"] == "53.03" and a["grade"] == "Yếu" and a["rank"] == 4 and a["certain"] is False
    assert a["at_risk"] == [
        {"code": "1.2", "points": "0.03", "max_points": "25.00"},
        {"code": "1.3", "points": "7.00", "max_points": "20.00"},
        {"code": "1.5", "points": "0.00", "max_points": "5.00"},
    ]
    assert items[0]["certain"] is True and items[0]["at_risk"] == []
    assert items[1]["to_next_grade"] == "17.50" and items[1]["next_grade"] == "Tốt"


def test_command_csv(district_years):
    out = StringIO()
    call_command("forecast", framework="H-2025", format="csv", stdout=out)
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    assert [row["unit_code"] for row in rows] == ["S", "M", "N", "A"]
    assert rows[3]["index"] == "53.03" and rows[3]["rank"] == "4" and rows[3]["certain"] == "false"
    assert rows[3]["at_risk"] == "1.2:0.03/25.00;1.3:7.00/20.00;1.5:0.00/5.00"


def test_command_unknown_framework(db):
    with pytest.raises(CommandError, match="NOPE"):
        call_command("forecast", framework="NOPE", format="json", stdout=StringIO())


def test_constant_number_of_queries(district_years, district, django_assert_max_num_queries):
    """The same statements whatever the number of units: the year before's frameworks, three temporary
    tables (and, on SQLite, their indexes; on PostgreSQL the planner settings), the forecast, the
    tables dropped, the grade bands and the groups."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        forecast(district_years["f25"])
    for i in range(6):
        assess(district_years["f25"], make_unit(f"E{i}", parent=district), _1_1=str(i))
    with django_assert_max_num_queries(len(few.captured_queries)):
        result = forecast(district_years["f25"])
    assert len(result) == 10
    assert len(few.captured_queries) <= 13


@pytest.mark.postgres
def test_forecast_on_postgresql(district_years):
    """The hand-worked forecast again, on PostgreSQL (run with DATABASE_URL=postgres://…): the
    statement is raw SQL whose integer arithmetic must agree with SQLite's."""
    from django.db import connection

    assert connection.vendor == "postgresql"
    result = forecast(district_years["f25"])
    assert [(x.unit_code, x.points, x.index, x.rank, x.certain) for x in result] == [
        ("S", D("91.99"), D("96.83"), 1, True),
        ("M", D("62.50"), D("62.50"), 2, False),
        ("N", D("59.50"), D("59.50"), 3, False),
        ("A", D("53.03"), D("53.03"), 4, False),
    ]
    assert [x.code for x in by_unit(result)["A"].at_risk] == ["1.2", "1.3", "1.5"]
    assert result.average_index == D("67.97")


# --- the forecast page ----------------------------------------------------------------------------------


def forecast_url(code="H-2025"):
    return reverse("reports:forecast", args=[code])


def test_page_for_the_leader_and_the_appraiser(client, district_years, leader, appraiser):
    for user in (leader, appraiser):
        client.force_login(user)
        response = client.get(forecast_url())
        assert response.status_code == 200
        html = response.content.decode()
        rows = {line.unit_code: line for line in response.context["page"]}
        assert list(rows) == ["S", "M", "N", "A"]
        assert "53,03" in html and "67,97" in html  # A's forecast and the average, the Vietnamese way
        assert "1.2 (0,03/25)" in html  # A's criteria at risk
        assert "6,97" in html  # A's distance to Khá
        push = response.context["push"]
        assert [(x.unit_code, x.code) for x in push[:2]] == [("N", "1.1"), ("A", "1.2")]


def test_page_refused_to_officers_and_hidden_from_outsiders(client, district_years, province):
    officer_a = make_member(district_years["units"]["A"], Role.OFFICER)
    client.force_login(officer_a)
    assert client.get(forecast_url()).status_code == 403  # sees the framework, not every unit's figures
    elsewhere = make_unit("H9", kind=UnitKind.DISTRICT, parent=province)
    client.force_login(make_member(elsewhere, Role.LEADER))
    assert client.get(forecast_url()).status_code == 404
    client.logout()
    assert client.get(forecast_url()).status_code == 302


def test_page_is_paginated_with_a_constant_number_of_queries(
    client, district, district_years, leader, monkeypatch, django_assert_max_num_queries
):
    from reports import views

    monkeypatch.setattr(views, "FORECAST_PAGE_SIZE", 3)
    client.force_login(leader)
    client.get(forecast_url())  # warm the session and the user's reach
    with django_assert_max_num_queries(20) as few:
        client.get(forecast_url())
    for i in range(8):
        assess(district_years["f25"], make_unit(f"E{i}", parent=district), _1_1=str(i))
    with django_assert_max_num_queries(len(few.captured_queries)) as more:
        response = client.get(forecast_url() + "?page=3")
    assert len(more.captured_queries) == len(few.captured_queries)
    # E7 … E0 have 1.1 = i and the others' means on 1.2 (22,50), 1.3 (18), 1.4 (9): 49,5 + i
    assert [line.unit_code for line in response.context["page"]] == ["E4", "A", "E3"]
    assert response.context["page"].paginator.num_pages == 4
    # the criteria at risk are read for the page's units
    assert [x.code for x in response.context["page"][1].at_risk] == ["1.2", "1.3", "1.5"]


# --- the steering committee's meeting ------------------------------------------------------------------


def test_steering_meeting_page(client, district_years, leader, appraiser):
    """Last year (H-2024) A lost 10 on 1.1, 29,97 on 1.2 and 13 on 1.3; P 20, 15, 10 and 5 on 1.4; Q
    10 on 1.4 (1.3 not applicable). By criterion, most lost first: 1.2 (44,97, two units), 1.1 (30),
    1.3 (23), 1.4 (15). A fixed its 1.2, P only planned it; this year A is at risk on 1.2 again."""
    from reports.models import RemediationItem, RemediationStatus
    from scoring.models import Assessment, Criterion

    f24 = district_years["f24"]
    c12 = Criterion.objects.get(framework=f24, code="1.2")
    for code, status in (("A", RemediationStatus.DONE), ("P", RemediationStatus.PLANNED)):
        RemediationItem.objects.create(
            assessment=Assessment.objects.get(framework=f24, unit__code=code),
            criterion=c12,
            points_lost=D("1"),
            status=status,
        )
    url = reverse("reports:steering", args=["H-2025"])
    for user in (leader, appraiser):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
    meeting = response.context["meeting"]
    assert meeting.previous == f24
    assert [(x.code, x.lost, x.units) for x in meeting.lost] == [
        ("1.2", D("29.97") + D("15"), 2),
        ("1.1", D("10") + D("20"), 2),
        ("1.3", D("13") + D("10"), 2),
        ("1.4", D("5") + D("10"), 2),
    ]
    assert (meeting.lost[0].planned, meeting.lost[0].fixed, meeting.lost[0].at_risk_now) == (2, 1, 1)
    html = response.content.decode()
    assert "44,97" in html and "67,97" in html
    assert [line.unit_code for line in meeting.at_risk_lines] == ["M", "N", "A"]
    assert meeting.at_risk_lines[2].at_risk_lost == D("24.97") + D("13") + D("5")


def test_steering_meeting_refused_to_officers(client, district_years):
    client.force_login(make_member(district_years["units"]["A"], Role.OFFICER))
    assert client.get(reverse("reports:steering", args=["H-2025"])).status_code == 403


def test_last_years_optional_survey_left_out_when_none_of_it_was_scored(district):
    """Last year's framework made the survey optional: A had no survey result, so its survey leaf
    last year counts for nothing (neither points nor max) and this year's unscored 2.1 falls to the
    others' mean (B's 16), not to A's own 0; C had one (5 of 20), so its own ratio holds."""
    from scoring.models import Criterion, Framework

    tree = [("1", 80), ("1.1", 80), ("2", 20), ("2.1", 20, "score", "survey")]
    f24 = make_fw(district, 2024, "O-2024", tree)
    Framework.objects.filter(pk=f24.pk).update(survey_optional=True)
    f24.refresh_from_db()
    f25 = make_fw(district, 2025, "O-2025", tree)
    a, b, c = (make_unit(code, parent=district, name=f"Xã {code}") for code in "ABC")
    survey24, survey25 = (Criterion.objects.get(framework=f, code="2.1") for f in (f24, f25))
    assess(f24, a, _1_1="40")
    Score.objects.create(assessment=assess(f24, c, _1_1="40"), criterion=survey24, appraised_points=D("5"))
    results_recompute(f24)
    assess(f25, a, _1_1="50")
    Score.objects.create(assessment=assess(f25, b, _1_1="60"), criterion=survey25, appraised_points=D("16"))
    assess(f25, c, _1_1="50")
    leaves = {(x.unit_code, x.code): x for x in forecast_leaves(f25)}
    assert (leaves[("A", "2.1")].basis, leaves[("A", "2.1")].points) == (MEAN, D("16.00"))
    assert (leaves[("C", "2.1")].basis, leaves[("C", "2.1")].points) == (OWN, D("5.00"))
    lines = by_unit(forecast(f25))
    assert lines["A"].points == D("66.00") and lines["C"].points == D("55.00")
