"""What-if (DESIGN §2.4): each applicable leaf below its max raised alone to its max, the index and
place it would give against the others' current indices (equal indices share a place), places and
points gained, best first (places, then points, then the framework's order).

Hand-worked: a framework of 100 points, so an index equals the points; unit U has 48 and holds the
6th place (tied with O6 at 48) among O1 95, O2 80, O3 66, O4 58, O5 55, O6 48 — and NR at 99,
assessed but not ranked, who takes nobody's place."""

import json
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.frameworks.groups import assessment_set_ranked
from scoring.frameworks.services import framework_create
from scoring.results.what_if import what_if
from units.models import Role, UnitKind

from .factories import make_member, make_unit, rows_from_spec

TREE = [("1", 100), ("1.1", 40), ("1.2", 18), ("1.3", 20), ("1.4", 12), ("1.5", 5), ("1.6", 5)]
CODES = ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]


def assess(framework, unit, *points):
    a = assessment_get_or_create(unit=unit, framework=framework)
    entries = {
        code: SelfEntry(D(value)) for code, value in zip(CODES, points, strict=False) if value is not None
    }
    scores_apply_self(assessment=a, entries=entries)
    return a


@pytest.fixture
def board(district):
    f = framework_create(
        code="WI-2025",
        authority=district,
        unit_kind=UnitKind.COMMUNE,
        year=2025,
        name="Bộ chỉ số",
        rows=rows_from_spec(TREE),
    )
    u = make_unit("U", parent=district, name="Xã U")
    a = assess(f, u, "20", "18", "10", "0")  # 1.5 and 1.6 not scored: 48
    for code, points in [
        ("O1", ("40", "18", "20", "12", "5", "0")),
        ("O2", ("40", "18", "20", "2")),
        ("O3", ("40", "18", "8")),
        ("O4", ("40", "18")),
        ("O5", ("40", "15")),
        ("O6", ("40", "8")),
        ("NR", ("40", "18", "20", "12", "5", "4")),
    ]:
        other = assess(f, make_unit(code, parent=district), *points)
        if code == "NR":
            assessment_set_ranked(assessment=other, ranked=False, reason="Mới thành lập")
    return {"framework": f, "assessment": a, "unit": u}


def test_ordering_places_then_points_then_code(board):
    """1.1 +20 → 68: above 68 only O1 and O2 → 3rd, +3 places. 1.4 +12 → 60: O1, O2, O3 above →
    4th, +2. 1.3 +10 → 58: 4th (tied with O4), +2 (fewer points than 1.4). 1.5 and 1.6 +5 → 53:
    O1 … O5 above → 6th, 0 places, same points: in code order. 1.2 is at its max: not listed."""
    answer = what_if(board["assessment"])
    assert (answer.current_index, answer.current_rank) == (D("48.00"), 6)
    assert [(x.code, x.gain_points, x.index, x.rank, x.places_gained) for x in answer] == [
        ("1.1", D("20"), D("48") + D("20"), 3, 6 - 3),
        ("1.4", D("12"), D("48") + D("12"), 4, 6 - 4),
        ("1.3", D("10"), D("48") + D("10"), 4, 6 - 4),
        ("1.5", D("5"), D("53"), 6, 0),
        ("1.6", D("5"), D("53"), 6, 0),
    ]
    first = answer.items[0]
    assert (first.title, first.points, first.max_points) == ("Tiêu chí 1.1", D("20"), D("40"))


def test_top_n(board):
    assert [x.code for x in what_if(board["assessment"], top=2)] == ["1.1", "1.4"]


def test_not_ranked_unit_gets_indices_but_no_place(board):
    assessment_set_ranked(assessment=board["assessment"], ranked=False, reason="Miễn xếp hạng")
    answer = what_if(board["assessment"])
    assert answer.current_rank is None
    assert [(x.code, x.rank, x.places_gained) for x in answer][:2] == [
        ("1.1", None, None),
        ("1.4", None, None),
    ]
    assert answer.items[0].index == D("68.00")


