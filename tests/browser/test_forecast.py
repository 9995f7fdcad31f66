"""The forecast and the what-if in headless Chromium: a unit officer reads, on its self-assessment
page, which criteria would gain it the most places (loaded in place by htmx), and opens the full list;
the leader opens the forecast page (the units' forecast, the criteria at risk, what to push) and the
steering committee's meeting page as printed.

Screenshots (1366×768, full page) go to test-artifacts/screenshots/<test name>/."""

import pytest
from django.urls import reverse

from units.models import Role

from ..factories import make_member
from ..test_forecast import district_years  # noqa: F401 (the hand-worked district of test_forecast)
from .conftest import PHONE, sign_in

pytestmark = pytest.mark.browser


def test_officer_reads_its_what_if(new_page, screenshot, district_years):  # noqa: F811
    make_member(district_years["units"]["A"], Role.OFFICER, "officer_a")
    assessment = district_years["assessments"]["A"]
    page = new_page()
    sign_in(page, "officer_a")
    page.goto(reverse("scoring:assessment_self", args=[assessment.pk]))
    section = page.locator("#what-if")
    section.locator("table.what-if").wait_for()  # loaded by htmx after the page
    assert "Tiêu chí giúp tăng hạng nhiều nhất" in section.inner_text()
    rows = section.locator("tbody tr")
    # A has 36 of 40 on 1.1 and nothing else scored: raising 1.2 (25 points) alone gains the most.
    assert rows.first.get_attribute("data-code") == "1.2"
    assert rows.count() == 5
    section.scroll_into_view_if_needed()
    screenshot(page, "01-officer-self-page-what-if")
    with page.expect_navigation():
        section.get_by_role("link", name="Tất cả tiêu chí").click()
    assert page.locator("h1").inner_text() == "Tiêu chí giúp tăng hạng nhiều nhất"
    screenshot(page, "02-officer-what-if-page")
    assert not new_page.errors


def test_leader_opens_the_forecast(new_page, screenshot, district_years, leader):  # noqa: F811
    page = new_page()
    sign_in(page, "leader")
    page.goto(reverse("reports:forecast", args=["H-2025"]))
    table = page.locator("#forecast-table")
    assert [row.get_attribute("data-unit") for row in table.locator("tbody tr").all()] == ["S", "M", "N", "A"]
    assert "53,03" in table.locator("tr[data-unit=A]").inner_text()
    assert page.locator("#forecast-average").inner_text() == "67,97"
    assert "Cần đôn đốc" in page.locator("#push").inner_text()
    assert page.locator("#push-table tbody tr").first.inner_text().startswith("Xã N")
    screenshot(page, "01-leader-forecast")
    # The tab is among the dashboards' tabs.
    page.goto(reverse("reports:progress", args=["H-2025"]))
    with page.expect_navigation():
        page.locator("nav.tabs").get_by_role("link", name="Dự báo").click()
    assert "/forecast/" in page.url
    # The steering committee's meeting page, printable.
    page.goto(reverse("reports:steering", args=["H-2025"]))
    assert "Họp Ban Chỉ đạo" in page.locator("h1").inner_text()
    assert page.locator("#meeting-lost tbody tr").first.get_attribute("data-code") == "1.2"
    page.emulate_media(media="print")
    assert not page.locator("nav.tabs").is_visible()
    screenshot(page, "03-leader-steering-meeting-print")
    page.emulate_media(media="screen")
    phone = new_page(viewport=PHONE)
    sign_in(phone, "leader")
    phone.goto(reverse("reports:forecast", args=["H-2025"]))
    screenshot(phone, "02-leader-forecast-phone")
    assert not new_page.errors
