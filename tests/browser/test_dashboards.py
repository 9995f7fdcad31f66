"""The dashboards in headless Chromium: every page opens, its Chart.js charts are drawn
(a Chart instance on a canvas of non-zero size with painted pixels), the tables stay readable without
JavaScript, and the remediation plan goes from the appraiser's suggestion to the officer's entry.

Screenshots (1366×768, full page) go to test-artifacts/screenshots/<test name>/."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from reports.models import RemediationItem
from scoring.models import AssessmentStatus, Framework

from ..factories import make_framework, rows_from_spec
from ..test_dashboards import TREE, bulk_units, bulk_year, publish
from .conftest import LAPTOP, PHONE, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboards(district, commune, other_commune, officer, other_officer, appraiser, leader):
    """15 communes of district H with two years of results; 2024 published; an open 2025 in progress."""
    units = [commune, other_commune, *bulk_units(district, 13, "C")]
    fw23 = make_framework(district, rows=rows_from_spec(TREE), year=2023, code="XA-2023")
    bulk_year(fw23, units, seed=23)
    fw24 = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-2024")
    bulk_year(fw24, units, seed=24)
    fw24 = publish(fw24)
    fw25 = make_framework(district, rows=rows_from_spec(TREE), year=2025, code="XA-2025")
    now = timezone.now()
    Framework.objects.filter(pk=fw25.pk).update(
        self_deadline=now - timedelta(days=1), appraisal_deadline=now + timedelta(days=12)
    )
    bulk_year(fw25, units[:6], seed=25, status=AssessmentStatus.APPRAISED)
    bulk_year(fw25, units[6:10], seed=26, status=AssessmentStatus.SUBMITTED)
    bulk_year(fw25, units[10:], seed=27, status=AssessmentStatus.DRAFT)
    return {"fw24": fw24, "units": units}


CHART_STATE = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || typeof Chart === "undefined") return null;
  const chart = Chart.getChart(canvas);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) painted++; }
  return {chart: !!chart, type: chart ? chart.config.type : null, points: chart ? chart.data.datasets[0].data.length : 0,
          width: canvas.width, height: canvas.height, painted: painted};
}"""


def assert_drawn(page, canvas_id: str, min_points: int = 1) -> dict:
    page.locator(f"#{canvas_id}[data-drawn=true]").wait_for()
    state = page.evaluate(CHART_STATE, canvas_id)
    assert state and state["chart"], f"no Chart.js instance on #{canvas_id}"
    assert state["width"] > 100 and state["height"] > 100, state
    assert state["painted"] > 500, f"#{canvas_id} has almost nothing drawn: {state}"
    assert state["points"] >= min_points, state
    return state


def no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"the page scrolls sideways ({width}px)"


def test_leader_dashboards(new_page, screenshot, dashboards):
    page = new_page()
    sign_in(page, "leader")
    assert page.url.endswith("/dashboards/"), page.url  # the leaders' landing page

    # Ranking of the published year: table, bar chart by grade, grade distribution.
    page.goto("/dashboards/?framework=XA-2024")
    assert_drawn(page, "index-chart-canvas", min_points=15)
    assert_drawn(page, "grade-chart-canvas")
    table = page.locator("#ranking").inner_text()
    assert "1/15" in table and "01/15" not in table and "bậc" in table
    no_sideways_scroll(page)
    screenshot(page, "01-ranking")
    with page.expect_download() as download:
        page.click("a[href$='ranking.xlsx']")
    assert download.value.suggested_filename == "xep-hang-XA-2024.xlsx"

    # Areas: heatmap with the area rank on hover, the framework average chart.
    page.click("nav.tabs a:has-text('Lĩnh vực')")
    page.wait_for_url("**/frameworks/XA-2024/areas/")
    assert_drawn(page, "average-chart-canvas", min_points=3)
    cell = page.locator("#heatmap td.cell a").first
    assert "xếp thứ" in cell.get_attribute("title")
    assert page.locator("#heatmap tbody tr").count() == 15
    screenshot(page, "02-areas")

    # Unit profile from a click in the heatmap.
    with page.expect_navigation():
        cell.click()
    assert "/dashboards/units/" in page.url
    assert_drawn(page, "history-chart-canvas", min_points=2)
    assert_drawn(page, "rank-chart-canvas", min_points=2)
    assert_drawn(page, "areas-chart-canvas", min_points=3)
    assert page.locator("#lost-criteria tbody tr").count() >= 1
    screenshot(page, "03-unit-profile")

    # Phone: the ranking stacks, nothing scrolls sideways.
    phone = new_page(viewport=PHONE)
    sign_in(phone, "leader")
    phone.goto("/dashboards/?framework=XA-2024")
    assert_drawn(phone, "index-chart-canvas")
    no_sideways_scroll(phone)
    screenshot(phone, "04-ranking-phone")
    assert not new_page.errors, f"JavaScript errors: {new_page.errors}"