def test_index_rounds_half_up_to_the_framework_decimals(district):
    """Max 200 (1.1 and 1.2 of 100 each): R has 0,01 on 1.1 and 0 on 1.2. 1.2 raised: 100,01 / 200 ×
    100 = 50,005 → 50,01 (half-up, not 50,00); 1.1 raised: 100 / 200 = 50,00."""
    f = framework_create(
        code="WI-R",
        authority=district,
        unit_kind=UnitKind.COMMUNE,
        year=2025,
        name="Bộ",
        rows=rows_from_spec([("1", 200), ("1.1", 100), ("1.2", 100)]),
    )
    a = assessment_get_or_create(unit=make_unit("R", parent=district), framework=f)
    scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("0.01")), "1.2": SelfEntry(D("0"))})
    items = {x.code: x for x in what_if(a)}
    expected = (D("100.01") / 200 * 100).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert items["1.2"].index == expected == D("50.01")
    assert (items["1.2"].gain_points, items["1.1"].gain_points) == (D("100"), D("99.99"))
    assert items["1.1"].index == D("50.00")
    assert [x.code for x in what_if(a)] == ["1.2", "1.1"]  # no place to gain: more points first


def what_if_json(**options):
    out = StringIO()
    call_command("what_if", stdout=out, **options)
    return json.loads(out.getvalue())


def test_command_json(board):
    items = what_if_json(framework="WI-2025", unit="U", format="json")
    assert items[0] == {
        "code": "1.1",
        "title": "Tiêu chí 1.1",
        "points": "20.00",
        "max_points": "40.00",
        "gain_points": "20.00",
        "index": "68.00",
        "rank": 3,
        "places_gained": 3,
    }
    assert [item["code"] for item in items] == ["1.1", "1.4", "1.3", "1.5", "1.6"]
    assert [item["code"] for item in what_if_json(framework="WI-2025", unit="U", format="json", top=1)] == [
        "1.1"
    ]


def test_command_refuses_a_unit_without_assessment(board, district):
    make_unit("ZZ", parent=district)
    with pytest.raises(CommandError, match="ZZ"):
        what_if_json(framework="WI-2025", unit="ZZ", format="json")
    with pytest.raises(CommandError):
        what_if_json(framework="WI-2025", unit="U", format="json", top=0)


def test_constant_queries(board, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        answer = what_if(board["assessment"])
    assert len(answer) == 5


# --- on the unit's pages ----------------------------------------------------------------------------------


def test_page_for_the_units_officer_its_appraiser_and_the_leader(client, board, appraiser, leader):
    officer = make_member(board["unit"], Role.OFFICER)
    url = reverse("scoring:assessment_what_if", args=[board["assessment"].pk])
    for user in (officer, appraiser, leader):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert [x.code for x in response.context["answer"]] == ["1.1", "1.4", "1.3", "1.5", "1.6"]
        html = response.content.decode()
        assert "Tiêu chí giúp tăng hạng nhiều nhất" in html
        assert "68,00" in html and "▲ 3" in html
    partial = client.get(url + "?top=2", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()
    assert [x.code for x in partial.context["answer"]] == ["1.1", "1.4"]


def test_hidden_from_other_units_and_anonymous(client, board, district):
    url = reverse("scoring:assessment_what_if", args=[board["assessment"].pk])
    client.force_login(make_member(make_unit("X9", parent=district), Role.OFFICER))
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
    assert client.get(reverse("scoring:assessment_what_if", args=[999999])).status_code == 302


def test_self_page_and_profile_load_it(client, board):
    officer = make_member(board["unit"], Role.OFFICER)
    client.force_login(officer)
    url = reverse("scoring:assessment_what_if", args=[board["assessment"].pk])
    self_page = client.get(reverse("scoring:assessment_self", args=[board["assessment"].pk])).content.decode()
    assert f'hx-get="{url}?top=5"' in self_page
    profile = client.get(reverse("reports:unit_profile", args=["U"])).content.decode()
    assert f'hx-get="{url}?top=5"' in profile
    assert "Tiêu chí giúp tăng hạng nhiều nhất" in profile
