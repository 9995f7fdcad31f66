import datetime
from decimal import Decimal

import openpyxl
import pytest

from parindex.spreadsheets import SpreadsheetError
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self
from scoring.exchange.importers import framework_version, read_assessment
from scoring.exchange.workbooks import HEADER_ROW, TEMPLATE_HEADER, assessment_workbook
from scoring.models import Criterion, Framework, Score

from .factories import make_framework, rows_from_csv, rows_from_spec
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
)

pytestmark = pytest.mark.django_db

SPEC = [
    ("1", 13.5),
    ("1.1", 1.5),
    ("1.2", 12),
    ("2", 4),
    ("2.1", 2),
    ("2.1.1", 1),
    ("2.1.2", 1),
    ("2.2", 2),
    ("3", 10, "score", "survey"),
    ("3.1", 10, "score", "survey"),
    ("4", 2, "bonus"),
    ("4.1", 2, "bonus"),
]


@pytest.fixture
def framework(district):
    fw = make_framework(district, rows=rows_from_spec(SPEC), code="FW")
    fw.self_deadline = datetime.datetime(2024, 11, 30, 17, 0, tzinfo=datetime.UTC)
    fw.save(update_fields=["self_deadline"])
    return fw


def rows_by_code(ws):
    return {ws.cell(r, 1).value: r for r in range(HEADER_ROW + 1, ws.max_row + 1) if ws.cell(r, 1).value}


def test_template_layout_protection_validation_and_metadata(tmp_path, framework, commune):
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(Decimal("1.25"), evidence_reference="QĐ 12/QĐ-UBND", note="đúng hạn"),
            "2.2": SelfEntry(None, not_applicable=True),
        },
    )
    out = tmp_path / "x1.xlsx"
    printed, _ = call("assessment_template", "--framework", "FW", "--unit", "X1", "--out", out)
    assert "Đã ghi" in printed
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    assert [c.value for c in ws[HEADER_ROW]] == TEMPLATE_HEADER
    assert (ws["A2"].value, ws["B2"].value, ws["D2"].value) == ("Mã đơn vị", "X1", "Xã Một")
    assert (ws["B3"].value, ws["B4"].value, ws["D4"].value) == (
        "FW",
        2024,
        "01/12/2024 00:00",
    )  # Asia/Ho_Chi_Minh
    rows = rows_by_code(ws)
    assert list(rows) == [code for code, *_ in SPEC]
    # Parents: bold SUM subtotals of their direct children, locked.
    assert ws.cell(rows["1"], 4).value == f"=SUM(D{rows['1.1']},D{rows['1.2']})"
    assert ws.cell(rows["2"], 4).value == f"=SUM(D{rows['2.1']},D{rows['2.2']})"
    assert ws.cell(rows["2.1"], 4).value == f"=SUM(D{rows['2.1.1']},D{rows['2.1.2']})"
    assert ws.cell(rows["1"], 2).font.b and ws.cell(rows["1"], 4).protection.locked
    # Leaves of the unit: unlocked input cells, pre-filled; survey leaves locked and empty.
    assert ws.cell(rows["1.1"], 4).value == 1.25 and ws.cell(rows["1.1"], 4).number_format == "#,##0.00"
    assert (ws.cell(rows["1.1"], 5).value, ws.cell(rows["1.1"], 6).value) == ("QĐ 12/QĐ-UBND", "đúng hạn")
    assert ws.cell(rows["2.2"], 4).value == "Không áp dụng"
    assert not ws.cell(rows["1.1"], 4).protection.locked and not ws.cell(rows["4.1"], 5).protection.locked
    assert ws.cell(rows["3.1"], 4).protection.locked and ws.cell(rows["3.1"], 4).value is None
    assert ws.cell(rows["1.1"], 1).protection.locked and ws.cell(rows["1.1"], 3).protection.locked
    assert ws.protection.sheet and not ws.protection.password
    # Outline levels follow depth; printing: A4 landscape, header row repeated.
    assert (
        ws.row_dimensions[rows["2.1.1"]].outline_level == 2
        and ws.row_dimensions[rows["2.1"]].outline_level == 1
    )
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
    assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert ws.freeze_panes == f"C{HEADER_ROW + 1}" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # Data validation, one per input cell: a number from 0 to the leaf's max (two decimals at most)
    # or a not-applicable word; error and input messages in Vietnamese; refusing, not warning.
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    leaf_cells = {f"D{rows[c]}" for c in ("1.1", "1.2", "2.1.1", "2.1.2", "2.2", "4.1")}
    assert set(validations) == leaf_cells
    d = f"D{rows['1.1']}"
    dv = validations[d]
    assert dv.type == "custom" and dv.errorStyle == "stop" and dv.allow_blank
    assert dv.formula1 == (
        f"IF(ISNUMBER({d}),AND({d}>=0,{d}<=1.5,ROUND({d},2)={d}),"
        f'OR({d}="Không áp dụng",{d}="Khong ap dung",{d}="KAD",{d}="N/A",{d}="NA"))'
    )
    assert dv.error == 'Nhập số từ 0 đến 1,5 (tối đa hai chữ số thập phân) hoặc "Không áp dụng".'
    assert dv.showInputMessage and dv.prompt.startswith("Từ 0 đến 1,5 điểm")
    # Very hidden metadata sheet.
    meta = wb["_parindex"]
    assert meta.sheet_state == "veryHidden"
    values = {r[0]: r[1] for r in meta.iter_rows(values_only=True)}
    assert values["assessment"] == str(assessment.pk) and values["framework"] == "FW"
    assert values["unit"] == "X1" and values["year"] == "2024"
    assert values["framework_version"] == framework_version(framework)
    assert values["criteria"].split(";") == [code for code, *_ in SPEC]


