"""The end of the year in a browser: the appraiser moves the framework through its phases on the board
(each step's checks explained while it is refused), then publishes through the confirmation page,
which lists what will be locked and who is left out; publication is refused until every unit is
appraised or left out by name with a reason.

Screenshots go to test-artifacts/screenshots/test_phases_then_publication_through_the_confirmation_page/."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.models import Assessment, AssessmentStatus, Framework, FrameworkStatus

from ..factories import make_framework, rows_from_spec
from .conftest import sign_in

pytestmark = pytest.mark.browser

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30), ("2.1", 30)]


@pytest.fixture
def year(district, commune, other_commune, officer, other_officer, appraiser, leader):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="CCHC-2025")
    Framework.objects.filter(pk=framework.pk).update(self_deadline=timezone.now() + timedelta(hours=2))
    x1 = assessment_get_or_create(unit=commune, framework=framework)
    entries = {
        code: SelfEntry(D(points), evidence_reference="QĐ 12/QĐ-UBND")
        for code, points in (("1.1", "25"), ("1.2", "30"), ("2.1", "20"))
    }
    scores_apply_self(assessment=x1, entries=entries)
    assessment_submit(assessment=x1)
    scores_apply_appraisal(
        assessment=x1, entries={code: AppraisalEntry(entry.points) for code, entry in entries.items()}
    )
    x2 = assessment_get_or_create(unit=other_commune, framework=framework)
    scores_apply_self(assessment=x2, entries={"1.1": SelfEntry(D("3"), evidence_reference="x")})
    return {"framework": framework, "x1": x1, "x2": x2}


def phase_of(framework) -> str:
    return Framework.objects.get(pk=framework.pk).status


def take_step(page, framework):
    with page.expect_navigation():
        page.click("section.phases .next-step button[type=submit]")


def test_phases_then_publication_through_the_confirmation_page(new_page, screenshot, year):
    framework, x1, x2 = year["framework"], year["x1"], year["x2"]
    board = f"/frameworks/{framework.code}/"
    appraiser = new_page()
    sign_in(appraiser, "appraiser")

    # --- 1. Open: the board shows the phases and why self-assessment cannot close yet ---------------
    appraiser.goto(board)
    panel = appraiser.locator("section.phases")
    assert "Đang đánh giá" in panel.locator("[aria-current=step]").inner_text()
    assert appraiser.locator("section.phases .next-step button[type=submit]").is_disabled()
    assert "Chưa qua hạn tự đánh giá" in appraiser.locator("#step-problems").inner_text()
    screenshot(appraiser, "01-board-open-step-refused")

    # --- 2. The deadline passes: X2 is late; self-assessment closes, appraisal starts ----------------
    Framework.objects.filter(pk=framework.pk).update(self_deadline=timezone.now() - timedelta(minutes=1))
    appraiser.reload()
    assert "X2" in appraiser.locator("tr.row-flag").first.inner_text()  # late by its own deadline
    take_step(appraiser, framework)
    assert phase_of(framework) == FrameworkStatus.APPRAISAL
    screenshot(appraiser, "02-board-appraisal")

    # --- 3. Preliminary results with an appeal deadline ------------------------------------------------
    deadline = timezone.localtime() + timedelta(days=7)
    appraiser.fill("#id_appeal_deadline", deadline.strftime("%Y-%m-%dT%H:%M"))
    take_step(appraiser, framework)
    assert phase_of(framework) == FrameworkStatus.PRELIMINARY
    assert appraiser.locator("section.phases .next-step button[type=submit]").is_disabled()
    screenshot(appraiser, "03-board-preliminary-appeals-open")

    # --- 4. The appeal window closes after its deadline; the results are made final -------------------
    Framework.objects.filter(pk=framework.pk).update(appeal_deadline=timezone.now() - timedelta(minutes=1))
    appraiser.reload()
    take_step(appraiser, framework)
    assert phase_of(framework) == FrameworkStatus.APPEALS
    take_step(appraiser, framework)
    assert phase_of(framework) == FrameworkStatus.FINAL
    screenshot(appraiser, "04-board-final")

    # --- 5. Publication: refused while X2 is neither appraised nor left out --------------------------
    with appraiser.expect_navigation():
        appraiser.click("section.phases .next-step a.button")
    assert "/publish/" in appraiser.url
    appraiser.fill("#id_decision_number", "125/QĐ-UBND")
    appraiser.fill("#id_decision_date", timezone.localdate().isoformat())
    with appraiser.expect_navigation():
        appraiser.click("main form button[type=submit].primary")
    problems = appraiser.locator("#publish-problems").inner_text()
    assert "X2" in problems and "X1" not in problems
    screenshot(appraiser, "05-publish-refused")

    # --- 6. X2 left out by name with the reason: the confirmation page lists what will be locked -----
    appraiser.fill("#exclude-X2", "Không nộp báo cáo tự đánh giá đúng hạn")
    with appraiser.expect_navigation():
        appraiser.click("main form button[type=submit].primary")
    confirm = appraiser.locator("#publish-confirm")
    confirm.wait_for()
    text = appraiser.locator("main").inner_text()
    assert "125/QĐ-UBND" in text and "Không nộp báo cáo tự đánh giá đúng hạn" in text
    assert phase_of(framework) == FrameworkStatus.FINAL  # nothing published yet
    screenshot(appraiser, "06-publish-confirmation")
    with appraiser.expect_navigation():
        confirm.locator("button.danger").click()
    assert phase_of(framework) == FrameworkStatus.PUBLISHED
    assert Assessment.objects.get(pk=x1.pk).status == AssessmentStatus.PUBLISHED
    left_out = Assessment.objects.get(pk=x2.pk)
    assert (left_out.status, left_out.excluded_reason) == (
        AssessmentStatus.DRAFT,
        "Không nộp báo cáo tự đánh giá đúng hạn",
    )
    assert "125/QĐ-UBND" in appraiser.locator("main").inner_text()
    screenshot(appraiser, "07-board-published")
    assert not new_page.errors, f"JavaScript errors on the pages: {new_page.errors}"
