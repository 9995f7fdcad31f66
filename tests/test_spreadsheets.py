import itertools
import time
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import override

from parindex.spreadsheets import (
    N_,
    Column,
    Problem,
    Sheet,
    SpreadsheetError,
    find_table,
    normalize_name,
    open_spreadsheet,
    preamble_value,
    render_problems,
    render_problems_bilingual,
)

from .sheet_files import write_csv, write_xlsx

COLUMNS = (
    Column("code", ("Mã", "code"), required=True),
    Column("max", ("Điểm tối đa", "max_points"), required=True),
    Column("note", ("Ghi chú", "note")),
)


def refused(path_or_file) -> str:
    with pytest.raises(SpreadsheetError) as info:
        open_spreadsheet(path_or_file)
    assert isinstance(info.value, ValidationError)
    assert len(info.value.problems) == 1
    with override("vi"):
        vi = info.value.problems[0].render()
    with override("en"):
        en = info.value.problems[0].render()
    return vi + " | " + en


def test_openpyxl_uses_defusedxml():
    # openpyxl parses workbook XML through defusedxml when it is installed (entity expansion,
    # external entities); it is a dependency of ParIndex and must stay one.
    assert openpyxl.DEFUSEDXML is True


def test_normalize_name_ignores_case_accents_and_spacing():
    assert normalize_name("  ĐIỂM tối  đa ") == normalize_name("diem toi da") == "diem toi da"
    assert normalize_name("max_points") == "max points"
    assert normalize_name("Mã") != normalize_name("Mã đơn vị")


def test_xlsx_header_below_title_rows_blank_rows_skipped(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", [
        ["BẢNG ĐIỂM"],
        [],
        ["Mã đơn vị", "X1"],
        ["MÃ", "điểm TỐI ĐA", "Ghi chú", None, None],
        ["1", 13.5, "a"],
        [],
        [None, None, None],
        ["1.1", "12,5"],
    ])
    with open_spreadsheet(path) as book:
        table = find_table(book.first_sheet(), COLUMNS, file_name=book.name)
        assert table.header_row == 4
        assert table.columns == {"code": 0, "max": 1, "note": 2}
        assert preamble_value(table, "Mã đơn vị") == "X1"
        rows = list(table.rows())
    assert [(r.number, r.get("code"), r.get("max"), r.get("note")) for r in rows] == [
        (5, "1", 13.5, "a"),
        (8, "1.1", "12,5", None),
    ]
    assert rows[1].cell("max") == "B8"


def test_english_aliases_and_csv_with_bom_and_semicolons(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["code", "max_points"], ["1", "13,5"], ["", ""], ["2", "4"]],
                     delimiter=";", bom=True)
    with open_spreadsheet(path) as book:
        assert book.is_csv
        table = find_table(book.first_sheet(), COLUMNS)
        assert [(r.text("code"), r.text("max")) for r in table.rows()] == [("1", "13,5"), ("2", "4")]


def test_csv_with_commas_keeps_quoted_decimal_commas(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["Mã", "Điểm tối đa", "Ghi chú"], ["1", "13,5", "a; b"]])
    with open_spreadsheet(path) as book:
        rows = list(find_table(book.first_sheet(), COLUMNS).rows())
    assert rows[0].text("max") == "13,5" and rows[0].text("note") == "a; b"


def test_uploaded_file_object_is_read(tmp_path):
    data = write_xlsx(tmp_path / "t.xlsx", [["Mã", "Điểm tối đa"], ["1", 2]]).read_bytes()
    upload = SimpleUploadedFile("diem.xlsx", data)
    with open_spreadsheet(upload) as book:
        assert book.name == "diem.xlsx"
        assert [r.get("code") for r in find_table(book.first_sheet(), COLUMNS).rows()] == ["1"]


