"""Points lost, leaf by leaf, in the report, the unit profile and remediation add up to what the
result lost (max − points): an optional survey the results leave out is lost nowhere, and a
framework numbered I, a1 is read like any other."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from reports.remediation import weakest_criteria
from reports.report_workbook import report_data
from reports.selectors import unit_profile
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.frameworks.services import CriterionRow, framework_create, framework_update
from scoring.models import AreaResult, AssessmentResult
from scoring.results.engine import results_recompute
from scoring.results.selectors import survey_left_out

from .factories import make_framework, rows_from_spec

pytestmark = pytest.mark.django_db

# Self-assessed 1.1 (4) and 1.2 (6), survey 2.1 (10).
TREE = [("1", 10), ("1.1", 4), ("1.2", 6), ("2", 10, "score", "survey"), ("2.1", 10, "score", "survey")]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="OPT")


@pytest.fixture
def assessment(framework, commune, officer):
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("3"), note="QĐ 1"), "1.2": SelfEntry(D("5"), note="QĐ 2")},
        actor=officer,
    )
    return assessment


def lost_by_leaf(framework):
    return {line.code: (line.counted, line.lost) for line in report_data(framework, None).lost}


def test_an_optional_survey_left_out_is_lost_nowhere(framework, assessment, appraiser):
    framework = framework_update(framework=framework, changes={"survey_optional": True}, actor=appraiser)
    results_recompute(framework)
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.points, result.max_points, result.survey_left_out) == (D("8"), D("10"), True)
    assert survey_left_out(framework) == {assessment.pk}
    lost = lost_by_leaf(framework)
    assert lost == {"1.1": (1, D("1.00")), "1.2": (1, D("1.00")), "2.1": (0, D("0.00"))}
    assert sum(points for _n, points in lost.values()) == result.max_points - result.points
    profile = unit_profile(assessment.unit, framework)
    assert [(line.code, line.lost) for line in profile.lost] == [("1.1", D("1")), ("1.2", D("1"))]
    weakest = weakest_criteria(framework)[assessment.pk]
    assert sum(points for _id, points in weakest) == result.max_points - result.points


def area_subs(client, assessment) -> dict[str, str]:
    html = client.get(reverse("scoring:assessment_appraise", args=[assessment.pk])).content.decode()
    subs = {}
    for code in ("1", "2"):
        start = html.index(f'id="area-sub-{code}"')
        subs[code] = (
            html[html.index(">", start) + 1 : html.index("</span>", start)].split("<small")[0].strip()
        )
    return subs


@pytest.mark.parametrize("optional", [True, False])
def test_the_appraisal_page_areas_agree_with_the_stored_area_results(
    client, framework, assessment, appraiser, optional
):
    if optional:
        framework = framework_update(framework=framework, changes={"survey_optional": True}, actor=appraiser)
        results_recompute(framework)
    client.force_login(appraiser)
    subs = area_subs(client, assessment)
    stored = {
        r.area.code: r.max_points
        for r in AreaResult.objects.filter(assessment=assessment).select_related("area")
    }
    assert stored == {"1": D("10"), "2": D("0") if optional else D("10")}
    assert subs["1"].endswith("/ 10")
    assert subs["2"].endswith("/ 0" if optional else "/ 10")


def test_a_required_survey_not_yet_in_is_lost_everywhere(framework, assessment):
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.points, result.max_points, result.survey_left_out) == (D("8"), D("20"), False)
    assert survey_left_out(framework) == set()
    lost = lost_by_leaf(framework)
    assert lost["2.1"] == (1, D("10.00"))
    assert sum(points for _n, points in lost.values()) == result.max_points - result.points
    assert [line.code for line in unit_profile(assessment.unit, framework).lost] == ["2.1", "1.1", "1.2"]


def test_the_unit_profile_reads_a_framework_numbered_its_own_way(district, commune, officer):
    rows = [
        CriterionRow("I", "Chỉ đạo điều hành", None),
        CriterionRow("1", "Kế hoạch", None, parent="I"),
        CriterionRow("a1", "Ban hành kế hoạch", D("2"), parent="1"),
        CriterionRow("b1", "Hoàn thành kế hoạch", D("2"), parent="1"),
        CriterionRow("II", "Thể chế", None),
        CriterionRow("2", "Văn bản", D("6"), parent="II"),
    ]
    framework = framework_create(
        code="SO", authority=district, unit_kind=commune.kind, year=2025, name="Bộ chỉ số", rows=rows
    )
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={"a1": SelfEntry(D("1"), note="QĐ 1"), "b1": SelfEntry(D("1"), note="QĐ 2")},
        actor=officer,
    )
    profile = unit_profile(commune, framework)
    # Equal losses keep the framework's order.
    assert [(line.code, line.lost) for line in profile.lost] == [
        ("2", D("6")),
        ("a1", D("1")),
        ("b1", D("1")),
    ]
