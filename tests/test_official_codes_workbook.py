"""The self-assessment workbook of a framework numbered the decision's own way (I, 1, a1): the template
carries every row, the upload and the command read every leaf, and a code that names no criterion of
the framework is an error on its cell, never a row skipped."""

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scoring.assessments.services import assessment_get_or_create
from scoring.exchange.workbooks import HEADER_ROW, RAW_COLUMN
from scoring.models import Framework, ImportRecord, ImportStatus, Score
from units.models import Role, UnitKind

from .factories import SHARED_DATA, make_member, make_unit
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_xlsx,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def framework(district):
    call(
        "import_framework",
        SHARED_DATA / "framework-department-codes.csv",
        "--code",
        "SO",
        "--authority",
        "H",
        "--unit-kind",
        "department",
        "--year",
        "2025",
        "--name",
        "Bộ chỉ số cấp sở 2025",
    )
    return Framework.objects.get(code="SO")


@pytest.fixture
def department(district):
    return make_unit("S1", kind=UnitKind.DEPARTMENT, parent=district, name="Sở Thử")


def rows_by_code(ws):
    return {str(ws.cell(r, 1).value): r for r in range(HEADER_ROW + 1, ws.max_row + 1) if ws.cell(r, 1).value}


def filled(workbook) -> bytes:
    """The template with points typed for a steps leaf and a plain leaf, and raw figures for a
    thresholds leaf, a deduction leaf, a percentage leaf and a yes/no bonus."""
    ws = workbook.worksheets[0]
    rows = rows_by_code(ws)
    ws.cell(rows["a1"], 4, "0,5")  # steps 0; 0,5; 1
    ws.cell(rows["b1"], RAW_COLUMN, 85)  # bands 100=2; 80=1 → 1
    ws.cell(rows["2"], RAW_COLUMN, 1)  # deduct 0,5 of 1,5 → 1
    ws.cell(rows["a3"], RAW_COLUMN, "191/200")  # percent of 1 → 0,96 (0,955 half-up)
    ws.cell(rows["b12"], RAW_COLUMN, 2)  # deduct 0,5 of 2 → 1
    ws.cell(rows["4"], 4, "1,25")
    ws.cell(rows["28"], RAW_COLUMN, "có")  # bonus, yes/no of 2 → 2
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


EXPECTED = {
    "a1": (D("0.5"), ""),
    "b1": (D("1"), "85"),
    "2": (D("1"), "1"),
    "a3": (D("0.96"), "191/200"),
    "b12": (D("1"), "2"),
    "4": (D("1.25"), ""),
    "28": (D("2"), "có"),
}


def saved():
    return {
        s.criterion.code: (s.self_points, s.self_raw)
        for s in Score.objects.select_related("criterion")
        if s.self_points is not None
    }


def test_template_lists_every_official_code_in_file_order(framework, department, client):
    officer = make_member(department, Role.OFFICER, "so_officer")
    assessment = assessment_get_or_create(unit=department, framework=framework)
    client.force_login(officer)
    response = client.get(reverse("scoring:assessment_template", args=[assessment.pk]))
    ws = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    codes = [ws.cell(r, 1).value for r in range(HEADER_ROW + 1, ws.max_row + 1)]
    assert codes == list(framework.criteria.order_by("order").values_list("code", flat=True))
    assert codes[:4] == ["I", "1", "a1", "b1"]


def test_downloaded_template_filled_and_uploaded_saves_every_leaf(framework, department, client):
    officer = make_member(department, Role.OFFICER, "so_officer")
    assessment = assessment_get_or_create(unit=department, framework=framework)
    client.force_login(officer)
    response = client.get(reverse("scoring:assessment_template", args=[assessment.pk]))
    content = filled(openpyxl.load_workbook(io.BytesIO(response.content)))
    response = client.post(
        reverse("scoring:assessment_upload", args=[assessment.pk]),
        {"file": SimpleUploadedFile("so.xlsx", content), "stage": "self"},
    )
    record = ImportRecord.objects.get()
    assert response.status_code == 302 and record.status == ImportStatus.PREVIEW, record.errors
    assert {line["code"] for line in record.preview["lines"]} == set(EXPECTED)
    assert client.post(reverse("scoring:import_confirm", args=[record.pk])).status_code == 302
    assert saved() == EXPECTED


def test_the_command_reads_the_same_template(framework, department, tmp_path):
    out = tmp_path / "so.xlsx"
    call("assessment_template", "--framework", "SO", "--unit", "S1", "--out", out)
    out.write_bytes(filled(openpyxl.load_workbook(out)))
    call("import_assessment", out, "--framework", "SO")
    assert saved() == EXPECTED


def test_a_code_that_is_no_criterion_is_an_error_on_its_cell(framework, department, tmp_path):
    header = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá"]
    path = write_xlsx(
        tmp_path / "so.xlsx",
        [
            header,
            ["I", "", 13, None],  # an area: a subtotal row, read and ignored
            ["a1", "", 1, 1],
            ["c1", "", 1, 1],  # row 4: not in the framework
            ["XI", "", 1, 1],  # row 5: not in the framework
            ["Tổng cộng", "", 100, 1],  # not a code: a total line
        ],
    )
    err, _ = call_failing("import_assessment", path, "--framework", "SO", "--unit", "S1")
    assert "A4: Tiêu chí c1 không có trong bộ chỉ số SO." in err
    assert "A5: Tiêu chí XI không có trong bộ chỉ số SO." in err
    assert "Tổng" not in err
    assert not Score.objects.exists()


def test_survey_file_columns_named_by_official_codes(district, commune, tmp_path):
    from scoring.frameworks.services import CriterionRow, framework_create

    framework_create(
        code="KS",
        authority=district,
        unit_kind=commune.kind,
        year=2025,
        name="Bộ chỉ số",
        rows=[
            CriterionRow("I", "Chỉ đạo", D("4"), source="self"),
            CriterionRow("II", "Hài lòng", None, source="survey"),
            CriterionRow("a", "Tiếp cận dịch vụ", D("5"), source="survey", parent="II"),
            CriterionRow("b", "Thủ tục hành chính", D("5"), source="survey", parent="II"),
        ],
    )
    path = write_xlsx(
        tmp_path / "ks.xlsx",
        [["Mã đơn vị", "Tên đơn vị", "a", "b. Hài lòng về thủ tục"], ["X1", "Xã Một", "4,5", "KAD"]],
    )
    call("import_survey", path, "--framework", "KS")
    got = {
        s.criterion.code: (s.appraised_points, s.is_not_applicable)
        for s in Score.objects.select_related("criterion")
    }
    assert got == {"a": (D("4.5"), False), "b": (None, True)}
    # A header that is no code of the framework stays an error on its cell.
    path = write_xlsx(tmp_path / "bad.xlsx", [["Mã đơn vị", "c"], ["X1", 1]])
    err, _ = call_failing("import_survey", path, "--framework", "KS")
    assert "B1:" in err
