"""Comparative reports in headless Chromium: a leader requests a report, follows its
progress on the page (htmx polling), downloads the workbook, and its ranking sheet says what the
ranking dashboard says. Screenshots go to test-artifacts/screenshots/<test name>/."""

import io
from pathlib import Path

import openpyxl
import pytest

from reports.jobs import report_run
from reports.models import JobStatus, ReportJob
from reports.report_workbook import SHEET_RANKING

from .conftest import sign_in
from .test_dashboards import dashboards  # noqa: F401  (fixture: 15 communes, three years)

pytestmark = pytest.mark.browser


def dashboard_rows(page) -> list[tuple[int, str, str]]:
    """(rank, unit code, index as shown) of every row of the ranking table; the index column is found
    by its header, as a person reads it, whatever columns stand before it."""
    headers = [text.strip() for text in page.locator("#ranking thead th").all_inner_texts()]
    index_column = headers.index("Chỉ số")
    rows = []
    for row in page.locator("#ranking tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        rank = int(cells[0].split("/")[0])
        code = cells[1].split()[-1]
        rows.append((rank, code, cells[index_column].strip()))
    return rows


def workbook_rows(content: bytes) -> list[tuple[int, str, str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content))[SHEET_RANKING]
    index_column = [cell.value for cell in sheet[1]].index("Chỉ số")
    rows = []
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if row[1]:  # a unit (not a group's caption or average row)
            rows.append((row[0], row[1], f"{row[index_column]:.2f}".replace(".", ",")))
    return rows


def test_leader_requests_follows_and_downloads_a_report(new_page, screenshot, dashboards, leader):  # noqa: F811
    page = new_page()
    sign_in(page, "leader")
    page.goto("/dashboards/?framework=XA-2024")
    on_dashboard = dashboard_rows(page)
    assert len(on_dashboard) == 15

    # A job waiting for a worker: the row polls its status and turns into a download link by itself.
    waiting = ReportJob.objects.create(framework=dashboards["fw24"], requested_by=leader)
    page.click("nav.mainnav a:has-text('Báo cáo')")
    page.wait_for_url("**/reports/")
    row = page.locator(f"#job-{waiting.pk}")
    assert row.locator("progress").count() == 1
    assert "Đang chờ" in row.inner_text()
    screenshot(page, "01-report-queued")
    assert report_run(waiting.pk).status == JobStatus.SUCCEEDED  # what the worker does
    page.locator(f"#job-{waiting.pk} a:has-text('Tải về')").wait_for(timeout=10_000)
    assert page.locator(f"#job-{waiting.pk} progress").count() == 0
    screenshot(page, "02-report-ready")

    # Requesting through the form (eager Celery here: built before the page comes back).
    page.select_option("#report-framework", "XA-2024")
    page.select_option("#report-compare", "XA-2023")
    with page.expect_navigation():
        page.click("#report-form button[type=submit]")
    newest = ReportJob.objects.exclude(pk=waiting.pk).get()
    assert newest.compare_framework.code == "XA-2023"
    link = page.locator(f"#job-{newest.pk} a:has-text('Tải về')")
    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_bytes()
    screenshot(page, "03-report-downloaded")

    # The workbook and the dashboard agree, row by row.
    assert workbook_rows(content) == on_dashboard
    assert not new_page.errors, f"JavaScript errors: {new_page.errors}"
