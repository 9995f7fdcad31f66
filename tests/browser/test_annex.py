"""The annexes in headless Chromium, on the demo: the leader asks for the Word and the PDF annexes of
the published 2024 framework from the Reports page, waits for the jobs, downloads both files, and
Phụ lục I says what the ranking dashboard says, row by row. The first page of the draft decision and
of Phụ lục I are rendered to pictures (pypdfium2) beside the screenshots, under
test-artifacts/screenshots/<test name>/, to be looked at."""

import io
from io import StringIO
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from django.core.management import call_command

from reports.models import JobStatus, ReportJob
from units.models import Unit

from .conftest import sign_in
from .test_reports import dashboard_rows

pytestmark = pytest.mark.browser
FRAMEWORK = "DEMO-DT-XA-2024"
DEMO_PASSWORD = "demo12345"


def request_annex(page, output: str) -> ReportJob:
    if page.input_value("#report-framework") != FRAMEWORK:
        # Another framework redraws the form (htmx): wait for it before choosing the rest.
        page.evaluate(
            "() => { window.formSettled = false; document.body.addEventListener('htmx:afterSettle', "
            "() => { window.formSettled = true; }, {once: true}); }"
        )
        page.select_option("#report-framework", FRAMEWORK)
        page.wait_for_function("() => window.formSettled === true")
    page.select_option("#report-compare", "")
    page.select_option("#report-output", output)
    before = set(ReportJob.objects.values_list("pk", flat=True))
    with page.expect_navigation():
        page.click("#report-form button[type=submit]")
    job = ReportJob.objects.exclude(pk__in=before).get()
    assert (job.kind, job.file_format) == ("annex", output)
    return job


def download(page, job: ReportJob) -> bytes:
    link = page.locator(f"#job-{job.pk} a:has-text('Tải về')")
    link.wait_for(timeout=30_000)  # the row polls until the job is done
    with page.expect_download() as file:
        link.click()
    assert file.value.suggested_filename.endswith(f".{job.file_format}")
    return Path(file.value.path()).read_bytes()


def render_page(content: bytes, marker: str, path: Path) -> str:
    """Render the first PDF page whose text holds `marker` to a PNG; returns that page's text."""
    document = pdfium.PdfDocument(content)
    for index in range(len(document)):
        text = document[index].get_textpage().get_text_range()
        if marker in text:
            image = document[index].render(scale=1.5).to_pil()
            image.save(path)
            # Something is drawn: plenty of dark pixels (text, table rules) on the white page.
            dark = sum(image.convert("L").histogram()[:128])
            assert dark > 5_000, f"{path.name} looks blank"
            return text
    raise AssertionError(f"no page of the PDF holds {marker!r}")


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
    assert content.startswith(b"%PDF")
    screenshot(page, "02-annexes-ready")
    assert ReportJob.objects.filter(pk__in=[word_job.pk, pdf_job.pk], status=JobStatus.SUCCEEDED).count() == 2
    folder = screenshot.taken[0].parent
    decision = render_page(content, "QUYẾT ĐỊNH", folder / "03-pdf-draft-decision.png")
    assert "Số: 4769/QĐ-UBND" in decision and "Căn cứ" in decision
    annex = render_page(content, "PHỤ LỤC I\r\n", folder / "04-pdf-phu-luc-I.png")
    positions = [annex.index(name) for name in (r[1] for r in rows)]
    assert positions == sorted(positions)
    for _rank, _code, index in on_dashboard:
        assert index in annex
    assert not new_page.errors, f"JavaScript errors: {new_page.errors}"
