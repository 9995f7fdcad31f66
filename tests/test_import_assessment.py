import datetime
from decimal import Decimal

import openpyxl
import pytest

from parindex.audit.models import AuditEntry
from scoring.models import Assessment, AssessmentStatus, Score
from tests.publishing import walk_and_publish
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db

SPEC = [
    ("1", 13.5),
    ("1.1", 1.5),
    ("1.2", 12),
    ("2", 4),
    ("2.1", 2),
    ("2.2", 2),
    ("3", 10, "score", "survey"),
    ("3.1", 10, "score", "survey"),
    ("4", 2, "bonus"),
    ("4.1", 2, "bonus"),
    ("5", 1, "penalty"),
    ("5.1", 1, "penalty"),
]
SELF_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá", "Tài liệu kiểm chứng", "Ghi chú"]
TITLE = [["BẢNG TỰ ĐÁNH GIÁ CHẤM ĐIỂM CHỈ SỐ CẢI CÁCH HÀNH CHÍNH"], []]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(SPEC), code="FW")


def scores(unit_code="X1"):
    return {
        s.criterion.code: (s.self_points, s.not_applicable, s.evidence_reference, s.note, s.appraised_points)
        for s in Score.objects.filter(assessment__unit__code=unit_code).select_related("criterion")
    }


def self_file(tmp_path, rows, name="x1.xlsx"):
    return write_xlsx(tmp_path / name, [*TITLE, SELF_HEADER, *rows])


