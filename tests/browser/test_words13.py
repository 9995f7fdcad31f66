"""In the browser: an autosave refused by the server shows its reason beside the row being saved (not
only at the top of the page), and the bell counts the unread notifications and leads to them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from parindex.notices.services import notices_create
from scoring.assessments.services import assessment_get_or_create
from scoring.models import Framework

from ..factories import make_framework, rows_from_spec
from .conftest import PHONE, sign_in

pytestmark = pytest.mark.browser

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30, "score", "survey"), ("2.1", 30, "score", "survey")]


@pytest.fixture
def assessment(district, commune, officer):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="XA-2024")
    return assessment_get_or_create(unit=commune, framework=framework)


def test_a_refused_autosave_says_why_beside_its_row(page, assessment, screenshot):
    sign_in(page, "officer_x1")
    page.goto(f"/assessments/{assessment.pk}/")
    leaf = assessment.framework.criteria.get(code="1.1")
    # The deadline passes while the page is open: the next save is refused (403) with its reason.
    Framework.objects.filter(pk=assessment.framework_id).update(
        self_deadline=timezone.now() - timedelta(hours=1)
    )
    page.fill(f"#pts-{leaf.pk}", "25")
    page.press(f"#pts-{leaf.pk}", "Tab")
    error = page.locator(f"#row-{leaf.pk} .htmx-row-error")
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    text = error.inner_text()
    assert "hạn" in text.lower(), text  # the server's reason (the deadline), not a bare status code
    assert page.locator("#htmx-error").count() == 0  # nothing stacked at the top of the page
    screenshot(page, "autosave-refused-beside-row")


def test_the_bell_counts_unread_notices_and_opens_them(new_page, assessment, officer, screenshot):
    notices_create(
        users=[officer],
        event="x",
        title="Đề nghị giải trình Bộ chỉ số 2024",
        link=f"/assessments/{assessment.pk}/",
    )
    notices_create(users=[officer], event="x", title="Đã công bố kết quả", link="/")
    page = sign_in(new_page(viewport=PHONE), "officer_x1")
    bell = page.locator("a.bell [data-testid=bell-count]")
    assert bell.inner_text() == "2"
    page.click("a.bell")
    page.wait_for_url("**/notifications/")
    screenshot(page, "notices-list-phone")
    with page.expect_navigation():
        page.click("button:has-text('Đề nghị giải trình Bộ chỉ số 2024')")
    assert page.url.endswith(f"/assessments/{assessment.pk}/")
    assert page.locator("a.bell [data-testid=bell-count]").inner_text() == "1"


def test_survey_and_heatmap_columns_are_named_on_a_phone(new_page, assessment, appraiser, leader, screenshot):
    from ..test_wording import publish

    page = sign_in(new_page(viewport=PHONE), "appraiser")
    page.goto("/frameworks/XA-2024/survey/")
    label = page.evaluate(
        "() => getComputedStyle(document.querySelector('table.survey tbody td.num'), '::before').content"
    )
    assert "2.1 Tiêu chí 2.1" in label, label  # the phone shows the name beside each cell
    screenshot(page, "survey-grid-phone")
    publish(assessment.framework)
    page = sign_in(new_page(viewport=PHONE), "leader")
    page.goto("/dashboards/frameworks/XA-2024/areas/")
    name = page.locator("#heatmap th .col-name").first
    assert name.is_visible() and name.inner_text() == "Tiêu chí 1"
    screenshot(page, "heatmap-phone")
