"""The scoring rules of DESIGN §2, on the published figures it quotes and on small explicit trees."""

import json
from datetime import date
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parindex.audit.models import AuditEntry
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.frameworks.services import FrameworkLocked
from scoring.models import AreaResult, Assessment, AssessmentResult, Score
from scoring.results.engine import results_recompute
from tests.publishing import walk_and_publish
from units.models import UnitKind

from .factories import make_framework, make_unit, rows_from_spec

SMALL_TREE = [
    ("1", 60),
    ("1.1", 30),
    ("1.1.1", 10),
    ("1.1.2", 20),
    ("1.2", 30),
    ("2", 40, "score", "survey"),
    ("2.1", 40, "score", "survey"),
    ("3", 2, "bonus"),
    ("3.1", 2, "bonus"),
    ("4", 2, "penalty"),
    ("4.1", 2, "penalty"),
]


def spread(framework, target, exclude=()):
    """Self entries spreading `target` points over self-assessed score leaves, in tree order."""
    entries, left = {}, D(target)
    for leaf in framework.criteria.filter(is_leaf=True, source="self", kind="score").order_by("order"):
        if leaf.code in exclude:
            entries[leaf.code] = SelfEntry(None, not_applicable=True)
            continue
        value = min(leaf.max_points, left)
        entries[leaf.code] = SelfEntry(value)
        left -= value
    assert left == 0, f"{target} does not fit"
    return entries


def survey_entries(framework, target):
    out, left = {}, D(target)
    for leaf in framework.criteria.filter(is_leaf=True, source="survey").order_by("order"):
        value = min(leaf.max_points, left)
        out[leaf.code] = value
        left -= value
    assert left == 0
    return out


def assess(framework, unit, self_target, survey_target=None, exclude=()):
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(assessment=assessment, entries=spread(framework, self_target, exclude))
    if survey_target is not None:
        survey_apply(framework=framework, entries={unit.code: survey_entries(framework, survey_target)})
    return assessment


def result_of(assessment):
    return AssessmentResult.objects.get(assessment=assessment)


@pytest.fixture
def districts(province):
    return [make_unit(f"D{i}", kind=UnitKind.DISTRICT, parent=province) for i in range(1, 5)]


def test_published_district_figure_82_58_of_95_5_is_86_471(province, districts):
    framework = make_framework(
        province, csv_name="framework-department.csv", unit_kind="district", decimals=3
    )
    assessment = assess(framework, districts[0], "70.58", "12", exclude=("8.1",))
    result = result_of(assessment)
    assert result.points == D("82.58")
    assert result.max_points == D("95.5")
    assert result.index == D("86.471")
    assert result.grade == "Tốt"
    assert result.rank == 1
    assert result.provisional is True
    assert result.self_points == D("70.58")


def test_published_department_figure_68_32_of_84_is_81_33_and_ties_share_rank(province):
    departments = [
        make_unit(code, kind=UnitKind.DEPARTMENT, parent=province) for code in ("BDT", "PB1", "PB2", "PB3")
    ]
    framework = make_framework(province, csv_name="framework-department.csv", unit_kind="department")
    not_applicable = ("3.1", "3.2", "3.3", "7.3", "1.2")  # 10 + 4 + 2 = 16 points → 84 apply
    bdt = assess(framework, departments[0], "56.32", "12", exclude=not_applicable)
    assess(framework, departments[1], "80.83", "12")
    pb2 = assess(framework, departments[2], "69.33", "12")
    pb3 = assess(framework, departments[3], "58", "12")

    assert result_of(bdt).max_points == D("84")
    assert result_of(bdt).index == D("81.33")
    assert result_of(pb2).index == D("81.33")
    assert [result_of(a).rank for a in (bdt, pb2, pb3)] == [2, 2, 4]
    # Area 3 is entirely not applicable for BDT: no index and no area rank, the others are ranked.
    area3 = AreaResult.objects.get(assessment=bdt, area__code="3")
    assert (area3.max_points, area3.index, area3.rank) == (D("0"), None, None)
    assert AreaResult.objects.get(assessment=pb2, area__code="3").rank == 1


