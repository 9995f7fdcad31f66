"""Results with every source, the appraiser's not-applicable decisions, an optional survey, an
uncapped index, and the parts of the points, on worked figures (DESIGN §2, §2.1, §5).

Scores are written on the rows and the engine recomputes, as every service does after a change:
these tests are about what the results count, not about who may enter what."""

import csv
import json
from decimal import Decimal as D
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from reports.selectors import progress
from scoring.access import reach
from scoring.assessments.services import (
    SelfEntry,
    assessment_get_or_create,
    missing_self_scores,
    scores_apply_self,
    submission_problems,
)
from scoring.models import AssessmentResult, AssessmentStatus, Criterion, Framework, Score
from scoring.results.engine import results_recompute

from .factories import make_framework, make_unit, rows_from_spec


def framework_of(authority, spec, *, index_capped=True, survey_optional=False):
    """A framework of `spec`, with the options import_framework --index-cap / --survey set."""
    framework = make_framework(authority, rows=rows_from_spec(spec))
    Framework.objects.filter(pk=framework.pk).update(
        index_capped=index_capped, survey_optional=survey_optional
    )
    framework.refresh_from_db()
    return framework


def put(assessment, code, **fields):
    """Write a score row as it stands after entry (self, appraisal, survey, decisions)."""
    criterion = Criterion.objects.get(framework=assessment.framework, code=code)
    Score.objects.update_or_create(assessment=assessment, criterion=criterion, defaults=fields)


def computed(assessment, status=None):
    if status:
        type(assessment).objects.filter(pk=assessment.pk).update(status=status)
    results_recompute(assessment.framework)
    return AssessmentResult.objects.get(assessment=assessment)


# --- office leaves ------------------------------------------------------------------------------------


OFFICE = [("1", 60), ("1.1", 40), ("1.2", 20), ("2", 40, "score", "office"), ("2.1", 40, "score", "office")]


def test_office_leaves_count_with_their_final_points(district, commune):
    framework = framework_of(district, OFFICE)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("35"))
    put(assessment, "1.2", self_points=D("15"), appraised_points=D("12"))
    put(assessment, "2.1", appraised_points=D("30"))  # the office's own score
    result = computed(assessment, AssessmentStatus.APPRAISED)
    # 35 + 12 (appraised) + 30 (office) = 77 of 100 → 77.00
    assert (result.points, result.max_points, result.index) == (D("77"), D("100"), D("77.00"))
    assert (result.self_part_points, result.survey_points, result.office_points) == (D("47"), D("0"), D("30"))
    # The self-assessed part: 35 + 15 = 50 of 60 → 83.33
    assert (result.self_points, result.self_max_points, result.self_index) == (D("50"), D("60"), D("83.33"))
    assert (result.office_leaves_applicable, result.office_leaves_scored) == (1, 1)


def test_an_office_leaf_not_yet_scored_counts_zero(district, commune):
    framework = framework_of(district, OFFICE)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("40"))
    put(assessment, "1.2", self_points=D("20"))
    result = computed(assessment)
    assert (result.points, result.max_points, result.index) == (D("60"), D("100"), D("60.00"))
    assert (result.office_leaves_applicable, result.office_leaves_scored) == (1, 0)


# --- not applicable as a two-sided decision ---------------------------------------------------------------


NA = [("1", 100), ("1.1", 40), ("1.2", 20), ("1.3", 40)]


@pytest.fixture
def na_framework(district):
    return framework_of(district, NA)


def na_case(framework, code, **decision):
    unit = make_unit(
        f"NA-{code}-{len(decision)}-{decision.get('appraised_not_applicable')}", parent=framework.authority
    )
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    put(assessment, "1.1", self_points=D("30"))
    put(assessment, "1.2", not_applicable=True, not_applicable_reason="Không có cơ sở giáo dục trên địa bàn")
    put(assessment, "1.3", self_points=D("30"))
    if decision:
        put(assessment, code, **decision)
    return computed(assessment)


def test_a_proposed_not_applicable_leaves_the_max_until_decided(na_framework):
    result = na_case(na_framework, "1.2")
    assert (result.points, result.max_points, result.index) == (D("60"), D("80"), D("75.00"))


