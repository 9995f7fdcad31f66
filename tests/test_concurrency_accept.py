"""Optimistic concurrency where a page acts on several rows or answers for a row (issue 15, deliverable 1,
the gaps left): "accept the self points" of an area or of all rows sends the versions of the rows the
page showed waiting, an appeal answer the version of the score it changes, a return for explanation the
versions of the rows it asks about; each service refuses (StaleEdit, nothing written) a row changed since."""

import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from scoring.assessments.selectors import assessment_sheet
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    appraisal_accept_self,
    assessment_get_or_create,
    assessment_return,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.concurrency import StaleEdit, stale_in, versions_from_text
from scoring.models import Score
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec

TREE = [
    ("1", 30),
    ("1.1", 10),
    ("1.2", 20),
    ("2", 20),
    ("2.1", 20),
]
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="XA-C2")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


@pytest.fixture
def second_appraiser(district):
    return make_member(district, Role.APPRAISER, "appraiser_b")


def score(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


def submitted(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("8"), note="NQ 1"),
            "1.2": SelfEntry(D("15"), note="KH 2"),
            "2.1": SelfEntry(D("12"), note="BC 3"),
        },
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)


def test_versions_text_reads_back_and_a_garbled_entry_never_matches():
    assert versions_from_text(None) is None
    assert versions_from_text("") == {}
    assert versions_from_text("1.1:3, 1.2:0") == {"1.1": 3, "1.2": 0}
    assert versions_from_text("1.1:x,1.2") == {"1.1": -1, "1.2": -1}


# --- accept the self points of an area / of every row -------------------------------------------------


def test_accept_an_area_accepts_the_rows_shown(assessment, officer, appraiser):
    submitted(assessment, officer)
    sheet = assessment_sheet(assessment)
    shown = versions_from_text(sheet.area_by_code("1").pending_versions)
    assert set(shown) == {"1.1", "1.2"}
    result = appraisal_accept_self(assessment=assessment, area_code="1", actor=appraiser, shown=shown)
    assert result.changed == 2
    assert (score(assessment, "1.1").appraised_points, score(assessment, "1.2").appraised_points) == (
        D("8"),
        D("15"),
    )
    assert score(assessment, "2.1").appraised_points is None


def test_accept_an_area_refuses_when_a_shown_row_was_appraised_since(
    assessment, officer, appraiser, second_appraiser
):
    submitted(assessment, officer)
    shown = versions_from_text(assessment_sheet(assessment).area_by_code("1").pending_versions)
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.2": AppraisalEntry(D("10"), "Thiếu biên bản")},
        actor=second_appraiser,
    )
    with pytest.raises(StaleEdit) as refused:
        appraisal_accept_self(assessment=assessment, area_code="1", actor=appraiser, shown=shown)
    stale = stale_in(refused.value)
    assert [e.criterion for e in stale] == ["1.2"]
    assert "Thiếu biên bản" in refused.value.text() and "appraiser_b" in refused.value.text()
    # Nothing written: 1.1, unchanged, is not accepted either.
    assert score(assessment, "1.1").appraised_points is None
    assert score(assessment, "1.2").appraised_points == D("10")


def test_accept_all_refuses_when_a_row_waits_now_that_the_page_did_not_show(
    assessment, officer, appraiser, second_appraiser
):
    submitted(assessment, officer)
    scores_apply_appraisal(assessment=assessment, entries={"2.1": AppraisalEntry(D("12"))}, actor=appraiser)
    shown = versions_from_text(assessment_sheet(assessment).pending_versions())
    assert set(shown) == {"1.1", "1.2"}
    # Another appraiser clears the appraisal of 2.1: it waits again, unseen by the page.
    scores_apply_appraisal(
        assessment=assessment, entries={"2.1": AppraisalEntry(None)}, actor=second_appraiser
    )
    assert score(assessment, "2.1").appraised_points is None
    with pytest.raises(StaleEdit) as refused:
        appraisal_accept_self(assessment=assessment, actor=appraiser, shown=shown)
    assert [e.criterion for e in stale_in(refused.value)] == ["2.1"]
    assert (
        score(assessment, "1.1").appraised_points is None
        and score(assessment, "2.1").appraised_points is None
    )
    # Read again, the page's versions are accepted.
    shown = versions_from_text(assessment_sheet(assessment).pending_versions())
    assert appraisal_accept_self(assessment=assessment, actor=appraiser, shown=shown).changed == 3