def test_not_applicable_leaves_leave_numerator_and_denominator(province, districts):
    framework = make_framework(province, rows=rows_from_spec(SMALL_TREE), unit_kind="district")
    assessment = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1.1": SelfEntry(D("10")),
            "1.1.2": SelfEntry(None, not_applicable=True),
            "1.2": SelfEntry(D("15")),
        },
    )
    result = result_of(assessment)
    assert result.max_points == D("80")  # 100 - 20
    assert result.points == D("25")
    assert result.index == D("31.25")
    area = AreaResult.objects.get(assessment=assessment, area__code="1")
    assert (area.points, area.max_points, area.index) == (D("25"), D("40"), D("62.5"))


def test_bonus_adds_and_penalty_subtracts_outside_the_max(province, districts):
    framework = make_framework(province, rows=rows_from_spec(SMALL_TREE), unit_kind="district")
    assessment = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1.1": SelfEntry(D("10")),
            "1.1.2": SelfEntry(D("20")),
            "1.2": SelfEntry(D("25")),
            "3.1": SelfEntry(D("1.5")),
            "4.1": SelfEntry(D("0.75")),
        },
    )
    survey_apply(framework=framework, entries={"D1": {"2.1": D("30.5")}})
    result = result_of(assessment)
    assert (result.score_points, result.bonus_points, result.penalty_points) == (
        D("85.5"),
        D("1.5"),
        D("0.75"),
    )
    assert result.points == D("86.25")
    assert result.max_points == D("100")
    assert result.index == D("86.25")
    # Bonus and penalty areas have no area rank: they are not part of the max.
    assert set(AreaResult.objects.filter(assessment=assessment).values_list("area__code", flat=True)) == {
        "1",
        "2",
    }


BONUS_TREE = [
    ("1", 100),
    ("1.1", 50),
    ("1.2", 50),
    ("2", 5, "bonus"),
    ("2.1", 5, "bonus"),
    ("3", 10, "penalty"),
    ("3.1", 10, "penalty"),
]


def test_a_bonus_never_lifts_the_index_above_100_but_points_stay_unclamped(province, districts):
    framework = make_framework(
        province, rows=rows_from_spec(BONUS_TREE), unit_kind="district", bands="Xuất sắc:100,Tốt:80,Yếu:0"
    )
    sheets = {"D1": ("50", "48", "3"), "D2": ("50", "49", "3"), "D3": ("50", "49.5", "0")}  # 101, 102, 99.5
    results = {}
    for unit in districts[:3]:
        first, second, bonus = sheets[unit.code]
        a = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(
            assessment=a,
            entries={"1.1": SelfEntry(D(first)), "1.2": SelfEntry(D(second)), "2.1": SelfEntry(D(bonus))},
        )
        results[unit.code] = result_of(a)
    d1, d2, d3 = results["D1"], results["D2"], results["D3"]
    assert (d1.points, d1.bonus_points, d1.max_points) == (D("101"), D("3"), D("100"))
    assert (d1.index, d2.index, d3.index) == (
        D("100"),
        D("100"),
        D("99.5"),
    )  # 98 of 100 + 3 bonus → 100, not 101
    assert (d1.grade, d3.grade) == ("Xuất sắc", "Tốt")
    assert (d1.rank, d2.rank, d3.rank) == (1, 1, 3)  # 101 and 102 both publish as 100: they tie


def test_a_bonus_on_a_tiny_applicable_max_is_stored_as_100(province, districts):
    tree = [("1", 10), ("1.1", "0.01"), ("1.2", "9.99"), ("2", 20, "bonus"), ("2.1", 20, "bonus")]
    framework = make_framework(province, rows=rows_from_spec(tree), unit_kind="district")
    a = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(
        assessment=a,
        entries={
            "1.1": SelfEntry(D("0.01")),
            "1.2": SelfEntry(None, not_applicable=True),
            "2.1": SelfEntry(D("15")),
        },
    )
    # 15.01 points over 0.01 applicable would be an index of 150100, more than the index column holds.
    assert (result_of(a).points, result_of(a).index) == (D("15.01"), D("100"))