def test_template_fill_import_round_trip(tmp_path, framework, commune):
    out = tmp_path / "x1.xlsx"
    call("assessment_template", "--framework", "FW", "--unit", "X1", "--out", out)
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    rows = rows_by_code(ws)
    ws.cell(rows["1.1"], 4, "1,5")
    ws.cell(rows["1.2"], 4, 10.75)
    ws.cell(rows["1.2"], 5, "Báo cáo số 5/BC-UBND")
    ws.cell(rows["2.1.1"], 4, "KAD")
    ws.cell(rows["2.1.2"], 4, 1)
    ws.cell(rows["4.1"], 4, 2)
    ws.cell(rows["4.1"], 6, "Bằng khen")
    wb.save(out)
    printed, _ = call("import_assessment", out, "--framework", "FW")  # the unit comes from the workbook
    got = {
        s.criterion.code: (s.self_points, s.not_applicable, s.evidence_reference, s.note)
        for s in Score.objects.select_related("criterion")
    }
    assert got == {
        "1.1": (Decimal("1.5"), False, "", ""),
        "1.2": (Decimal("10.75"), False, "Báo cáo số 5/BC-UBND", ""),
        "2.1.1": (None, True, "", ""),
        "2.1.2": (Decimal("1"), False, "", ""),
        "4.1": (Decimal("2"), False, "", "Bằng khen"),
    }
    assert "X1" in printed
    # The next template carries the saved scores and imports back unchanged.
    again = tmp_path / "again.xlsx"
    call("assessment_template", "--framework", "FW", "--unit", "X1", "--out", again)
    printed, _ = call("import_assessment", again, "--framework", "FW")
    assert "0 thay đổi" in printed


def test_template_of_one_unit_is_refused_for_another(tmp_path, framework, commune, other_commune):
    out = tmp_path / "x1.xlsx"
    call("assessment_template", "--framework", "FW", "--unit", "X1", "--out", out)
    err, _ = call_failing("import_assessment", out, "--framework", "FW", "--unit", "X2")
    assert "Bảng tính này của đơn vị X1, không phải X2." in err
    make_framework(framework.authority, rows=rows_from_spec(SPEC), code="FW25", year=2025)
    err, _ = call_failing("import_assessment", out, "--framework", "FW25")
    assert "Bảng tính này thuộc bộ chỉ số FW, không phải FW25." in err
    assert Score.objects.count() == 0