def test_self_assessment_with_formulas_decimal_commas_and_marks(tmp_path, framework, commune):
    path = self_file(
        tmp_path,
        [
            ["1", "Chỉ đạo", 13.5, "=SUM(D5:D6)"],
            ["1.1", "Kế hoạch", 1.5, "1,25", "QĐ 12/QĐ-UBND, tr.3", "đúng hạn"],
            ["1.2", "Báo cáo", 12, 11.5],
            [],
            ["2", "Thể chế", 4, 99],  # a parent row: ignored whatever it holds
            ["2.1", "Văn bản", 2, "không áp dụng"],
            ["2.2", "Rà soát", 2, "KAD"],
            ["3", "Điều tra", 10, 0],
            ["3.1", "Người dân", 10, 0],  # scored by the office: ignored in the self stage
            ["4.1", "Thưởng", 2, "1.5"],
            ["5.1", "Trừ", 1, "n/a"],
        ],
    )
    out, _ = call("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert scores() == {
        "1.1": (Decimal("1.25"), False, "QĐ 12/QĐ-UBND, tr.3", "đúng hạn", None),
        "1.2": (Decimal("11.5"), False, "", "", None),
        "2.1": (None, True, "", "", None),
        "2.2": (None, True, "", "", None),
        "4.1": (Decimal("1.5"), False, "", "", None),
        "5.1": (None, True, "", "", None),
    }
    assert Assessment.objects.get().status == AssessmentStatus.DRAFT
    assert "X1 trong bộ chỉ số FW: đọc 6 tiêu chí, 6 thay đổi, 0 giữ nguyên." in out
    # Importing the same file again changes nothing.
    out, _ = call("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert "0 thay đổi, 6 giữ nguyên" in out


def test_missing_leaves_are_not_errors_and_empty_cells_are_not_scored(tmp_path, framework, commune):
    call(
        "import_assessment",
        self_file(tmp_path, [["1.1", "", "", 1], ["1.2", "", "", 10]]),
        "--framework",
        "FW",
        "--unit",
        "X1",
    )
    call(
        "import_assessment",
        self_file(tmp_path, [["1.2", "", "", None]], "again.xlsx"),
        "--framework",
        "FW",
        "--unit",
        "X1",
    )
    assert scores() == {"1.1": (Decimal("1"), False, "", "", None), "1.2": (None, False, "", "", None)}


def test_csv_workbook_and_user_attribution(tmp_path, framework, district, commune):
    user = make_member(district, Role.APPRAISER, "noivu")  # --user must hold the rights the web asks for
    path = write_csv(tmp_path / "x1.csv", [SELF_HEADER, ["1.1", "", "", "0,5"]], delimiter=";")
    call("import_assessment", path, "--framework", "FW", "--unit", "X1", "--user", "noivu")
    entry = AuditEntry.objects.get(action="self_on_behalf", field="self_points")
    assert entry.actor == user and entry.via == "command" and entry.new_value == "0.5"


def test_every_bad_cell_is_reported_and_nothing_is_saved(tmp_path, framework, commune):
    path = self_file(
        tmp_path,
        [
            ["1.1", "", 1.5, 15],  # row 4
            ["1.2", "", 12, -1],  # row 5
            ["2.1", "", 2, "1,255"],  # row 6
            ["2.2", "", 2, "hai điểm"],  # row 7
            ["9.9", "", 1, 1],  # row 8
            ["1.1", "", 1.5, 1],  # row 9: duplicate
            ["Tổng cộng", "", 100, 50],  # not a code: a total line, ignored
        ],
    )
    err, error = call_failing("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert Assessment.objects.count() == 0 and Score.objects.count() == 0
    for expected in (
        "x1.xlsx [Sheet1] D4 (tiêu chí 1.1): 15 lớn hơn điểm tối đa 1,5",
        "x1.xlsx [Sheet1] D5 (tiêu chí 1.2): -1 là số âm; điểm không được âm.",
        "x1.xlsx [Sheet1] D6 (tiêu chí 2.1): 1,255 có quá hai chữ số thập phân.",
        "x1.xlsx [Sheet1] D7: “hai điểm” không phải là số.",
        "x1.xlsx [Sheet1] A8: Tiêu chí 9.9 không có trong bộ chỉ số FW.",
        "x1.xlsx [Sheet1] A9: Mã 1.1 xuất hiện hai lần (lần đầu ở dòng 4).",
        "x1.xlsx [Sheet1] D4 (criterion 1.1): 15 is more than the maximum 1.5",
        "x1.xlsx [Sheet1] D6 (criterion 2.1): 1.255 has more than two decimals.",
    ):
        assert expected in err
    assert "6 lỗi" in str(error)


def test_the_spec_example_message(tmp_path, district, commune):
    make_framework(district, rows=rows_from_spec([("1", 13.5)]), code="ONE")
    rows = [[f"r{i}"] for i in range(10)] + [SELF_HEADER, ["1", "", 13.5, 15]]
    err, _ = call_failing(
        "import_assessment", write_xlsx(tmp_path / "a.xlsx", rows), "--framework", "ONE", "--unit", "X1"
    )
    assert (
        "D12 (tiêu chí 1): 15 lớn hơn điểm tối đa 13,5" in err
        and "D12 (criterion 1): 15 is more than the maximum 13.5" in err
    )


def test_unit_must_be_named_known_and_of_the_framework_kind(tmp_path, framework, commune):
    path = self_file(tmp_path, [["1.1", "", "", 1]])
    err, _ = call_failing("import_assessment", path, "--framework", "FW")
    assert "Bảng tính không ghi mã đơn vị; hãy chỉ rõ mã đơn vị (--unit)." in err
    err, _ = call_failing("import_assessment", path, "--framework", "FW", "--unit", "NOPE")
    assert "Không có đơn vị mã NOPE." in err
    err, _ = call_failing("import_assessment", path, "--framework", "FW", "--unit", "H")
    assert "Đơn vị H thuộc loại" in err
    assert Assessment.objects.count() == 0


def test_header_block_names_the_unit_and_mismatches_are_refused(tmp_path, framework, commune, other_commune):
    rows = [["Mã đơn vị", "X2"], ["Mã bộ chỉ số", "FW"], ["Năm", 2024], SELF_HEADER, ["1.1", "", "", 1]]
    path = write_xlsx(tmp_path / "x2.xlsx", rows)
    call("import_assessment", path, "--framework", "FW")
    assert scores("X2") == {"1.1": (Decimal("1"), False, "", "", None)}
    err, _ = call_failing("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert "Bảng tính này của đơn vị X2, không phải X1." in err
    rows[1][1], rows[2][1] = "OTHER", 2023
    err, _ = call_failing("import_assessment", write_xlsx(tmp_path / "x.xlsx", rows), "--framework", "FW")
    assert "Bảng tính này thuộc bộ chỉ số OTHER, không phải FW." in err
    assert "Bảng tính này của năm 2023, nhưng bộ chỉ số FW là của năm 2024." in err


def test_published_framework_refuses_imports(tmp_path, framework, commune):
    walk_and_publish(
        framework=framework, decision_number="4769/QĐ-UBND", decision_date=datetime.date(2024, 12, 21)
    )
    err, _ = call_failing(
        "import_assessment", self_file(tmp_path, [["1.1", "", "", 1]]), "--framework", "FW", "--unit", "X1"
    )
    assert "Bộ chỉ số FW đã được công bố (quyết định 4769/QĐ-UBND); không thể thay đổi nữa." in err
    assert Score.objects.count() == 0


def test_unknown_framework_and_bad_file(tmp_path, framework, commune):
    _err, error = call_failing("import_assessment", self_file(tmp_path, []), "--framework", "NOPE")
    assert "Không có bộ chỉ số mã NOPE." in str(error)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really")
    err, _ = call_failing("import_assessment", broken, "--framework", "FW", "--unit", "X1")
    assert "broken.xlsx: Bảng tính bị hỏng" in err


def test_submitted_self_assessment_cannot_be_overwritten(tmp_path, framework, commune):
    call("import_assessment", self_file(tmp_path, [["1.1", "", "", 1]]), "--framework", "FW", "--unit", "X1")
    Assessment.objects.update(status=AssessmentStatus.SUBMITTED)
    err, _ = call_failing(
        "import_assessment",
        self_file(tmp_path, [["1.1", "", "", 0.5]], "b.xlsx"),
        "--framework",
        "FW",
        "--unit",
        "X1",
    )
    assert "Bản tự đánh giá của X1 đang ở trạng thái" in err
    assert scores()["1.1"][0] == Decimal("1")


APPRAISAL_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá", "Điểm thẩm định", "Lý do"]


def test_appraisal_stage_reads_appraised_points_and_reasons(tmp_path, framework, commune):
    call(
        "import_assessment",
        self_file(
            tmp_path,
            [
                ["1.1", "", "", 1.5],
                ["1.2", "", "", 12],
                ["2.1", "", "", "KAD"],
                ["2.2", "", "", 2],
                ["4.1", "", "", 1],
                ["5.1", "", "", 0],
            ],
        ),
        "--framework",
        "FW",
        "--unit",
        "X1",
    )
    Assessment.objects.update(status=AssessmentStatus.SUBMITTED)  # only a submitted assessment is appraised
    rows = [
        *TITLE,
        APPRAISAL_HEADER,
        ["1", "", 13.5, "=SUM(D5:D6)", "=SUM(E5:E6)"],
        ["1.1", "", 1.5, 1.5, "1,5"],
        ["1.2", "", 12, 12, "10,5"],  # row 6: no reason
        ["2.2", "", 2, 2, "2,5"],  # row 7: over the max
        ["4.1", "", 2, 1, 1, ""],
        ["5.1", "", 1, 0, 0.5, "Chậm khắc phục"],
    ]
    path = write_xlsx(tmp_path / "tham-dinh.xlsx", rows)
    err, _ = call_failing(
        "import_assessment", path, "--framework", "FW", "--unit", "X1", "--stage", "appraisal"
    )
    assert "F6 (tiêu chí 1.2): Điểm thẩm định 10,5 khác điểm tự đánh giá 12; cần ghi lý do." in err
    assert "E7 (tiêu chí 2.2): 2,5 lớn hơn điểm tối đa 2" in err
    assert all(v[4] is None for v in scores().values())
    rows[5] = ["1.2", "", 12, 12, "10,5", "Thiếu tài liệu kiểm chứng"]
    rows[6] = ["2.2", "", 2, 2, 2]
    # 2.1 was proposed not applicable: the assessment is appraised only once that is decided too
    rows[len(TITLE)] = [*APPRAISAL_HEADER, "Không áp dụng (thẩm định)"]
    rows.append(["2.1", "", 1, "KAD", None, "Xã không có chợ", "Xác nhận"])
    path = write_xlsx(tmp_path / "tham-dinh.xlsx", rows)
    call("import_assessment", path, "--framework", "FW", "--unit", "X1", "--stage", "appraisal")
    assert Score.objects.get(criterion__code="2.1").appraised_not_applicable is True
    result = scores()
    assert result["1.2"][4] == Decimal("10.5") and result["5.1"][4] == Decimal("0.5")
    assert Score.objects.get(criterion__code="1.2").appraisal_reason == "Thiếu tài liệu kiểm chứng"
    assert Assessment.objects.get().status == AssessmentStatus.APPRAISED  # every applicable leaf appraised


def test_appraisal_header_is_required_in_the_appraisal_stage(tmp_path, framework, commune):
    err, _ = call_failing(
        "import_assessment",
        self_file(tmp_path, [["1.1", "", "", 1]]),
        "--framework",
        "FW",
        "--unit",
        "X1",
        "--stage",
        "appraisal",
    )
    assert "'Điểm thẩm định'" in err


def test_numbers_stored_by_excel_as_floats_stay_exact(tmp_path, framework, commune):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(SELF_HEADER)
    ws.append(["1.2", "", 12, 0.1 + 0.2])  # stored with 15 significant digits, as Excel does: 0.3
    ws.append(["1.1", "", 1.5, 1.45])
    wb.save(tmp_path / "f.xlsx")
    call("import_assessment", tmp_path / "f.xlsx", "--framework", "FW", "--unit", "X1")
    assert scores()["1.2"][0] == Decimal("0.3") and scores()["1.1"][0] == Decimal("1.45")


def test_preview_lists_old_and_new_points(tmp_path, framework, commune):
    from parindex.numbers import NOT_APPLICABLE
    from scoring.exchange.importers import assessment_preview, read_assessment

    call(
        "import_assessment",
        self_file(tmp_path, [["1.1", "", "", 1], ["1.2", "", "", 10]]),
        "--framework",
        "FW",
        "--unit",
        "X1",
    )
    data = read_assessment(
        self_file(tmp_path, [["1.1", "", "", "1,5"], ["1.2", "", "", 10], ["2.1", "", "", "KAD"]], "b.xlsx"),
        framework=framework,
        unit_code="X1",
    )
    assert [(line.code, line.old, line.new) for line in assessment_preview(data)] == [
        ("1.1", Decimal("1"), Decimal("1.5")),
        ("2.1", None, NOT_APPLICABLE),
    ]
    assert scores()["1.1"][0] == Decimal("1")  # reading and previewing save nothing


def with_cached_value(path, cell: str, cached: str):
    """Give a formula cell the cached value Excel would have stored (openpyxl writes none)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start = sheet.index(f'<c r="{cell}"')
    end = sheet.index("</c>", start)
    parts["xl/worksheets/sheet1.xml"] = (sheet[:end] + f"<v>{cached}</v>" + sheet[end:]).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_formulas_in_points_evidence_and_notes_are_refused_never_evaluated(tmp_path, framework, commune):
    # Decision: a formula in a cell that is stored is refused, even when Excel cached a plausible value:
    # the cached value is whatever the file says, and a formula written by a program has none (it would
    # read as blank and clear a score). Subtotal formulas in parent rows are ignored, as before.
    path = self_file(
        tmp_path,
        [
            ["1", "Chỉ đạo", 13.5, "=SUM(D5:D6)"],
            ["1.1", "Kế hoạch", 1.5, "=1+0.5"],
            ["1.2", "Báo cáo", 12, 11, '=HYPERLINK("file:///etc/passwd","QĐ 5")', "=A1"],
            ["2.1", "Văn bản", 2, 1],
        ],
    )
    with_cached_value(path, "D5", "1.5")
    err, _ = call_failing("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert "D5: Ô này chứa công thức; ở đây không nhận công thức. Hãy nhập trực tiếp giá trị." in err
    assert "E6: Ô này chứa công thức" in err and "F6: Ô này chứa công thức" in err
    assert "D4" not in err and "D7" not in err
    assert "D5: The cell holds a formula; formulas are not accepted here. Type the value itself." in err
    assert Assessment.objects.count() == 0 and Score.objects.count() == 0


def test_hyperlinks_are_never_followed_or_stored(tmp_path, framework, commune):
    path = tmp_path / "link.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [*TITLE, SELF_HEADER, ["1.1", "", 1.5, 1, "Quyết định 12"]]:
        ws.append(row)
    ws["E4"].hyperlink = "file:///etc/passwd"
    ws["D4"].hyperlink = "http://example.invalid/?steal"
    wb.save(path)
    call("import_assessment", path, "--framework", "FW", "--unit", "X1")
    score = Score.objects.get(criterion__code="1.1")
    assert (score.self_points, score.evidence_reference) == (Decimal("1"), "Quyết định 12")
    assert "passwd" not in str(list(Score.objects.values())) and "example.invalid" not in str(
        list(AuditEntry.objects.values())
    )


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"PK\x03\x04" + b"\x00" * 300, "bị hỏng"),
        ("Mã,Điểm\n1,2\n".encode(), "không phải bảng tính Excel"),
        (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 600, "tệp Excel cũ (.xls)"),
    ],
)
def test_refused_files_save_nothing_and_show_no_traceback(tmp_path, framework, commune, content, expected):
    path = tmp_path / "x1.xlsx"
    path.write_bytes(content)
    err, error = call_failing("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert expected in err and "Traceback" not in err
    assert Assessment.objects.count() == 0 and Score.objects.count() == 0


def test_unexpected_error_inside_the_importer_is_a_clean_problem(tmp_path, framework, commune, monkeypatch):
    from scoring.exchange import importers

    def explode(*args, **kwargs):
        raise ZeroDivisionError("internal")

    monkeypatch.setattr(importers, "_number_problem", explode)
    with pytest.raises(importers.SpreadsheetError) as info:
        importers.read_assessment(
            self_file(tmp_path, [["1.1", "", "", 1]]), framework=framework, unit_code="X1"
        )
    assert "Không đọc được tệp" in info.value.messages[0] and "internal" not in info.value.messages[0]


def test_billion_laughs_upload_is_a_clean_refusal_not_a_hang(tmp_path, framework, commune):
    import time
    import zipfile

    from .test_spreadsheets import BILLION_LAUGHS, rewrite_member

    path = self_file(tmp_path, [["1.1", "", "", 1]])

    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode().split("?>", 1)[-1]
    sheet = sheet.replace(
        "<sheetData>", '<sheetData><row r="9"><c r="A9" t="inlineStr"><is><t>&lol9;</t></is></c></row>', 1
    )
    rewrite_member(path, "xl/worksheets/sheet1.xml", BILLION_LAUGHS + sheet)
    started = time.monotonic()
    err, _ = call_failing("import_assessment", path, "--framework", "FW", "--unit", "X1")
    assert time.monotonic() - started < 3
    assert "Không đọc được tệp: tệp bị hỏng" in err and "Traceback" not in err and "Entities" not in err
    assert Assessment.objects.count() == 0
