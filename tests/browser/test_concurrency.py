"""Optimistic concurrency in a browser, two sessions (issue 15, deliverable 1).

Two appraisers open the same unit's appraisal page. The second saves row 1.1; the first, whose page
is now stale, changes the same row: the save is refused (409), the row says whose value it holds now,
who saved it and when, and offers to reload; reloaded, the first appraiser sees the other's value and
saves over it knowingly. The same on the self-assessment page: the officer's stale autosave does not
overwrite what the appraiser entered on the unit's behalf. Screenshots go to
test-artifacts/screenshots/<test>/."""

from decimal import Decimal as D

import pytest

from scoring.assessments.services import (
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_self,
)
from scoring.models import Score
from units.models import Role

from ..factories import make_framework, make_member, rows_from_spec
from .conftest import sign_in

pytestmark = pytest.mark.browser

TREE = [("1", 30), ("1.1", 10), ("1.2", 20)]


@pytest.fixture
def scene(district, commune, officer, appraiser):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="CCHC-CONC")
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("10"), evidence_reference="QĐ 1"),
            "1.2": SelfEntry(D("18"), evidence_reference="QĐ 2"),
        },
        actor=officer,
    )
    other = make_member(district, Role.APPRAISER, "appraiser_b")
    leaf = {c.code: c.pk for c in framework.criteria.all()}
    return {"framework": framework, "assessment": assessment, "other": other, "leaf": leaf}


def htmx_idle(page):
    page.wait_for_function("() => document.querySelectorAll('.htmx-request').length === 0")


def leave(page, selector: str, text: str, pk: int) -> int:
    """Type into a field of row `pk` and leave it (its change saves the row); the answer's status
    once the row is swapped in."""
    page.fill(selector, text)
    with page.expect_response(lambda r: f"/rows/{pk}/" in r.url) as answer:
        page.press(selector, "Tab")
    htmx_idle(page)
    return answer.value.status


def score(assessment, code) -> Score:
    return Score.objects.select_related("updated_by").get(assessment=assessment, criterion__code=code)


def test_two_appraisers_the_stale_page_is_refused_and_offered_a_reload(new_page, scene, officer, screenshot):
    assessment, pk = scene["assessment"], scene["leaf"]["1.1"]
    assessment_submit(assessment=assessment, actor=officer)
    url = f"/assessments/{assessment.pk}/appraisal/"
    first = sign_in(new_page(), "appraiser")
    second = sign_in(new_page(), "appraiser_b")
    first.goto(url)
    second.goto(url)

    # The second appraiser saves row 1.1 (8 points, with the reason the difference needs).
    assert leave(second, f"#reason-{pk}", "Thiếu biên bản kiểm tra", pk) == 200
    assert leave(second, f"#points-{pk}", "8", pk) == 200
    second.wait_for_selector(f"#row-{pk} .saved")
    assert score(assessment, "1.1").appraised_points == D("8")

    # The first appraiser's page still shows the row as it was; their change is refused.
    assert first.input_value(f"#points-{pk}") == ""
    assert leave(first, f"#reason-{pk}", "Đủ hồ sơ", pk) == 409
    stale = first.locator(f"#row-{pk} .field-error")
    stale.first.wait_for()
    text = " ".join(stale.all_inner_texts())
    assert "appraiser_b" in text and "8" in text and "Thiếu biên bản kiểm tra" in text
    reload_link = first.locator(f"#row-{pk} a.reload")
    assert reload_link.is_visible()
    screenshot(first, "01-first-appraiser-refused")
    row = score(assessment, "1.1")
    assert (row.appraised_points, row.appraisal_reason, row.updated_by.username) == (
        D("8"),
        "Thiếu biên bản kiểm tra",
        "appraiser_b",
    )

    # Reloaded, the first appraiser sees the other's value and may change it knowingly.
    with first.expect_navigation():
        reload_link.click()
    assert first.input_value(f"#points-{pk}") == "8"
    assert first.input_value(f"#reason-{pk}") == "Thiếu biên bản kiểm tra"
    assert leave(first, f"#reason-{pk}", "Đủ hồ sơ sau khi xem lại", pk) == 200
    assert leave(first, f"#points-{pk}", "9", pk) == 200
    first.wait_for_selector(f"#row-{pk} .saved")
    assert score(assessment, "1.1").appraised_points == D("9")
    assert not new_page.errors, new_page.errors


def test_the_officers_stale_autosave_keeps_the_appraisers_value_and_note(
    new_page, scene, appraiser, screenshot
):
    assessment, pk = scene["assessment"], scene["leaf"]["1.1"]
    url = f"/assessments/{assessment.pk}/"
    unit_page = sign_in(new_page(), "officer_x1")
    unit_page.goto(url)
    unit_page.click("#area-1 > summary")
    assert unit_page.input_value(f"#pts-{pk}") == "10"

    # Meanwhile the appraiser, on the unit's behalf, corrects the row and writes a note.
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("9"), note="Theo biên bản kiểm tra")},
        actor=appraiser,
        on_behalf=True,
    )

    assert leave(unit_page, f"#pts-{pk}", "7", pk) == 409  # the row's autosave, on leaving the field
    message = unit_page.locator(f"#row-{pk} .field-error").first
    message.wait_for()
    assert "Theo biên bản kiểm tra" in message.inner_text() and "appraiser" in message.inner_text()
    screenshot(unit_page, "01-officer-refused")
    row = score(assessment, "1.1")
    assert (row.self_points, row.note) == (D("9"), "Theo biên bản kiểm tra")

    with unit_page.expect_navigation():
        unit_page.locator(f"#row-{pk} a.reload").click()
    if not unit_page.is_visible(f"#pts-{pk}"):
        unit_page.click("#area-1 > summary")
    assert unit_page.input_value(f"#pts-{pk}") == "9"
    assert unit_page.input_value(f"#note-{pk}") == "Theo biên bản kiểm tra"
    assert not new_page.errors, new_page.errors