def test_template_command_errors(tmp_path, framework, commune):
    _err, error = call_failing(
        "assessment_template", "--framework", "FW", "--unit", "H", "--out", tmp_path / "a.xlsx"
    )
    assert "Đơn vị H thuộc loại" in str(error)
    _err, error = call_failing(
        "assessment_template", "--framework", "FW", "--unit", "ZZ", "--out", tmp_path / "a.xlsx"
    )
    assert "Không có đơn vị mã ZZ." in str(error)


def test_template_of_the_real_commune_framework_round_trips(tmp_path, district, commune):
    framework = make_framework(district, rows=rows_from_csv("framework-commune.csv"), code="COM")
    wb = assessment_workbook(unit=commune, framework=framework)
    ws = wb.worksheets[0]
    rows = rows_by_code(ws)
    leaves = list(framework.criteria.filter(is_leaf=True, source="self"))
    for criterion in leaves:
        ws.cell(rows[criterion.code], 4, float(criterion.max_points))
    wb.save(tmp_path / "com.xlsx")
    call("import_assessment", tmp_path / "com.xlsx", "--framework", "COM")
    assert Score.objects.filter(self_points__isnull=False).count() == len(leaves)


def test_validation_of_a_leaf_that_cannot_be_not_applicable(framework, commune):
    Criterion.objects.filter(framework=framework, code="1.2").update(allows_not_applicable=False)
    ws = assessment_workbook(unit=commune, framework=framework).worksheets[0]
    d = f"D{rows_by_code(ws)['1.2']}"
    dv = next(dv for dv in ws.data_validations.dataValidation if str(dv.sqref) == d)
    assert dv.formula1 == f"IF(ISNUMBER({d}),AND({d}>=0,{d}<=12,ROUND({d},2)={d}),FALSE)"
    assert "Không áp dụng" not in dv.error


def test_framework_version_follows_criteria_not_deadlines(framework):
    before = framework_version(framework)
    framework.self_deadline = None
    framework.save()
    assert framework_version(Framework.objects.get(pk=framework.pk)) == before
    Criterion.objects.filter(framework=framework, code="1.1").update(max_points=Decimal("2"))
    assert framework_version(framework) != before


def test_template_made_before_the_framework_changed_is_refused(tmp_path, framework, commune):
    out = tmp_path / "x1.xlsx"
    wb = assessment_workbook(unit=commune, framework=framework)
    ws = wb.worksheets[0]
    ws.cell(rows_by_code(ws)["1.1"], 4, 1)
    wb.save(out)
    read_assessment(out, framework=framework)  # accepted as it is
    Criterion.objects.filter(framework=framework, code="2.2").update(
        title="Tiêu chí đã sửa", kind="score", allows_not_applicable=False
    )
    with pytest.raises(SpreadsheetError) as info:
        read_assessment(out, framework=framework)
    assert info.value.messages == [
        "x1.xlsx: Bộ chỉ số FW đã thay đổi kể từ khi tạo bảng tính này (tiêu chí hoặc điểm tối đa đã được sửa). "
        "Hãy tải mẫu mới và chép các nội dung đã nhập sang."
    ]
    err, _ = call_failing("import_assessment", out, "--framework", "FW")
    assert "has changed since this workbook was made" in err
    assert Score.objects.count() == 0


def test_template_header_block_and_year_mismatch(tmp_path, framework, commune):
    wb = assessment_workbook(unit=commune, framework=framework)
    meta = wb["_parindex"]
    for row in meta.iter_rows():
        if row[0].value == "year":
            row[1].value = "2023"
    wb.save(tmp_path / "y.xlsx")
    with pytest.raises(SpreadsheetError) as info:
        read_assessment(tmp_path / "y.xlsx", framework=framework)
    assert "Bảng tính này của năm 2023" in " ".join(info.value.messages)