def test_a_penalty_never_takes_the_index_below_0(province, districts):
    framework = make_framework(
        province, rows=rows_from_spec(BONUS_TREE), unit_kind="district", bands="Tốt:80,Yếu:0"
    )
    a = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("4")), "3.1": SelfEntry(D("10"))})
    result = result_of(a)
    assert (result.points, result.penalty_points, result.index, result.grade, result.rank) == (
        D("-6"),
        D("10"),
        D("0"),
        "Yếu",
        1,
    )


def test_index_rounds_half_up_not_to_even(province, districts):
    tree = [("1", 80), ("1.1", 80)]
    framework = make_framework(province, rows=rows_from_spec(tree), unit_kind="district", decimals=3)
    assessment = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("69.09"))})
    # 69.09 / 80 × 100 = 86.3625: half-up gives 86.363 (banker's rounding would give 86.362).
    assert result_of(assessment).index == D("86.363")


def test_ranks_use_the_published_rounded_index(province, districts):
    tree = [("1", 100), ("1.1", 50), ("1.2", 50)]
    framework = make_framework(province, rows=rows_from_spec(tree), unit_kind="district", decimals=0)
    scores = [D("86.4"), D("86.2"), D("85.6"), D("70")]  # 86, 86, 86, 70 at 0 decimals
    assessments = []
    for unit, points in zip(districts, scores, strict=True):
        a = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(
            assessment=a,
            entries={"1.1": SelfEntry(min(points, D(50))), "1.2": SelfEntry(points - min(points, D(50)))},
        )
        assessments.append(a)
    assert [result_of(a).rank for a in assessments] == [1, 1, 1, 4]
    assert [result_of(a).index for a in assessments] == [D("86"), D("86"), D("86"), D("70")]


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        ("Xuất sắc:90,Tốt:80,Khá:70,Trung bình:50,Yếu:0", ["Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"]),
        ("Tốt:90,Khá:70,Trung bình:50,Kém:0", ["Tốt", "Khá", "Khá", "Trung bình", "Kém"]),
    ],
)
def test_grades_come_from_the_framework_bands(province, bands, expected):
    units = [make_unit(f"G{i}", kind=UnitKind.DISTRICT, parent=province) for i in range(5)]
    framework = make_framework(
        province, rows=rows_from_spec([("1", 100), ("1.1", 100)]), unit_kind="district", bands=bands
    )
    grades = []
    for unit, points in zip(units, ["95", "80", "79.99", "50", "49.99"], strict=True):
        a = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D(points))})
        grades.append(result_of(a).grade)
    assert grades == expected


def test_provisional_until_appraised_then_appraised_points_count(province, districts):
    framework = make_framework(province, rows=rows_from_spec(SMALL_TREE), unit_kind="district")
    assessment = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1.1": SelfEntry(D("10"), note="Báo cáo năm"),
            "1.1.2": SelfEntry(D("20"), note="Báo cáo năm"),
            "1.2": SelfEntry(D("30"), note="Báo cáo năm"),
            "3.1": SelfEntry(D("2"), note="Bằng khen"),
            "4.1": SelfEntry(D("0")),
        },
    )
    assert result_of(assessment).provisional is True
    assessment_submit(assessment=assessment)
    with pytest.raises(ValidationError, match="reason|lý do"):
        scores_apply_appraisal(assessment=assessment, entries={"1.2": AppraisalEntry(D("24"))})
    scores_apply_appraisal(
        assessment=assessment, entries={"1.2": AppraisalEntry(D("24"), "Thiếu tài liệu kiểm chứng")}
    )
    result = result_of(assessment)
    assert result.provisional is True  # other leaves not appraised yet
    assert result.points == D("56")  # appraised where present, self elsewhere
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            "1.1.1": AppraisalEntry(D("10")),
            "1.1.2": AppraisalEntry(D("20")),
            "3.1": AppraisalEntry(D("1"), "Chỉ một mô hình"),
            "4.1": AppraisalEntry(D("0")),
        },
    )
    assessment.refresh_from_db()
    result = result_of(assessment)
    assert assessment.status == "appraised"
    assert result.provisional is False
    assert result.points == D("55")
    assert result.self_points == D("60")
    entry = AuditEntry.objects.get(
        assessment_id=assessment.pk, action="appraise", criterion_code="1.2", field="appraised_points"
    )
    assert (entry.old_value, D(entry.new_value), entry.reason) == ("", D("24"), "Thiếu tài liệu kiểm chứng")


