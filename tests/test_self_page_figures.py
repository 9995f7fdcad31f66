"""What the unit's officer reads: the guidance of each leaf (who scores it and how its points are given,
worded as the criteria tree words them) and the list of assessments, which shows the self-assessed
part until every part is in, as the unit's page does."""

import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    not_applicable_decide,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.frameworks.selectors import rule_description, source_note
from scoring.models import AssessmentResult, Criterion

from .factories import make_framework, rows_from_spec

pytestmark = pytest.mark.django_db

# Self-assessable max 30 (1.1 of 10, yes/no; 1.2 of 20), office 10, survey 20.
TREE = [
    ("1", 40),
    ("1.1", 10, "score", "self", "yesno"),
    ("1.2", 20),
    ("1.3", 10, "score", "office", "percent"),
    ("2", 20, "score", "survey"),
    ("2.1", 20, "score", "survey"),
]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="PG")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def article(html: str, code: str) -> str:
    start = html.index(f'id="c-{code}"')
    return html[start : html.index("</article>", start)]


def guidance(html: str, code: str) -> str:
    part = article(html, code)
    return part[part.index('class="guidance"') : part.index("</details>", part.index('class="guidance"'))]


def test_guidance_shows_the_source_and_the_rule_as_the_criteria_tree_words_them(
    client, officer, assessment, framework
):
    Criterion.objects.filter(framework=framework, code="1.2").update(guidance="Có văn bản chỉ đạo")
    client.force_login(officer)
    html = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    with translation.override("vi"):
        for criterion in Criterion.objects.filter(framework=framework, is_leaf=True):
            text = guidance(html, criterion.code)
            assert escape(source_note(criterion)) in text, criterion.code
            assert escape(rule_description(criterion)) in text, criterion.code
    assert "Cơ quan thẩm định chấm" in guidance(html, "1.3")
    assert "Có văn bản chỉ đạo" in guidance(html, "1.2")
    # The criteria tree words them the same way.
    tree = client.get(reverse("scoring:framework_criteria", args=[framework.code])).content.decode()
    with translation.override("vi"):
        office = Criterion.objects.get(framework=framework, code="1.3")
        assert escape(source_note(office)) in tree and escape(rule_description(office)) in tree


def list_cells(client) -> str:
    html = client.get(reverse("scoring:my_assessments")).content.decode()
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return re.sub(r"\s+", " ", body)


def dashboard_row(client, framework) -> str:
    html = client.get("/dashboards/", {"framework": framework.code}).content.decode()
    start = html.index('id="ranking"')
    return html[html.index("<tbody>", start) : html.index("</tbody>", start)]


def test_the_list_shows_the_self_assessed_part_until_every_part_is_in(
    client, officer, appraiser, assessment, framework
):
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(None, raw="có", note="QĐ 1"), "1.2": SelfEntry(D("12.5"), note="QĐ 2")},
        actor=officer,
    )
    client.force_login(officer)
    cells = list_cells(client)
    result = AssessmentResult.objects.get(assessment=assessment)
    # 22,5 of the 30 self-assessable points, index 75; the stored index (22,5 of 60) is not shown.
    assert (result.self_points, result.self_max_points, result.self_index) == (D("22.5"), D("30"), D("75"))
    assert result.index == D("37.5")
    assert "22,5 / 30" in cells and "75,00" in cells
    assert '<small class="muted">phần tự đánh giá</small>' in cells
    assert "22,5 / 60" not in cells and "37,50" not in cells

    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            "1.1": AppraisalEntry(None, raw="có"),
            "1.2": AppraisalEntry(D("12.5")),
            "1.3": AppraisalEntry(None, raw="80"),
        },
        actor=appraiser,
    )
    # Appraised, but the survey is still missing: still the self-assessed part.
    cells = list_cells(client)
    assert "22,5 / 30" in cells and "30,5 / 60" not in cells
    # The dashboard ranks the stored index but marks it provisional until the survey is in too.
    assert not AssessmentResult.objects.get(assessment=assessment).provisional
    client.force_login(appraiser)
    assert dashboard_row(client, framework).count("badge provisional") == 1
    survey_apply(framework=framework, entries={"X1": {"2.1": D("15")}}, actor=appraiser)
    result = AssessmentResult.objects.get(assessment=assessment)
    assert result.all_parts_in and (result.points, result.max_points, result.index) == (
        D("45.5"),
        D("60"),
        D("75.83"),
    )
    assert dashboard_row(client, framework).count("badge provisional") == 0
    client.force_login(officer)
    cells = list_cells(client)
    assert "45,5 / 60" in cells and "75,83" in cells and "phần tự đánh giá" not in cells


def test_a_bonus_the_appraiser_decided_not_applicable_is_not_shown_as_earned(
    client, officer, appraiser, district, commune
):
    framework = make_framework(
        district, rows=rows_from_spec([("1", 10), ("1.1", 10), ("2", 2, "bonus"), ("2.1", 2, "bonus")])
    )
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("8"), note="QĐ 1"), "2.1": SelfEntry(D("2"), note="Bằng khen")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    not_applicable_decide(
        assessment=assessment,
        code="2.1",
        decision="impose",
        reason="Không thuộc năm đánh giá",
        actor=appraiser,
    )
    result = AssessmentResult.objects.get(assessment=assessment)
    assert (result.bonus_points, result.points) == (D("0"), D("8"))
    client.force_login(officer)
    html = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    area = Criterion.objects.get(framework=framework, code="2")
    start = html.index(f'id="area-sum-{area.pk}"')
    assert re.sub(r"\s+", " ", html[start : html.index("</span>", start)]).endswith(">0 / 2 điểm")
