"""The annexes in headless Chromium, on the demo: the leader asks for the Word and the PDF annexes of
the published 2024 framework from the Reports page, waits for the jobs, downloads both files, and
Phụ lục I says what the ranking dashboard says, row by row; then the PDF of the 2025 framework, not yet
published, whose decision is a draft. The PDFs (the Word file converted by LibreOffice in the job) are
read back with pdftotext, and the first page of Phụ lục I, of the decision and of the draft decision are
rendered with `pdftoppm -png` beside the screenshots, under test-artifacts/screenshots/<test name>/, to
be looked at. Needs LibreOffice Writer and poppler-utils besides Chromium (CI installs them)."""

import io
from io import StringIO
from pathlib import Path

import docx
import pytest
from django.core.management import call_command

from reports.models import JobStatus, ReportJob
from units.models import Unit

from ..poppler import flat, pdf_pages, render_page, row_cells
from .conftest import sign_in
from .test_reports import dashboard_rows

pytestmark = [pytest.mark.browser, pytest.mark.libreoffice]
FRAMEWORK = "DEMO-DT-XA-2024"
DRAFT_FRAMEWORK = "DEMO-XA-2025"
DEMO_PASSWORD = "demo12345"


def request_annex(page, output: str, framework: str = FRAMEWORK) -> ReportJob:
    if page.input_value("#report-framework") != framework:
        # Another framework redraws the form (htmx): wait for it before choosing the rest.
        page.evaluate(
            "() => { window.formSettled = false; document.body.addEventListener('htmx:afterSettle', "
            "() => { window.formSettled = true; }, {once: true}); }"
        )
        page.select_option("#report-framework", framework)
        page.wait_for_function("() => window.formSettled === true")
    page.select_option("#report-compare", "")
    page.select_option("#report-output", output)
    before = set(ReportJob.objects.values_list("pk", flat=True))
    # Without a worker (eager Celery, SQLite) the job runs within the request, LibreOffice included.
    with page.expect_navigation(timeout=120_000):
        page.click("#report-form button[type=submit]", no_wait_after=True)
    job = ReportJob.objects.exclude(pk__in=before).get()
    assert (job.kind, job.file_format) == ("annex", output)
    return job


def download(page, job: ReportJob) -> bytes:
    link = page.locator(f"#job-{job.pk} a:has-text('Tải về')")
    link.wait_for(timeout=90_000)  # the row polls until the job is done (LibreOffice for a PDF)
    with page.expect_download() as file:
        link.click()
    assert file.value.suggested_filename.endswith(f".{job.file_format}")
    return Path(file.value.path()).read_bytes()


def picture(content: bytes, heading: str, path: Path) -> str:
    """Render the first page with a line that is exactly `heading` to a PNG (pdftoppm); its text."""
    pages = pdf_pages(content)
    number = next(
        i
        for i, text in enumerate(pages, start=1)
        if any(line.strip() == heading for line in text.splitlines())
    )
    render_page(content, number, path)
    return pages[number - 1]


def test_leader_downloads_the_annexes_in_word_and_pdf(new_page, screenshot):
    call_command("load_demo", stdout=StringIO())
    names = dict(Unit.objects.values_list("name", "code"))
    page = new_page()
    sign_in(page, "lanhdao", DEMO_PASSWORD)
    page.goto(f"/dashboards/?framework={FRAMEWORK}")
    on_dashboard = dashboard_rows(page)
    assert len(on_dashboard) == 9

    page.click("nav.mainnav a:has-text('Báo cáo')")
    page.wait_for_url("**/reports/")
    assert page.locator("#report-output option").all_inner_texts() == [
        "Báo cáo so sánh (Excel)",
        "Phụ lục và dự thảo quyết định (Word)",
        "Phụ lục và dự thảo quyết định (PDF)",
    ]
    screenshot(page, "01-reports-page")

    # Word: Phụ lục I read back with python-docx, against the dashboard.
    word_job = request_annex(page, "docx")
    word = docx.Document(io.BytesIO(download(page, word_job)))
    table = next(t for t in word.tables if t.rows[0].cells[-1].text == "Xếp loại")
    rows = [[cell.text for cell in row.cells] for row in table.rows][1:-1]
    assert [(int(r[-2]), names[r[1]], r[-3]) for r in rows] == on_dashboard
    assert table.rows[-1].cells[1].text == "Giá trị trung bình"

    # PDF: the same rows, and pictures of the decision's and Phụ lục I's first pages.
    pdf_job = request_annex(page, "pdf")
    content = download(page, pdf_job)
    assert content.startswith(b"%PDF-")
    screenshot(page, "02-annexes-ready")
    assert ReportJob.objects.filter(pk__in=[word_job.pk, pdf_job.pk], status=JobStatus.SUCCEEDED).count() == 2
    folder = screenshot.taken[0].parent
    decision = flat(picture(content, "QUYẾT ĐỊNH", folder / "03-pdf-decision.png"))
    assert "Số: 4769/QĐ-UBND" in decision and "Căn cứ" in decision and "DỰ THẢO" not in decision
    annex = picture(content, "PHỤ LỤC I", folder / "04-pdf-phu-luc-I.png")
    lines = [row_cells(text) for text in annex.splitlines()]
    in_pdf = [
        (int(cells[-2]), names[cells[1]], cells[-3])
        for cells in lines
        if len(cells) > 2 and cells[1] in names
    ]
    assert in_pdf == on_dashboard  # place, unit and index, row by row, in the dashboard's order
    assert "Kèm theo Quyết định số 4769/QĐ-UBND ngày 25/12/2024" in flat(annex)

    # The framework not yet published: its decision is a draft, marked so, number and date left blank.
    draft = request_annex(page, "pdf", framework=DRAFT_FRAMEWORK)
    content = download(page, draft)
    text = flat(picture(content, "QUYẾT ĐỊNH", folder / "05-pdf-draft-decision.png"))
    assert text.startswith("DỰ THẢO") and "Số: …/QĐ-UBND" in text and "ngày … tháng … năm 2026" in text
    picture(content, "PHỤ LỤC I", folder / "06-pdf-draft-phu-luc-I.png")
    assert not new_page.errors, f"JavaScript errors: {new_page.errors}"