def test_a_confirmed_not_applicable_leaves_the_max(na_framework):
    result = na_case(na_framework, "1.2", appraised_not_applicable=True)
    assert (result.points, result.max_points, result.index) == (D("60"), D("80"), D("75.00"))


def test_a_refused_not_applicable_counts_the_leaf_with_the_appraisers_points(na_framework):
    result = na_case(na_framework, "1.2", appraised_not_applicable=False, appraised_points=D("10"))
    # 30 + 10 + 30 = 70 of 100 → 70.00 (not 75 as the unit proposed)
    assert (result.points, result.max_points, result.index) == (D("70"), D("100"), D("70.00"))
    assert result.leaves_applicable == 3


def test_a_refused_not_applicable_not_yet_scored_counts_zero(na_framework):
    result = na_case(na_framework, "1.2", appraised_not_applicable=False)
    assert (result.points, result.max_points, result.index) == (D("60"), D("100"), D("60.00"))


def test_an_imposed_not_applicable_removes_the_leaf(na_framework):
    result = na_case(na_framework, "1.3", appraised_not_applicable=True)
    # 1.2 proposed (undecided) and 1.3 imposed: 30 of 40 → 75.00; the self part too
    assert (result.points, result.max_points, result.index) == (D("30"), D("40"), D("75.00"))
    assert (result.self_points, result.self_max_points) == (D("30"), D("40"))


# --- optional survey --------------------------------------------------------------------------------------


SURVEY = [
    ("1", "68.5"),
    ("1.1", "68.5"),
    ("2", "31.5", "score", "survey"),
    ("2.1", "31.5", "score", "survey"),
]


@pytest.mark.parametrize(
    ("optional", "survey", "expected"),
    [
        (True, None, (D("60"), D("68.5"), D("87.59"))),  # 60 / 68.5 = 87.591… → 87.59
        (False, None, (D("60"), D("100"), D("60.00"))),  # required: the missing survey counts 0
        (True, D("20"), (D("80"), D("100"), D("80.00"))),  # a survey result: the full max
        (True, D("0"), (D("60"), D("100"), D("60.00"))),  # a result of 0 is a result
    ],
)
def test_optional_survey_indexes_a_unit_without_survey_on_the_remaining_max(
    district, commune, optional, survey, expected
):
    framework = framework_of(district, SURVEY, survey_optional=optional)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("60"))
    if survey is not None:
        put(assessment, "2.1", appraised_points=survey)
    result = computed(assessment)
    assert (result.points, result.max_points, result.index) == expected
    assert result.survey_points == (survey or D("0"))


def test_optional_survey_applies_to_the_area_too(district, commune):
    framework = framework_of(
        district,
        [("1", 100), ("1.1", "68.5"), ("1.2", "31.5")],
        survey_optional=True,
    )
    Criterion.objects.filter(framework=framework, code="1.2").update(source="survey")  # mixed in one area
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("60"))
    result = computed(assessment)
    area = assessment.area_results.get(area__code="1")
    assert (result.index, area.points, area.max_points, area.index) == (
        D("87.59"),
        D("60"),
        D("68.5"),
        D("87.59"),
    )


# --- caps ---------------------------------------------------------------------------------------------------


CAP = [("1", 100), ("1.1", 100), ("3", 5, "bonus"), ("3.1", 5, "bonus")]


@pytest.mark.parametrize(("capped", "index"), [(True, D("100.00")), (False, D("101.00"))])
def test_98_points_and_a_3_point_bonus(district, commune, capped, index):
    framework = framework_of(district, CAP, index_capped=capped)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("98"))
    put(assessment, "3.1", self_points=D("3"))
    result = computed(assessment)
    assert (result.points, result.bonus_points, result.max_points, result.index) == (
        D("101"),
        D("3"),
        D("100"),
        index,
    )