def test_accept_without_versions_acts_on_the_rows_read_as_commands_do(assessment, officer, appraiser):
    submitted(assessment, officer)
    assert appraisal_accept_self(assessment=assessment, actor=appraiser).changed == 3


def _versions_field(html: str, area: str | None) -> str:
    forms = re.findall(
        r'name="area" value="([^"]*)">\s*<input type="hidden" name="versions" value="([^"]*)"', html
    )
    return dict(forms)[area or ""]


def test_the_page_sends_the_versions_shown_and_a_stale_accept_answers_409(
    client, assessment, officer, appraiser, second_appraiser
):
    submitted(assessment, officer)
    client.force_login(appraiser)
    page = client.get(reverse("scoring:assessment_appraise", args=[assessment.pk])).content.decode()
    area_versions, all_versions = _versions_field(page, "1"), _versions_field(page, None)
    assert versions_from_text(area_versions) == {"1.1": 1, "1.2": 1}
    assert set(versions_from_text(all_versions)) == {"1.1", "1.2", "2.1"}
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("7"), "Một nghị quyết thiếu")},
        actor=second_appraiser,
    )
    url = reverse("scoring:appraisal_accept", args=[assessment.pk])
    response = client.post(url, {"area": "1", "versions": area_versions}, **HX)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Một nghị quyết thiếu" in body and "appraiser_b" in body and 'class="button reload"' in body
    assert score(assessment, "1.2").appraised_points is None
    # The area shown again carries the versions as they are now: accepting it then succeeds.
    again = _versions_field(body, "1")
    assert versions_from_text(again) == {"1.2": 1}
    response = client.post(url, {"area": "1", "versions": again}, **HX)
    assert response.status_code == 200 and score(assessment, "1.2").appraised_points == D("15")
    # Without htmx a stale "accept all" redirects with the refusal and writes nothing.
    response = client.post(url, {"area": "", "versions": all_versions}, follow=True)
    assert "Một nghị quyết thiếu" in response.content.decode()
    assert score(assessment, "2.1").appraised_points is None


# --- return for explanation ----------------------------------------------------------------------------


def test_a_return_refuses_a_row_changed_since_the_form_was_read(
    assessment, officer, appraiser, second_appraiser
):
    submitted(assessment, officer)
    read = {"1.1": score(assessment, "1.1").version, "1.2": score(assessment, "1.2").version}
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("6"), "Thiếu biên bản")},
        actor=second_appraiser,
    )
    with pytest.raises(StaleEdit) as refused:
        assessment_return(
            assessment=assessment,
            message="Giải trình",
            criteria={"1.1": "Vì sao 8 điểm?"},
            actor=appraiser,
            versions=read,
        )
    assert "thẩm định 6" in refused.value.text() and "appraiser_b" in refused.value.text()
    assessment.refresh_from_db()
    assert assessment.status == "submitted" and score(assessment, "1.1").explanation_request == ""
    # A row the return does not list (1.2 unchanged; 2.1 left out) is not checked: returning 1.2 goes.
    assessment_return(
        assessment=assessment,
        message="Giải trình",
        criteria={"1.2": "Kế hoạch?"},
        actor=appraiser,
        versions=read,
    )
    assert score(assessment, "1.2").explanation_request == "Kế hoạch?"


def test_the_return_form_sends_the_versions_and_a_stale_post_answers_409(
    client, assessment, officer, appraiser, second_appraiser
):
    submitted(assessment, officer)
    client.force_login(appraiser)
    url = reverse("scoring:assessment_return", args=[assessment.pk])
    pk = assessment.framework.criteria.get(code="1.1").pk
    read = score(assessment, "1.1").version
    assert f'name="version_{pk}" value="{read}"' in client.get(url).content.decode()
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("6"), "Thiếu biên bản")},
        actor=second_appraiser,
    )
    data = {
        "message": "Giải trình",
        f"pick_{pk}": "on",
        f"reason_{pk}": "Vì sao?",
        f"version_{pk}": str(read),
    }
    response = client.post(url, data)
    body = response.content.decode()
    assert response.status_code == 409 and "thẩm định 6" in body and 'class="button reload"' in body
    assessment.refresh_from_db()
    assert assessment.status == "submitted"
    # The page shown again holds the rows as they are now: with their versions the return goes.
    assert f'name="version_{pk}" value="{score(assessment, "1.1").version}"' in body
    data[f"version_{pk}"] = str(score(assessment, "1.1").version)
    assert client.post(url, data).status_code == 302
    assert score(assessment, "1.1").explanation_request == "Vì sao?"