def test_missing_header_is_a_problem_naming_the_columns(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", [["Tên", "Điểm"], ["a", 1]])
    with open_spreadsheet(path) as book, pytest.raises(SpreadsheetError) as info:
        find_table(book.first_sheet(), COLUMNS, file_name=book.name)
    with override("vi"):
        text = info.value.problems[0].render("t.xlsx")
    assert "Không tìm thấy dòng tiêu đề" in text and "'Mã'" in text and "20" in text


def test_header_beyond_row_20_is_not_found(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", [[f"dòng {i}"] for i in range(21)] + [["Mã", "Điểm tối đa"]])
    with open_spreadsheet(path) as book, pytest.raises(SpreadsheetError):
        find_table(book.first_sheet(), COLUMNS)


def test_rows_stop_after_a_long_run_of_blank_rows():
    # LibreOffice may declare a million formatted rows; an endless supply of blank rows must end.
    rows = itertools.chain([("a",)], [(None, "  ")] * 10, [("b", None, None)], itertools.repeat(()))
    assert list(Sheet("s", rows).rows()) == [(1, ("a",)), (12, ("b",))]


def test_refuses_too_large_file(tmp_path, settings):
    settings.PARINDEX_UPLOAD_MAX_BYTES = 1000
    path = tmp_path / "big.csv"
    path.write_text("Mã,Điểm tối đa\n" + "1,2\n" * 500)
    text = refused(path)
    assert "MB" in text and "tối đa" in text and "at most" in text


def test_refuses_too_large_upload_without_reading_it(settings):
    settings.PARINDEX_UPLOAD_MAX_BYTES = 10
    assert "at most" in refused(SimpleUploadedFile("a.xlsx", b"PK\x03\x04" + b"x" * 100))


def test_refuses_empty_file(tmp_path):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert "Tệp rỗng" in refused(path)


def test_refuses_renamed_text_file(tmp_path):
    path = tmp_path / "scores.xlsx"
    path.write_text("Mã,Điểm tối đa\n1,2\n", encoding="utf-8")
    text = refused(path)
    assert "không phải bảng tính Excel" in text and "renamed" in text


def test_refuses_old_xls_and_password_protected_workbooks(tmp_path):
    path = tmp_path / "old.xlsx"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 600)
    text = refused(path)
    assert "tệp Excel cũ (.xls)" in text and "password" in text
    path2 = tmp_path / "old.xls"
    path2.write_bytes(path.read_bytes())
    assert ".xls" in refused(path2)


def test_refuses_corrupt_zip(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    assert "bị hỏng" in refused(path)


def test_refuses_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "không phải bảng tính Excel" in refused(path)


def test_refuses_workbook_whose_xml_is_broken(tmp_path):
    path = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("xl/workbook.xml", "not xml")
    assert "Không đọc được bảng tính" in refused(path)


def test_refuses_zip_bomb_by_declared_size_without_decompressing(tmp_path, monkeypatch):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(200):
                member.write(chunk)
    assert path.stat().st_size < 2 * 1024 * 1024  # small on disk, 200 MB declared

    def no_decompression(*args, **kwargs):
        raise AssertionError("the bomb was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_decompression)
    monkeypatch.setattr(openpyxl, "load_workbook", no_decompression)
    started = time.monotonic()
    text = refused(path)
    assert time.monotonic() - started < 1
    assert "giải nén" in text and "200 MB" in text


def test_refuses_csv_that_is_not_utf8_and_workbook_named_csv(tmp_path):
    path = tmp_path / "win.csv"
    path.write_bytes("Mã,Tên\n".encode("latin-1"))
    assert "UTF-8" in refused(path)
    book = write_xlsx(tmp_path / "book.xlsx", [["Mã"]])
    renamed = tmp_path / "book.csv"
    renamed.write_bytes(book.read_bytes())
    assert ".xlsx" in refused(renamed)


def test_problem_renders_in_vietnamese_and_english_with_local_decimals():
    problem = Problem(N_("%(value)s is more than the maximum %(max)s"), {"value": Decimal("15"), "max": Decimal("13.5")},
                      cell="D14")
    with override("vi"):
        assert problem.render() == "D14: 15 lớn hơn điểm tối đa 13,5"
    with override("en"):
        assert problem.render() == "D14: 15 is more than the maximum 13.5"
    row_problem = Problem(N_("The unit name is missing."), row=7, sheet="Đơn vị")
    assert render_problems([row_problem], "u.xlsx", language="vi") == ["u.xlsx [Đơn vị] dòng 7: Thiếu tên đơn vị."]
    assert render_problems([row_problem], "u.xlsx", language="en") == ["u.xlsx [Đơn vị] row 7: The unit name is missing."]
    both = render_problems_bilingual([problem, row_problem], "u.xlsx")
    assert both.index("13,5") < both.index("13.5")
    assert "có 2 lỗi" in both and "2 problem(s) found" in both


def test_spreadsheet_error_is_a_validation_error_with_messages():
    error = SpreadsheetError([Problem(N_("The file is empty."))], "a.csv")
    assert isinstance(error, ValidationError)
    with override("vi"):
        assert SpreadsheetError([Problem(N_("The file is empty."))], "a.csv").messages == ["a.csv: Tệp rỗng."]
    assert error.problems[0].message == "The file is empty."
