"""A template that round-trips (issue 13, deliverable 7): every field a unit changes (points, raw
figure, note, evidence references, web-added evidence included, the not-applicable mark and its
reason) goes out in the template and comes back; the preview shows every change; errors name the
cell and the criterion; the evidence requirement stands in the template before any import."""

import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scoring.assessments.services import SelfEntry, assessment_get_or_create, evidence_add, scores_apply_self
from scoring.exchange.workbooks import HEADER_ROW, TEMPLATE_HEADER
from scoring.models import Evidence, ImportRecord, ImportStatus, Score

from .factories import make_framework, rows_from_spec

TREE = [("1", 20), ("1.1", 10), ("1.2", 5, "score", "self", "percent"), ("1.3", 3), ("1.4", 2)]


@pytest.fixture
def assessment(district, commune, officer):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="FWT")
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D("7.5"), note="Đã thực hiện đủ", evidence_reference="Kế hoạch số 3/KH-UBND"),
            "1.2": SelfEntry(None, raw="95,5", note="Tỷ lệ hồ sơ đúng hạn"),
            "1.3": SelfEntry(None, not_applicable=True, not_applicable_reason="Xã không có cảng"),
        },
        actor=officer,
    )
    evidence_add(
        assessment=assessment,
        code="1.2",
        document_number="12/QĐ-UBND",
        document_date=date(2025, 3, 5),
        page="3",
        description="Quyết định ban hành kế hoạch",
        actor=officer,
    )
    evidence_add(
        assessment=assessment,
        code="1.1",
        upload=SimpleUploadedFile("bao-cao.pdf", b"%PDF-1.4 test"),
        actor=officer,
    )
    return assessment


def download(client, assessment) -> openpyxl.Workbook:
    response = client.get(reverse("scoring:assessment_template", args=[assessment.pk]))
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows_of(sheet) -> dict[str, int]:
    return {sheet.cell(r, 1).value: r for r in range(HEADER_ROW + 1, sheet.max_row + 1)}


def column(name: str) -> int:
    return TEMPLATE_HEADER.index(name) + 1


def upload(client, assessment, workbook) -> ImportRecord:
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = client.post(
        reverse("scoring:assessment_upload", args=[assessment.pk]),
        {"file": SimpleUploadedFile("x1.xlsx", buffer.getvalue()), "stage": "self"},
    )
    assert response.status_code == 302
    return ImportRecord.objects.latest("pk")


def stored(assessment) -> dict[str, tuple]:
    return {
        s.criterion.code: (
            s.self_points,
            s.self_raw,
            s.not_applicable,
            s.not_applicable_reason,
            s.note,
            s.evidence_reference,
        )
        for s in Score.objects.filter(assessment=assessment).select_related("criterion")
    }


def test_every_field_goes_out_in_the_template_and_the_guidance_asks_for_evidence(client, officer, assessment):
    client.force_login(officer)
    sheet = download(client, assessment).active
    rows = rows_of(sheet)
    evidence, note = column("Tài liệu kiểm chứng"), column("Ghi chú")
    assert sheet.cell(rows["1.1"], 4).value == 7.5
    assert sheet.cell(rows["1.1"], evidence).value == "Kế hoạch số 3/KH-UBND\ntệp bao-cao.pdf"
    assert sheet.cell(rows["1.1"], note).value == "Đã thực hiện đủ"
    assert sheet.cell(rows["1.2"], column("Số liệu")).value == "95,5"
    # Evidence added on the web goes out too, one line per reference.
    assert sheet.cell(rows["1.2"], evidence).value == (
        "số 12/QĐ-UBND, 05/03/2025, tr. 3, Quyết định ban hành kế hoạch"
    )
    assert sheet.cell(rows["1.3"], 4).value == "Không áp dụng"
    assert sheet.cell(rows["1.3"], column("Lý do không áp dụng")).value == "Xã không có cảng"
    assert not sheet.cell(rows["1.3"], column("Lý do không áp dụng")).protection.locked
    # Before the first import the template says what a scored row needs besides its points.
    guidance = " ".join(
        str(cell.value) for row in sheet.iter_rows(max_row=HEADER_ROW - 1) for cell in row if cell.value
    )
    assert "tài liệu kiểm chứng" in guidance and "giải trình" in guidance