def test_year_on_year_follows_the_same_unit_and_a_merger(district):
    tree = [("1", 100), ("1.1", 50), ("1.2", 50)]
    old = {code: make_unit(code, kind=UnitKind.COMMUNE, parent=district) for code in ("A", "B", "X14", "X15")}
    merged = make_unit("M", kind=UnitKind.COMMUNE, parent=district, predecessors=[old["X14"], old["X15"]])
    previous = make_framework(district, rows=rows_from_spec(tree), year=2022)
    for code, points in {"A": "90", "B": "70", "X14": "80", "X15": "60"}.items():
        a = assessment_get_or_create(unit=old[code], framework=previous)
        scores_apply_self(
            assessment=a, entries={"1.1": SelfEntry(D(points) / 2), "1.2": SelfEntry(D(points) / 2)}
        )
    current = make_framework(district, rows=rows_from_spec(tree), year=2023)
    results = {}
    for unit, points in ((old["A"], "85.5"), (old["B"], "91"), (merged, "75")):
        a = assessment_get_or_create(unit=unit, framework=current)
        scores_apply_self(
            assessment=a, entries={"1.1": SelfEntry(D(points) / 2), "1.2": SelfEntry(D(points) / 2)}
        )
        results[unit.code] = a
    a_result, b_result, m_result = (result_of(results[c]) for c in ("A", "B", "M"))
    # A: 90 → 85.5, rank 1 → 2
    assert (a_result.points_change, a_result.index_change, a_result.rank_change) == (D("-4.5"), D("-4.5"), -1)
    # B: 70 (3rd of 90, 80, 70, 60) → 91 (1st): up 2 places
    assert (b_result.points_change, b_result.rank_change) == (D("21"), 2)
    # M from X14 (80) and X15 (60): averaged 70 points, pooled index 70, which would have stood 3rd
    # among A (90) and B (70 → tie counts as not higher): place 2 → M is now 3rd: down 1 place.
    assert (m_result.previous_points, m_result.previous_index, m_result.previous_rank) == (
        D("70"),
        D("70"),
        2,
    )
    assert (m_result.points_change, m_result.rank_change) == (D("5"), -1)
    # A change of last year's results reaches this year's comparison.
    a_old = previous.assessments.get(unit=old["A"])
    scores_apply_self(assessment=a_old, entries={"1.1": SelfEntry(D("40"))})
    assert result_of(results["A"]).points_change == D("0.5")


def test_pooled_index_of_predecessors_is_clamped_like_every_index(district):
    tree = [("1", 100), ("1.1", 100), ("2", 5, "bonus"), ("2.1", 5, "bonus")]
    old = [make_unit(code, kind=UnitKind.COMMUNE, parent=district) for code in ("P1", "P2")]
    merged = make_unit("PM", kind=UnitKind.COMMUNE, parent=district, predecessors=old)
    previous = make_framework(district, rows=rows_from_spec(tree), year=2022)
    for unit in old:  # 98 + 3 bonus each: 101 points, index 100
        a = assessment_get_or_create(unit=unit, framework=previous)
        scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("98")), "2.1": SelfEntry(D("3"))})
    current = make_framework(district, rows=rows_from_spec(tree), year=2023)
    a = assessment_get_or_create(unit=merged, framework=current)
    scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("90"))})
    result = result_of(a)
    # Pooled: 202 points over 200 applicable would be 101; the previous index is 100, as published.
    assert (result.previous_points, result.previous_index, result.index_change) == (
        D("101"),
        D("100"),
        D("-10"),
    )