def test_a_bonus_on_a_unit_with_not_applicable_leaves_never_lifts_a_capped_index_above_100(district, commune):
    """The reported case: 12 of 10 applicable points must not read "120,00 – Xuất sắc"."""
    framework = framework_of(
        district, [("1", 20), ("1.1", 10), ("1.2", 10), ("3", 2, "bonus"), ("3.1", 2, "bonus")]
    )
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("10"))
    put(assessment, "1.2", not_applicable=True)
    put(assessment, "3.1", self_points=D("2"))
    result = computed(assessment)
    assert result.grade == "Xuất sắc"  # from the clamped 100, the band any unit at 100 gets
    assert (result.points, result.max_points, result.bonus_points, result.index) == (
        D("12"),
        D("10"),
        D("2"),
        D("100.00"),
    )


# --- parts in ranking --format json -----------------------------------------------------------------------


def test_ranking_json_carries_the_parts(district, commune, other_commune):
    spec = [
        ("1", 50),
        ("1.1", 50),
        ("2", 30, "score", "survey"),
        ("2.1", 30, "score", "survey"),
        ("3", 20, "score", "office"),
        ("3.1", 20, "score", "office"),
        ("4", 5, "bonus"),
        ("4.1", 5, "bonus"),
        ("5", 5, "penalty"),
        ("5.1", 5, "penalty"),
    ]
    framework = framework_of(district, spec)
    first = assessment_get_or_create(unit=commune, framework=framework)
    put(first, "1.1", self_points=D("45.5"), appraised_points=D("42.25"))
    put(first, "2.1", appraised_points=D("24.6"))
    put(first, "3.1", appraised_points=D("18"))
    put(first, "4.1", self_points=D("2"))
    put(first, "5.1", self_points=D("1.5"))
    second = assessment_get_or_create(unit=other_commune, framework=framework)
    put(second, "1.1", self_points=D("40"))
    results_recompute(framework)
    out = StringIO()
    call_command("ranking", framework=framework.code, format="json", stdout=out)
    items = {item["unit_code"]: item for item in json.loads(out.getvalue())}
    # 42.25 + 24.6 + 18 + 2 − 1.5 = 85.35 of 100
    assert items[commune.code]["points"] == "85.35"
    assert items[commune.code]["parts"] == {
        "self": "42.25",
        "survey": "24.60",
        "office": "18.00",
        "bonus": "2.00",
        "penalty": "1.50",
    }
    assert items[other_commune.code]["parts"] == {
        "self": "40.00",
        "survey": "0.00",
        "office": "0.00",
        "bonus": "0.00",
        "penalty": "0.00",
    }


# --- honest provisional figures on the unit's page --------------------------------------------------------


PAGE = [
    ("1", "65.5"),
    ("1.1", 30),
    ("1.2", "35.5"),
    ("2", "34.5", "score", "survey"),
    ("2.1", "34.5", "score", "survey"),
]


def summary_of(client, assessment):
    html = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    start = html.index('id="summary"')
    return html[start : html.index("</div>\n</div>", start)]


def test_the_unit_sees_its_self_assessed_part_and_the_final_index_only_once_every_part_is_in(
    client, officer, district, commune
):
    framework = framework_of(district, PAGE)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("25")), "1.2": SelfEntry(D("25.1"))})
    client.force_login(officer)
    summary = summary_of(client, assessment)
    # 50.1 of the self-assessable 65.5 → 76.49; the index over 100 (50.10) is not shown yet
    assert "50,1 / 65,5" in summary and "76,49" in summary
    assert "50,10" not in summary and "Chỉ số và xếp loại được hiển thị khi" in summary

    put(assessment, "2.1", appraised_points=D("30"))
    computed(assessment, AssessmentStatus.APPRAISED)
    summary = summary_of(client, assessment)
    # appraised and surveyed: 50.1 + 30 = 80.1 of 100 → 80.10
    assert "80,1 / 100" in summary and "80,10" in summary