def test_a_template_uploaded_without_edits_changes_nothing(client, officer, assessment):
    client.force_login(officer)
    before = stored(assessment)
    record = upload(client, assessment, download(client, assessment))
    assert record.status == ImportStatus.PREVIEW, record.problems
    assert record.preview["lines"] == [] and record.preview["changes"] == 0
    page = client.get(reverse("scoring:import_detail", args=[record.pk]))
    assert "Tệp không làm thay đổi gì: điểm, số liệu, ghi chú và tài liệu kiểm chứng giữ nguyên" in (
        page.content.decode()
    )
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED and record.changed == 0
    assert stored(assessment) == before
    assert Evidence.objects.filter(score__assessment=assessment).count() == 2


def test_each_kind_of_change_is_previewed_and_saved_on_confirm(client, officer, assessment):
    client.force_login(officer)
    workbook = download(client, assessment)
    sheet = workbook.active
    rows = rows_of(sheet)
    sheet.cell(rows["1.1"], 4).value = "8,25"
    sheet.cell(rows["1.1"], column("Ghi chú")).value = "Bổ sung báo cáo quý IV"
    sheet.cell(rows["1.2"], column("Số liệu")).value = "100"
    evidence = sheet.cell(rows["1.2"], column("Tài liệu kiểm chứng"))
    evidence.value = f"{evidence.value}\nsố 15/BC-UBND, 10/12/2025"
    sheet.cell(rows["1.3"], column("Lý do không áp dụng")).value = "Địa bàn không có cảng cá"
    sheet.cell(rows["1.4"], 4).value = "Không áp dụng"
    sheet.cell(rows["1.4"], column("Lý do không áp dụng")).value = "Không có chợ đầu mối"
    record = upload(client, assessment, workbook)
    assert record.status == ImportStatus.PREVIEW, record.problems
    lines = {(line["code"], line["field"]): (line["old"], line["new"]) for line in record.preview["lines"]}
    assert lines == {
        ("1.1", "points"): ("7.50", "8.25"),
        ("1.1", "note"): ("Đã thực hiện đủ", "Bổ sung báo cáo quý IV"),
        ("1.2", "points"): ("4.78", "5.00"),
        ("1.2", "raw"): ("95,5", "100"),
        ("1.2", "evidence"): ("", "số 15/BC-UBND, 10/12/2025"),
        ("1.3", "not_applicable_reason"): ("Xã không có cảng", "Địa bàn không có cảng cá"),
        ("1.4", "points"): (None, "KAD"),
        ("1.4", "not_applicable_reason"): ("", "Không có chợ đầu mối"),
    }
    assert record.preview["changes"] == 4  # rows, as saving counts them
    page = client.get(reverse("scoring:import_detail", args=[record.pk])).content.decode()
    assert "Bổ sung báo cáo quý IV" in page and "số 15/BC-UBND, 10/12/2025" in page
    assert "Nội dung thay đổi" in page and "Số liệu" in page and "Ghi chú" in page
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED and record.changed == 4
    saved = stored(assessment)
    assert saved["1.1"] == (D("8.25"), "", False, "", "Bổ sung báo cáo quý IV", "Kế hoạch số 3/KH-UBND")
    assert saved["1.2"][:2] == (D("5.00"), "100") and saved["1.2"][5] == "số 15/BC-UBND, 10/12/2025"
    assert saved["1.3"][2:4] == (True, "Địa bàn không có cảng cá")
    assert saved["1.4"][2:4] == (True, "Không có chợ đầu mối")
    assert Evidence.objects.filter(score__assessment=assessment).count() == 2  # web evidence kept
    # And the next download round-trips again.
    again = upload(client, assessment, download(client, assessment))
    assert again.preview["lines"] == []


def test_an_error_names_the_cell_and_the_criterion(client, officer, assessment):
    client.force_login(officer)
    workbook = download(client, assessment)
    rows = rows_of(workbook.active)
    workbook.active.cell(rows["1.1"], 4).value = 12
    workbook.active.cell(rows["1.4"], 4).value = "Không áp dụng"  # without its reason in column H
    record = upload(client, assessment, workbook)
    assert record.status == ImportStatus.REFUSED
    over, no_reason = [p["vi"] for p in record.problems]
    assert f"D{rows['1.1']} (tiêu chí 1.1)" in over and "lớn hơn điểm tối đa 10" in over
    assert f"H{rows['1.4']}: " in no_reason and "tiêu chí 1.4 không áp dụng" in no_reason
