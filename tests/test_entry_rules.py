"""Scoring rules and office leaves through every entry path (DESIGN §2.1, §5): the services, the
self-assessment page (htmx and plain POST), the template round trip, the command (self and appraisal
stages, --submit), the appraisal page and the admin's field-by-field change. Worked figures for a
leaf of max 2: percent 95,5 → 1,91 and 191/200 → 1,91; bands 93 → 1,5; deduct 3 → 0,5; yesno có → 2;
steps 0,73 refused."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from parindex.errors import ServiceError
from parindex.numbers import format_decimal
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_fields,
    scores_apply_self,
)
from scoring.models import AssessmentStatus, Score

from .factories import make_framework, rows_from_spec

MAX = 2
TREE = [
    ("1", 12),
    ("1.1", MAX, "score", "self", "percent"),
    ("1.2", MAX, "score", "self", "bands:100=2;90=1,5;80=1;0=0"),
    ("1.3", MAX, "score", "self", "deduct:0,5"),
    ("1.4", MAX, "score", "self", "yesno"),
    ("1.5", MAX, "score", "self", "steps:0;0,5;1"),
    ("1.6", MAX),
    ("2", 4, "score", "office"),
    ("2.1", MAX, "score", "office"),
    ("2.2", MAX, "score", "office", "percent"),
]
EVIDENCE = "QĐ số 12/QĐ-UBND, tr.3"


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def scores(assessment) -> dict[str, Score]:
    return {
        s.criterion.code: s for s in Score.objects.filter(assessment=assessment).select_related("criterion")
    }


def refusal(call) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


def full_self_entries() -> dict[str, SelfEntry]:
    return {
        "1.1": SelfEntry(None, raw="95,5", evidence_reference=EVIDENCE),
        "1.2": SelfEntry(None, raw="93%", evidence_reference=EVIDENCE),
        "1.3": SelfEntry(None, raw="3", evidence_reference=EVIDENCE),
        "1.4": SelfEntry(None, raw="Có", evidence_reference=EVIDENCE),
        "1.5": SelfEntry(D("0.5"), evidence_reference=EVIDENCE),
        "1.6": SelfEntry(None, not_applicable=True, not_applicable_reason="Không có nhiệm vụ này"),
    }


# --- services ----------------------------------------------------------------------------------------


def test_self_raw_figures_give_the_rules_points(assessment, officer):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    stored = scores(assessment)
    assert {code: (s.self_raw, s.self_points) for code, s in stored.items() if code != "1.6"} == {
        "1.1": ("95,5", D("1.91")),
        "1.2": ("93%", D("1.5")),
        "1.3": ("3", D("0.5")),
        "1.4": ("Có", D("2")),
        "1.5": ("", D("0.5")),
    }
    assert stored["1.6"].not_applicable and stored["1.6"].not_applicable_reason == "Không có nhiệm vụ này"
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(None, raw="191/200")}, actor=officer)
    assert (scores(assessment)["1.1"].self_raw, scores(assessment)["1.1"].self_points) == (
        "191/200",
        D("1.91"),
    )


def test_self_refusals_name_criterion_and_field(assessment, officer):
    error = refusal(
        lambda: scores_apply_self(
            assessment=assessment,
            entries={
                "1.1": SelfEntry(D("1.91")),  # typed points on a percent leaf
                "1.2": SelfEntry(None, raw="abc"),
                "1.5": SelfEntry(D("0.73")),
                "1.6": SelfEntry(None, not_applicable=True),  # no reason
                "2.1": SelfEntry(D("1")),  # office leaf
            },
            actor=officer,
        )
    )
    found = {(e.criterion, e.field) for e in error.all()}
    assert found == {
        ("1.1", "self_points"),
        ("1.2", "raw"),
        ("1.5", "self_points"),
        ("1.6", "not_applicable_reason"),
        ("2.1", "self_points"),
    }
    texts = {e.criterion: e.text("vi") for e in error.all()}
    assert texts["1.5"] == "0,73 không thuộc các mức 0; 0,5; 1."
    assert "0.73 is not one of the levels 0; 0.5; 1." in error.all()[
        [e.criterion for e in error.all()].index("1.5")
    ].text("en")
    assert Score.objects.filter(assessment=assessment).count() == 0  # all or nothing


def test_points_leaf_refuses_a_raw_figure(assessment, officer):
    error = refusal(
        lambda: scores_apply_self(
            assessment=assessment, entries={"1.6": SelfEntry(None, raw="95")}, actor=officer
        )
    )
    assert (error.criterion, error.field) == ("1.6", "raw")


def test_not_applicable_reason_falls_back_to_the_note(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={"1.6": SelfEntry(None, not_applicable=True, note="Xã không có nhiệm vụ")},
        actor=officer,
    )
    assert scores(assessment)["1.6"].not_applicable_reason == "Xã không có nhiệm vụ"


def submitted(assessment, officer):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


def test_office_leaf_is_refused_to_the_unit_and_taken_by_the_appraiser(assessment, officer, appraiser):
    error = refusal(
        lambda: scores_apply_self(
            assessment=assessment, entries={"2.2": SelfEntry(None, raw="50")}, actor=officer
        )
    )
    assert (error.criterion, error.field) == ("2.2", "self_points")
    assert "cơ quan" in error.text("vi") and "by the office" in error.text("en")
    submitted(assessment, officer)
    scores_apply_appraisal(
        assessment=assessment,
        entries={"2.1": AppraisalEntry(D("1.5")), "2.2": AppraisalEntry(None, raw="191/200")},
        actor=appraiser,
    )
    stored = scores(assessment)
    assert (stored["2.1"].appraised_points, stored["2.1"].self_points) == (D("1.5"), None)
    assert (stored["2.2"].appraised_raw, stored["2.2"].appraised_points) == ("191/200", D("1.91"))


def test_appraisal_takes_raw_figures_and_wants_a_reason_for_a_difference(assessment, officer, appraiser):
    submitted(assessment, officer)
    error = refusal(
        lambda: scores_apply_appraisal(
            assessment=assessment,
            entries={"1.3": AppraisalEntry(None, raw="4"), "1.1": AppraisalEntry(D("1.91"))},
            actor=appraiser,
        )
    )
    assert {(e.criterion, e.field) for e in error.all()} == {
        ("1.3", "appraisal_reason"),
        ("1.1", "appraised_points"),
    }
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            "1.3": AppraisalEntry(None, raw="4", reason="Thêm 1 báo cáo trễ"),
            "1.1": AppraisalEntry(None, raw="95,5"),
        },
        actor=appraiser,
    )
    stored = scores(assessment)
    assert (stored["1.3"].appraised_raw, stored["1.3"].appraised_points) == ("4", D("0"))
    assert stored["1.1"].appraised_points == D("1.91")


def test_marked_appraised_only_once_office_leaves_are_scored(assessment, officer, appraiser):
    submitted(assessment, officer)
    own = scores(assessment)
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            code: AppraisalEntry(None, raw=s.self_raw) if s.self_raw else AppraisalEntry(s.self_points)
            for code, s in own.items()
            if not s.not_applicable
        },
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED
    scores_apply_appraisal(
        assessment=assessment,
        entries={"2.1": AppraisalEntry(D("2")), "2.2": AppraisalEntry(None, raw="100")},
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED


def test_admin_field_changes_go_through_the_rules(assessment, officer, appraiser):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    scores_apply_fields(assessment=assessment, changes={"1.1": {"self_raw": "191/200"}}, actor=appraiser)
    assert scores(assessment)["1.1"].self_points == D("1.91")
    scores_apply_fields(assessment=assessment, changes={"1.2": {"note": "Đã rà soát"}}, actor=appraiser)
    assert (scores(assessment)["1.2"].self_points, scores(assessment)["1.2"].note) == (D("1.5"), "Đã rà soát")
    error = refusal(
        lambda: scores_apply_fields(
            assessment=assessment, changes={"1.3": {"self_points": D("2")}}, actor=appraiser
        )
    )
    assert (error.criterion, error.field) == ("1.3", "self_points")
    error = refusal(
        lambda: scores_apply_fields(
            assessment=assessment, changes={"1.5": {"self_points": D("0.73")}}, actor=appraiser
        )
    )
    assert error.text("vi") == "0,73 không thuộc các mức 0; 0,5; 1."


# --- self-assessment page --------------------------------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}


def row_url(assessment, code):
    criterion = assessment.framework.criteria.get(code=code)
    return reverse("scoring:self_row_save", args=[assessment.pk, criterion.pk])


def test_page_shows_raw_inputs_hints_yes_no_and_office_leaves_read_only(client, officer, assessment):
    client.force_login(officer)
    html = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    assert 'name="raw"' in html and "95,5 or 95,5% or 191/200" not in html  # Vietnamese hint
    assert "95,5 hoặc" in html or "191/200" in html
    assert '<option value="có"' in html
    office = assessment.framework.criteria.get(code="2.1")
    assert f'action="{reverse("scoring:self_row_save", args=[assessment.pk, office.pk])}"' not in html
    assert "Do cơ quan nội vụ chấm" in html


@pytest.mark.parametrize(
    ("code", "raw", "points"),
    [
        ("1.1", "95,5", "1,91"),
        ("1.1", "191/200", "1,91"),
        ("1.2", "93", "1,5"),
        ("1.3", "3", "0,5"),
        ("1.4", "có", "2"),
    ],
)
def test_htmx_row_save_shows_the_computed_points_at_once(client, officer, assessment, code, raw, points):
    client.force_login(officer)
    response = client.post(row_url(assessment, code), {"raw": raw}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"= <b>{points}</b> / 2" in html
    assert format_decimal(scores(assessment)[code].self_points) == points


def test_htmx_row_refusals_sit_beside_their_field(client, officer, assessment):
    client.force_login(officer)
    html = client.post(row_url(assessment, "1.5"), {"points": "0,73"}, **HX).content.decode()
    assert "0,73 không thuộc các mức 0; 0,5; 1." in html and 'id="err-pts-' in html
    html = client.post(row_url(assessment, "1.1"), {"raw": "120"}, **HX).content.decode()
    assert 'id="err-raw-' in html and 'value="120"' in html
    html = client.post(row_url(assessment, "1.6"), {"not_applicable": "1"}, **HX).content.decode()
    assert "Hãy nêu lý do tiêu chí 1.6 không áp dụng" in html and 'id="err-nar-' in html
    assert not Score.objects.filter(assessment=assessment).exists()
    client.post(
        row_url(assessment, "1.6"), {"not_applicable": "1", "not_applicable_reason": "Không có"}, **HX
    )
    assert scores(assessment)["1.6"].not_applicable_reason == "Không có"


def test_plain_post_redirects_and_the_page_shows_the_points(client, officer, assessment):
    client.force_login(officer)
    response = client.post(row_url(assessment, "1.2"), {"raw": "93%"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "= <b>1,5</b> / 2" in page and 'value="93%"' in page


def test_office_leaf_row_is_refused_to_the_unit(client, officer, assessment):
    client.force_login(officer)
    response = client.post(row_url(assessment, "2.1"), {"points": "1"}, **HX)
    assert response.status_code == 403
    assert not Score.objects.filter(assessment=assessment).exists()