def test_the_appraised_unit_without_survey_waits_for_it_unless_the_survey_is_optional(
    client, officer, district, commune
):
    framework = framework_of(district, PAGE)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("25")), "1.2": SelfEntry(D("25.1"))})
    computed(assessment, AssessmentStatus.APPRAISED)
    client.force_login(officer)
    assert "Chỉ số và xếp loại được hiển thị khi" in summary_of(client, assessment)
    Framework.objects.filter(pk=framework.pk).update(survey_optional=True)
    assessment.framework.refresh_from_db()
    computed(assessment)
    summary = summary_of(client, assessment)
    # optional survey, none given: 50,1 of the remaining 65,5 → index 76,49 (the final index, shown)
    assert (
        "50,1 / 65,5" in summary
        and "76,49" in summary
        and "Chỉ số và xếp loại được hiển thị khi" not in summary
    )


def test_scored_criteria_counts_agree_with_the_submission_check(
    client, officer, appraiser, district, commune
):
    framework = framework_of(district, PAGE + [("3", 2, "bonus"), ("3.1", 2, "bonus")])
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("25"))})
    result = AssessmentResult.objects.get(assessment=assessment)
    unscored = [p.criterion.code for p in submission_problems(assessment) if p.reason == "unscored"]
    # self leaves 1.1, 1.2 and the bonus 3.1: one scored; the survey leaf is not the unit's
    assert (result.self_leaves_scored, result.self_leaves_applicable) == (1, 3)
    assert unscored == [c.code for c in missing_self_scores(assessment)] == ["1.2", "3.1"]
    client.force_login(officer)
    assert "1 / 3" in summary_of(client, assessment)
    row = next(r for r in progress(framework, reach(appraiser)).rows if r.assessment_id == assessment.pk)
    assert (row.leaves_scored, row.leaves_applicable) == (1, 3)  # the office's progress board

    scores_apply_self(
        assessment=assessment,
        entries={"1.2": SelfEntry(None, not_applicable=True), "3.1": SelfEntry(D("0"))},
    )
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.self_leaves_scored, result.self_leaves_applicable) == (2, 2)
    assert missing_self_scores(assessment) == []
    assert not [p for p in submission_problems(assessment) if p.reason == "unscored"]
    assert "2 / 2" in summary_of(client, assessment)


def test_dashboard_and_its_exports_show_the_parts(client, leader, district, commune):
    framework = framework_of(district, OFFICE + [("3", 5, "bonus"), ("3.1", 5, "bonus")])
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    put(assessment, "1.1", self_points=D("35"))
    put(assessment, "1.2", self_points=D("15"), appraised_points=D("12"))
    put(assessment, "2.1", appraised_points=D("30"))
    put(assessment, "3.1", self_points=D("2.5"))
    computed(assessment)
    client.force_login(leader)
    # 47 (self, appraised) + 0 (survey) + 30 (office) + 2.5 (bonus) − 0 = 79.5 of 100
    html = client.get(reverse("reports:dashboard"), {"framework": framework.code}).content.decode()
    table = html[html.index('id="ranking"') :]
    for header in ("Tự đánh giá/thẩm định", "Điều tra xã hội học", "Cơ quan chấm", "Điểm thưởng", "Điểm trừ"):
        assert header in table
    assert "79,5 / 100" in table and ">47<" in table and ">2,5<" in table

    response = client.get(reverse("reports:ranking_export", args=[framework.code, "csv"]) + "?sep=,")
    header, line = list(csv.reader(StringIO(response.content.decode().lstrip("\ufeff"))))
    assert header[11:16] == [
        "Tự đánh giá/thẩm định",
        "Điều tra xã hội học",
        "Cơ quan chấm",
        "Điểm thưởng",
        "Điểm trừ",
    ]
    assert (line[3], line[11:16]) == ("79.50", ["47.00", "0.00", "30.00", "2.50", "0.00"])
    assert header[16:] == ["Nhóm xếp hạng", "Không xếp hạng: lý do"] and line[16:] == ["", ""]

    response = client.get(reverse("reports:ranking_export", args=[framework.code, "xlsx"]))
    sheet = load_workbook(BytesIO(response.content)).active
    assert [c.value for c in sheet[4]][11:] == header[11:]
    assert [D(str(c.value)) for c in sheet[5][11:16]] == [D("47"), D("0"), D("30"), D("2.5"), D("0")]
