"""An appeal's answer carries the version of the score it answers (issue 15, deliverable 1): an answer
to points another person changed after the form was read is refused (StaleEdit: the points now, who
and when), nothing written, 409 with a reload link on the list."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from scoring.appeals.services import appeal_answer
from scoring.assessments.services import AppraisalEntry, scores_apply_appraisal, survey_apply
from scoring.concurrency import StaleEdit
from scoring.frameworks.phases import Act
from scoring.models import Appeal, AppealStatus, FrameworkStatus, Score
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec
from .test_appeals import HTMX, TREE, _appraised, lodge, set_phase


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def x1(framework, commune, officer, appraiser):
    return _appraised(framework, commune, officer, appraiser, (D(10), D(20), D(15)), (D(8), D(20), D(10)))


@pytest.fixture
def preliminary(framework, x1):
    survey_apply(framework=framework, entries={"X1": {"3.1": D(20)}})
    return set_phase(framework, FrameworkStatus.PRELIMINARY)


@pytest.fixture
def second_appraiser(district):
    return make_member(district, Role.APPRAISER, "appraiser_b")


def row(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


def changed_by_another(assessment, actor):
    """Another person changes 1.1's points after the answer form was read (as an accepted appeal does)."""
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("9"), "Đã bổ sung quyết định")},
        actor=actor,
        _phase_act=Act.ANSWER_APPEAL,
    )


@pytest.mark.parametrize("decision", ["accept", "refuse"])
def test_an_answer_to_points_changed_since_is_refused_and_writes_nothing(
    preliminary, x1, officer, appraiser, second_appraiser, decision
):
    appeal = lodge(x1, officer)
    read = row(x1, "1.1").version
    changed_by_another(x1, second_appraiser)
    with pytest.raises(StaleEdit) as refused:
        appeal_answer(
            appeal=appeal,
            decision=decision,
            points=D("9.5") if decision == "accept" else None,
            reason="Đủ căn cứ",
            actor=appraiser,
            version=read,
        )
    assert "Đã bổ sung quyết định" in refused.value.text() and "appraiser_b" in refused.value.text()
    assert row(x1, "1.1").appraised_points == D("9")
    assert Appeal.objects.get(pk=appeal.pk).status == AppealStatus.LODGED
    # With the version as it is now, the answer is saved.
    appeal_answer(
        appeal=appeal,
        decision=decision,
        points=D("9.5") if decision == "accept" else None,
        reason="Đủ căn cứ",
        actor=appraiser,
        version=row(x1, "1.1").version,
    )
    assert Appeal.objects.get(pk=appeal.pk).status != AppealStatus.LODGED
    assert row(x1, "1.1").appraised_points == (D("9.5") if decision == "accept" else D("9"))


def test_the_answer_form_sends_its_version_and_a_stale_post_answers_409(
    client, preliminary, x1, officer, appraiser, second_appraiser
):
    appeal = lodge(x1, officer)
    client.force_login(appraiser)
    listing = client.get(reverse("scoring:framework_appeals", args=[preliminary.code])).content.decode()
    read = row(x1, "1.1").version
    assert f'name="version" value="{read}"' in listing
    changed_by_another(x1, second_appraiser)
    url = reverse("scoring:appeal_answer", args=[appeal.pk])
    data = {"decision": "accept", "points": "9,5", "reason": "Đủ căn cứ", "version": str(read)}
    response = client.post(url, data, **HTMX)
    body = response.content.decode()
    assert response.status_code == 409
    assert "Đã bổ sung quyết định" in body and "appraiser_b" in body and 'class="button reload"' in body
    # The form keeps the version it read: posting it again is refused again, until reloaded.
    assert f'name="version" value="{read}"' in body
    assert row(x1, "1.1").appraised_points == D("9")
    assert Appeal.objects.get(pk=appeal.pk).status == AppealStatus.LODGED
    data["version"] = str(row(x1, "1.1").version)
    response = client.post(url, data, **HTMX)
    assert response.status_code == 200 and row(x1, "1.1").appraised_points == D("9.5")