def test_unit_without_any_previous_assessment_has_no_change(district, commune):
    framework = make_framework(district, rows=rows_from_spec([("1", 100), ("1.1", 100)]), year=2024)
    a = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("50"))})
    result = result_of(a)
    assert (result.points_change, result.index_change, result.rank_change) == (None, None, None)


def test_empty_assessment_has_no_index_and_is_ranked_last(district, commune, other_commune):
    framework = make_framework(district, rows=rows_from_spec([("1", 100), ("1.1", 100)]))
    empty = assessment_get_or_create(unit=commune, framework=framework)
    scored = assessment_get_or_create(unit=other_commune, framework=framework)
    scores_apply_self(assessment=scored, entries={"1.1": SelfEntry(D("0"))})
    results_recompute(framework)
    assert (result_of(empty).index, result_of(empty).rank) == (None, None)
    assert (result_of(scored).index, result_of(scored).rank) == (D("0"), 1)


def test_recompute_query_count_does_not_grow_with_units(district):
    tree = [("1", 100), ("1.1", 50), ("1.2", 50)]

    def build(n, year):
        framework = make_framework(district, rows=rows_from_spec(tree), year=year)
        for i in range(n):
            unit = make_unit(f"Q{year}-{i}", parent=district)
            a = assessment_get_or_create(unit=unit, framework=framework)
            Score.objects.create(
                assessment=a, criterion=framework.criteria.get(code="1.1"), self_points=D(i % 50)
            )
        return framework

    small, large = build(3, 2030), build(30, 2040)  # not consecutive: no follow-up year
    counts = []
    for framework in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            results_recompute(framework)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert AssessmentResult.objects.filter(framework=large, rank__isnull=False).count() == 30


def test_published_framework_refuses_every_change(province, districts):
    framework = make_framework(province, rows=rows_from_spec(SMALL_TREE), unit_kind="district")
    assessment = assessment_get_or_create(unit=districts[0], framework=framework)
    scores_apply_self(assessment=assessment, entries={"1.2": SelfEntry(D("5"))})
    walk_and_publish(framework=framework, decision_number="4769/QĐ-UBND", decision_date=date(2023, 12, 21))
    before = list(Score.objects.values_list("self_points", "appraised_points"))
    with pytest.raises(FrameworkLocked):
        scores_apply_self(assessment=assessment, entries={"1.2": SelfEntry(D("6"))})
    with pytest.raises(FrameworkLocked):
        scores_apply_appraisal(assessment=assessment, entries={"1.2": AppraisalEntry(D("6"), "x")})
    with pytest.raises(FrameworkLocked):
        survey_apply(framework=framework, entries={"D1": {"2.1": D("1")}})
    assert list(Score.objects.values_list("self_points", "appraised_points")) == before
    # Left out of the publication by name (not appraised), it keeps its own state: provisional.
    assert result_of(assessment).provisional is True
    assert Assessment.objects.get(pk=assessment.pk).excluded_reason


def test_points_above_max_or_with_three_decimals_are_refused_and_nothing_is_saved(province, districts):
    framework = make_framework(province, rows=rows_from_spec(SMALL_TREE), unit_kind="district")
    assessment = assessment_get_or_create(unit=districts[0], framework=framework)
    with pytest.raises(ValidationError, match="30,5") as refused:
        scores_apply_self(
            assessment=assessment, entries={"1.1.1": SelfEntry(D("5")), "1.2": SelfEntry(D("30.5"))}
        )
    assert [(e.criterion, e.field) for e in refused.value.all()] == [("1.2", "self_points")]
    with pytest.raises(ValidationError):
        scores_apply_self(assessment=assessment, entries={"1.1.1": SelfEntry(D("5.125"))})
    with pytest.raises(ValidationError):
        scores_apply_self(assessment=assessment, entries={"2.1": SelfEntry(D("5"))})  # survey leaf
    assert not Score.objects.exists()