def test_appraiser_progress_and_remediation(new_page, screenshot, dashboards, commune):
    page = new_page()
    sign_in(page, "appraiser")
    page.goto("/dashboards/frameworks/XA-2025/progress/")
    assert_drawn(page, "status-chart-canvas", min_points=5)
    assert_drawn(page, "overstatement-chart-canvas")
    assert page.locator("#overdue-table tbody tr").count() == 5  # the drafts after the self deadline
    screenshot(page, "01-progress")

    # After publication: suggest the remediation plans from the ranking page.
    page.goto("/dashboards/?framework=XA-2024")
    with page.expect_navigation():
        page.click("button:has-text('Đề xuất kế hoạch khắc phục')")
    assert "/dashboards/remediation/" in page.url
    assert RemediationItem.objects.filter(assessment__framework=dashboards["fw24"]).count() > 15 * 3
    assert "Đã đề xuất" in page.locator(".messages").inner_text()
    screenshot(page, "02-remediation-suggested")

    # The officer of X1 fills an item in; it shows on the unit's profile.
    officer = new_page()
    sign_in(officer, "officer_x1")
    officer.goto("/dashboards/remediation/")
    assert (
        officer.locator("#remediation-list tbody tr").count()
        == RemediationItem.objects.filter(assessment__unit=commune).count()
    )
    with officer.expect_navigation():
        officer.locator("#remediation-list a:has-text('Cập nhật')").first.click()
    officer.fill("#id_action", "Ban hành quy chế phối hợp, tổ chức tập huấn")
    officer.fill("#id_responsible", "Phó Chủ tịch UBND xã")
    officer.fill("#id_due_date", "2020-06-30")
    officer.select_option("#id_status", "in_progress")
    screenshot(officer, "03-officer-remediation-form")
    with officer.expect_navigation():
        officer.click("main form button.primary")
    assert "/dashboards/units/X1/" in officer.url
    assert "Ban hành quy chế phối hợp" in officer.locator("#remediation-table").inner_text()
    screenshot(officer, "04-officer-unit-profile")
    officer.goto("/dashboards/?framework=XA-2024")
    assert "404" in officer.title() or officer.locator("#ranking").count() == 0

    # Leaders see the overdue item.
    leader = new_page()
    sign_in(leader, "leader")
    leader.goto("/dashboards/remediation/?overdue=on")
    rows = leader.locator("#remediation-list tbody tr")
    assert rows.count() == 1 and "quá hạn" in rows.first.inner_text()
    screenshot(leader, "05-leader-overdue-remediation")
    item = RemediationItem.objects.get(action__startswith="Ban hành quy chế")
    assert item.due_date == date(2020, 6, 30)
    assert not new_page.errors, f"JavaScript errors: {new_page.errors}"


def test_tables_without_javascript(browser, live_server, screenshot, dashboards):
    context = browser.new_context(
        viewport=LAPTOP, locale="vi-VN", base_url=live_server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        sign_in(page, "leader")
        page.goto("/dashboards/?framework=XA-2024")
        assert page.locator("#ranking tbody tr").count() == 15
        assert page.locator("#grade-table").is_visible()
        assert not page.locator("figure.chart").first.is_visible()  # charts appear only when drawn
        screenshot(page, "01-ranking-without-js")
        page.goto("/dashboards/frameworks/XA-2024/areas/")
        assert page.locator("#heatmap tbody tr").count() == 15 and page.locator("#averages").is_visible()
    finally:
        context.close()
