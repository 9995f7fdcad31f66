"""Spreadsheet round trip in the browser: download, fill, upload, preview, confirm."""

import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from parindex.audit.models import AuditEntry
from scoring.assessments.services import (
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_self,
)
from scoring.models import Framework, ImportRecord, ImportStatus, Score
from tests.publishing import walk_and_publish

from .factories import make_framework, rows_from_spec

TREE = [
    ("1", 60),
    ("1.1", 30),
    ("1.1.1", 13.5),
    ("1.1.2", 16.5),
    ("1.2", 30),
    ("2", 40, "score", "survey"),
    ("2.1", 40, "score", "survey"),
]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="XA-T")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def download(client, assessment) -> openpyxl.Workbook:
    response = client.get(reverse("scoring:assessment_template", args=[assessment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return openpyxl.load_workbook(io.BytesIO(response.content))


def fill(
    workbook, values: dict, column: str = "Điểm tự đánh giá", notes: dict | None = None
) -> SimpleUploadedFile:
    """The workbook with `values` by criterion code in the column named `column` (and `notes` in Ghi chú)."""
    sheet = workbook.worksheets[0]
    header_row, columns = None, {}
    for row in sheet.iter_rows(min_row=1, max_row=25):
        for cell in row:
            if cell.value in (column, "Ghi chú"):
                header_row, columns[cell.value] = cell.row, cell.column
    assert header_row and column in columns, f"the template has a {column} column"
    for row in range(header_row + 1, sheet.max_row + 1):
        code = str(sheet.cell(row, 1).value or "").strip()
        if code in values:
            sheet.cell(row, columns[column]).value = values[code]
        if code in (notes or {}):
            sheet.cell(row, columns["Ghi chú"]).value = notes[code]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("tu-danh-gia.xlsx", buffer.getvalue())


def upload(client, assessment, file, stage="self"):
    return client.post(
        reverse("scoring:assessment_upload", args=[assessment.pk]), {"file": file, "stage": stage}
    )


def test_download_fill_upload_preview_confirm(client, officer, assessment):
    client.force_login(officer)
    file = fill(
        download(client, assessment),
        {"1.1.1": "12,5", "1.1.2": 16.5, "1.2": "Không áp dụng"},
        notes={"1.2": "Xã không có nhiệm vụ này"},
    )
    response = upload(client, assessment, file)
    record = ImportRecord.objects.get()
    assert response.status_code == 302 and response.url == reverse("scoring:import_detail", args=[record.pk])
    assert record.status == ImportStatus.PREVIEW
    assert not Score.objects.exists(), "nothing is saved before confirmation"
    page = client.get(response.url)
    assert page.status_code == 200
    assert [(line["code"], line["new"]) for line in record.preview["lines"] if line["field"] == "points"] == [
        ("1.1.1", "12.5"),
        ("1.1.2", "16.5"),
        ("1.2", "KAD"),
    ]
    assert "12,5" in page.content.decode()  # Vietnamese decimal comma in the preview

    confirm = client.post(reverse("scoring:import_confirm", args=[record.pk]))
    assert confirm.status_code == 302
    record.refresh_from_db()
    assert (record.status, record.changed) == (ImportStatus.APPLIED, 3)
    scores = {
        s.criterion.code: (s.self_points, s.not_applicable) for s in Score.objects.select_related("criterion")
    }
    assert scores == {"1.1.1": (D("12.5"), False), "1.1.2": (D("16.5"), False), "1.2": (None, True)}
    assert AuditEntry.objects.filter(via="import", actor=officer, field="self_points").count() == 2
    # A second confirmation (double click, or another web process) applies nothing.
    again = client.post(reverse("scoring:import_confirm", args=[record.pk]))
    assert again.status_code == 403
    # The same file serves for corrections: downloaded again, it is pre-filled.
    sheet = download(client, assessment).worksheets[0]
    assert any(cell.value in (12.5, "12.5") for row in sheet.iter_rows() for cell in row)


def test_errors_are_listed_by_cell_and_nothing_is_saved(client, officer, assessment):
    client.force_login(officer)
    file = fill(download(client, assessment), {"1.1.1": 15, "1.1.2": "mười", "1.2": "10"})
    upload(client, assessment, file)
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.REFUSED
    page = client.get(reverse("scoring:import_detail", args=[record.pk])).content.decode()
    assert "15 lớn hơn điểm tối đa 13,5" in page
    assert "mười" in page
    assert not Score.objects.exists()
    assert client.post(reverse("scoring:import_confirm", args=[record.pk])).status_code == 403


def test_english_page_shows_english_problems(client, officer, assessment):
    client.force_login(officer)
    client.cookies["django_language"] = "en"
    upload(client, assessment, fill(download(client, assessment), {"1.1.1": 15}))
    record = ImportRecord.objects.get()
    page = client.get(
        reverse("scoring:import_detail", args=[record.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "15 is more than the maximum 13.5" in page


def test_a_workbook_of_another_unit_is_refused(
    client, officer, other_officer, framework, assessment, other_commune
):
    theirs = assessment_get_or_create(unit=other_commune, framework=framework)
    client.force_login(other_officer)
    file = fill(download(client, theirs), {"1.1.1": 10})
    client.force_login(officer)
    upload(client, assessment, file)
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.REFUSED
    assert "X2" in " ".join(p["vi"] for p in record.problems)


def test_not_an_xlsx_is_refused_clearly(client, officer, assessment):
    client.force_login(officer)
    upload(client, assessment, SimpleUploadedFile("diem.xlsx", b"this is not a workbook"))
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.REFUSED and record.problems


def test_permissions(client, officer, other_officer, leader, appraiser, assessment):
    url = reverse("scoring:assessment_upload", args=[assessment.pk])
    assert client.get(url).status_code == 302  # anonymous → sign in
    client.force_login(other_officer)
    assert client.get(url).status_code == 404
    assert client.get(reverse("scoring:assessment_template", args=[assessment.pk])).status_code == 404
    client.force_login(leader)
    assert client.post(url, {"file": SimpleUploadedFile("a.xlsx", b"x"), "stage": "self"}).status_code == 403
    client.force_login(officer)
    upload(client, assessment, fill(download(client, assessment), {"1.1.1": 10}))
    record = ImportRecord.objects.get()
    for user, status in ((other_officer, 404), (leader, 403)):
        client.force_login(user)
        assert client.post(reverse("scoring:import_confirm", args=[record.pk])).status_code == status
    client.force_login(other_officer)
    assert client.get(reverse("scoring:import_file", args=[record.pk])).status_code == 404
    client.force_login(appraiser)
    assert client.get(reverse("scoring:import_file", args=[record.pk])).status_code == 200


def test_after_submission_the_officer_cannot_upload_but_the_appraiser_appraises(
    client, officer, appraiser, assessment
):
    entries = {
        "1.1.1": SelfEntry(D("13.5"), note="Báo cáo"),
        "1.1.2": SelfEntry(D("16.5"), note="Báo cáo"),
        "1.2": SelfEntry(D("30"), note="Báo cáo"),
    }
    scores_apply_self(assessment=assessment, entries=entries, actor=officer)
    assessment_submit(assessment=assessment, actor=officer)
    client.force_login(officer)
    assert upload(client, assessment, SimpleUploadedFile("a.xlsx", b"x")).status_code == 403
    client.force_login(appraiser)
    workbook = download(client, assessment)
    sheet = workbook.worksheets[0]
    header = next(
        cell
        for row in sheet.iter_rows(min_row=1, max_row=25)
        for cell in row
        if cell.value == "Điểm tự đánh giá"
    )
    sheet.protection.sheet = False
    header.value = "Điểm thẩm định"  # the same workbook, turned into the office's appraisal file
    reason_col = sheet.max_column + 1
    sheet.cell(header.row, reason_col).value = "Lý do"
    for row in range(header.row + 1, sheet.max_row + 1):
        if sheet.cell(row, 1).value == "1.2":
            sheet.cell(row, header.column).value = 25
            sheet.cell(row, reason_col).value = "Thiếu kế hoạch kiểm tra"
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(
        client, assessment, SimpleUploadedFile("tham-dinh.xlsx", buffer.getvalue()), stage="appraisal"
    )
    record = ImportRecord.objects.get()
    assert response.status_code == 302 and record.status == ImportStatus.PREVIEW, record.problems
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    score = Score.objects.get(criterion__code="1.2")
    assert (score.appraised_points, score.appraisal_reason) == (D("25"), "Thiếu kế hoạch kiểm tra")


def test_large_files_are_checked_by_a_celery_task(
    client, officer, assessment, settings, django_capture_on_commit_callbacks
):
    settings.PARINDEX_ASYNC_IMPORT_BYTES = 10  # every file counts as large here
    client.force_login(officer)
    file = fill(download(client, assessment), {"1.1.1": "12,5"})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload(client, assessment, file)
    record = ImportRecord.objects.get()
    assert (record.status, record.progress) == (ImportStatus.CHECKING, 0)
    polling = client.get(reverse("scoring:import_detail", args=[record.pk]), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' in polling.content
    for callback in callbacks:  # the task runs (eagerly) once the upload's transaction commits
        callback()
    record.refresh_from_db()
    assert (record.status, record.progress) == (ImportStatus.PREVIEW, 100)


def test_published_framework_refuses_uploads(client, appraiser, framework, assessment):
    walk_and_publish(framework=framework, decision_number="1/QĐ-UBND", decision_date=date(2024, 12, 20))
    client.force_login(appraiser)
    assert upload(client, assessment, SimpleUploadedFile("a.xlsx", b"x")).status_code == 403
    assert (
        client.post(
            reverse("scoring:survey_upload", args=[framework.code]),
            {"file": SimpleUploadedFile("s.csv", b"x")},
        ).status_code
        == 403
    )


def test_survey_file_for_all_units(client, appraiser, leader, framework, assessment, other_commune):
    client.force_login(appraiser)
    csv = 'Mã đơn vị,2.1\nX1,"30,5"\nX2,20\n'.encode()
    response = client.post(
        reverse("scoring:survey_upload", args=[framework.code]),
        {"file": SimpleUploadedFile("dtxhh.csv", csv)},
    )
    record = ImportRecord.objects.get()
    assert response.status_code == 302 and record.status == ImportStatus.PREVIEW, record.problems
    assert record.preview["changes"] == 2
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    points = dict(
        Score.objects.filter(criterion__code="2.1").values_list("assessment__unit__code", "appraised_points")
    )
    assert points == {"X1": D("30.5"), "X2": D("20")}
    client.force_login(leader)
    assert client.get(reverse("scoring:survey_upload", args=[framework.code])).status_code == 403


def test_framework_import_export_and_copy(client, appraiser, officer, district, framework):
    client.force_login(appraiser)
    exported = client.get(reverse("scoring:framework_export", args=[framework.code]))
    assert exported.status_code == 200
    response = client.post(
        reverse("scoring:framework_import"),
        {
            "file": SimpleUploadedFile("bo-chi-so.xlsx", exported.content),
            "code": "XA-T2",
            "name": "Bộ chỉ số mới",
            "authority": "H",
            "unit_kind": "commune",
            "year": 2030,
            "bands": "Tốt:80,Khá:0",
            "decimals": 2,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    imported = Framework.objects.get(code="XA-T2")
    assert list(imported.criteria.values_list("code", "max_points")) == list(
        framework.criteria.values_list("code", "max_points")
    )
    bad = "Mã,Tiêu chí,Điểm tối đa\n1,A,10\n1.1,B,4\n".encode()
    response = client.post(
        reverse("scoring:framework_import"),
        {
            "file": SimpleUploadedFile("sai.csv", bad),
            "code": "XA-BAD",
            "name": "Sai",
            "authority": "H",
            "unit_kind": "commune",
            "year": 2031,
            "bands": "Tốt:80,Khá:0",
            "decimals": 2,
        },
    )
    assert response.status_code == 200 and not Framework.objects.filter(code="XA-BAD").exists()
    assert "10" in response.content.decode() and "4" in response.content.decode()

    copy_url = reverse("scoring:framework_copy", args=[framework.code])
    assert client.get(copy_url).status_code == 200
    response = client.post(copy_url, {"code": "XA-T-NEXT", "year": framework.year + 1, "name": "Năm sau"})
    assert response.status_code == 302
    copy = Framework.objects.get(code="XA-T-NEXT")
    assert copy.criteria.count() == framework.criteria.count()
    assert list(copy.grade_bands.values_list("name", flat=True)) == list(
        framework.grade_bands.values_list("name", flat=True)
    )
    client.force_login(officer)
    assert client.get(copy_url).status_code == 404
    assert client.get(reverse("scoring:framework_import")).status_code == 403