def test_ranking_command_prints_every_field_of_the_contract(province, districts):
    previous = make_framework(
        province,
        csv_name="framework-department.csv",
        unit_kind="district",
        decimals=3,
        year=2021,
        code="D-2021",
    )
    assess(previous, districts[0], "60", "10")
    assess(previous, districts[1], "70", "10")
    framework = make_framework(
        province,
        csv_name="framework-department.csv",
        unit_kind="district",
        decimals=3,
        year=2022,
        code="D-2022",
    )
    assess(framework, districts[0], "70.58", "12", exclude=("8.1",))
    assess(framework, districts[1], "60", "10")
    out = StringIO()
    call_command("ranking", "--framework", "D-2022", "--format", "json", stdout=out)
    items = json.loads(out.getvalue())
    first = items[0]
    assert {
        "rank",
        "unit_code",
        "unit_name",
        "points",
        "max_points",
        "index",
        "grade",
        "provisional",
        "areas",
        "change",
    } <= set(first)
    assert (first["unit_code"], first["rank"], first["points"], first["max_points"], first["index"]) == (
        "D1",
        1,
        "82.58",
        "95.50",
        "86.471",
    )
    assert first["grade"] == "Tốt" and first["provisional"] is True
    assert first["change"] == {"points": "12.58", "index": "16.471", "rank": 1}
    assert items[1]["change"] == {"points": "-10.00", "index": "-10.000", "rank": -1}  # 80 → 70
    assert {"code", "points", "max_points", "index", "rank"} == set(first["areas"][0])
    assert [a["code"] for a in first["areas"]] == [str(i) for i in range(1, 10)]
    area8 = first["areas"][7]
    assert (area8["max_points"], area8["index"], area8["rank"]) == (
        "4.50",
        "0.000",
        1,
    )  # 8.1 not applicable, 8.2 zero for both

    out = StringIO()
    call_command("ranking", "--framework", "D-2022", "--format", "csv", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("rank,unit_code,unit_name,points,max_points,index,grade,provisional")
    assert lines[1].startswith("1,D1,")
    assert ",86.471,Tốt,true," in lines[1]


def test_ranking_command_unknown_framework_is_a_clear_error(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Không có bộ chỉ số"):
        call_command("ranking", "--framework", "NOPE", "--format", "json", stdout=StringIO())


YOY_TREE = [("1", 100), ("1.1", 50), ("1.2", 50)]


def self_assess(framework, unit, first, second=None, *, second_not_applicable=False):
    """1.1 gets `first` points; 1.2 gets `second`, or is proposed not applicable."""
    a = assessment_get_or_create(unit=unit, framework=framework)
    entries = {"1.1": SelfEntry(D(first))}
    if second_not_applicable:
        entries["1.2"] = SelfEntry(None, not_applicable=True, not_applicable_reason="Không phát sinh")
    else:
        entries["1.2"] = SelfEntry(D(second))
    scores_apply_self(assessment=a, entries=entries)
    return a


def json_change(framework, unit_code):
    out = StringIO()
    call_command("ranking", framework=framework.code, format="json", stdout=out)
    return next(item for item in json.loads(out.getvalue()) if item["unit_code"] == unit_code)["change"]


def test_year_on_year_across_the_reform_uses_another_authoritys_framework(province, district):
    """2024: the district ranks A (80) and B (60); 2025: the province ranks A (85) with C and D."""
    a, b = (make_unit(code, kind=UnitKind.COMMUNE, parent=district) for code in ("A", "B"))
    c, d = (make_unit(code, kind=UnitKind.COMMUNE, parent=province) for code in ("C", "D"))
    before = make_framework(district, rows=rows_from_spec(YOY_TREE), year=2024, code="H-2024")
    self_assess(before, a, "40", "40")
    self_assess(before, b, "30", "30")
    reform = make_framework(province, rows=rows_from_spec(YOY_TREE), year=2025, code="T-2025")
    results = {
        u.code: self_assess(reform, u, *pts)
        for u, pts in ((a, ("42", "43")), (c, ("45", "45")), (d, ("10", "10")))
    }
    a_2025 = result_of(results["A"])
    # A: 80 → 85 points, index 80.00 → 85.00; its 2024 place (1st of 2 in the district) was held in
    # another ranking, so no change of place is shown against its 2025 place (2nd of 3).
    assert (a_2025.previous_points, a_2025.previous_index, a_2025.previous_rank) == (D("80"), D("80"), None)
    assert (a_2025.points_change, a_2025.index_change, a_2025.rank_change) == (D("5"), D("5"), None)
    assert json_change(reform, "A") == {"points": "5.00", "index": "5.00", "rank": None}
    assert json_change(reform, "C") is None  # no 2024 result anywhere
    # 2026: the province's own ranking continues, so A's place change is kept (2nd → 1st), while B,
    # back after a year out, has none.
    later = make_framework(province, rows=rows_from_spec(YOY_TREE), year=2026, code="T-2026")
    a_2026 = result_of(self_assess(later, a, "45", "45"))
    self_assess(later, c, "40", "40")
    assert (a_2026.points_change, a_2026.previous_rank, a_2026.rank_change) == (D("5"), 2, 1)
    assert json_change(later, "A") == {"points": "5.00", "index": "5.00", "rank": 1}
    # A correction of the former district's 2024 result reaches the province's 2025 comparison.
    self_assess(before, a, "40", "35")
    assert result_of(results["A"]).points_change == D("10")


def test_merged_unit_pools_predecessors_of_two_former_districts(province):
    """P1 (district H1: 45 of an applicable 50, 1.2 not applicable, index 90) and P2 (district H2:
    60 of 100, index 60) form M, assessed by the province in 2025 with 77 of 100."""
    h1, h2 = (make_unit(code, kind=UnitKind.DISTRICT, parent=province) for code in ("H1", "H2"))
    p1 = make_unit("P1", kind=UnitKind.COMMUNE, parent=h1)
    p2 = make_unit("P2", kind=UnitKind.COMMUNE, parent=h2)
    other = make_unit("Q", kind=UnitKind.COMMUNE, parent=h2)
    merged = make_unit("M", kind=UnitKind.COMMUNE, parent=province, predecessors=[p1, p2])
    first = make_framework(h1, rows=rows_from_spec(YOY_TREE), year=2024, code="H1-2024")
    second = make_framework(h2, rows=rows_from_spec(YOY_TREE), year=2024, code="H2-2024")
    self_assess(first, p1, "45", second_not_applicable=True)
    self_assess(second, p2, "30", "30")
    self_assess(second, other, "50", "50")
    reform = make_framework(province, rows=rows_from_spec(YOY_TREE), year=2025, code="T-2025")
    result = result_of(self_assess(reform, merged, "38.5", "38.5"))
    # Points averaged: (45 + 60) ÷ 2 = 52.5; index pooled: (45 + 60) ÷ (50 + 100) × 100 = 70.00
    # (not the average of the indices, (90 + 60) ÷ 2 = 75). Change: 77 − 52.5 = 24.5 points,
    # 77.00 − 70.00 = 7.00 index; the predecessors' places were held in two other rankings: none.
    assert (result.previous_points, result.previous_index, result.previous_rank) == (D("52.5"), D("70"), None)
    assert (result.points_change, result.index_change, result.rank_change) == (D("24.5"), D("7"), None)
    assert json_change(reform, "M") == {"points": "24.50", "index": "7.00", "rank": None}
