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

from .sheet_files import (
    vietnamese,  # noqa: F401 (autouse fixture)
    write_csv,
    write_xlsx,
)

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
    path = write_xlsx(
        tmp_path / "t.xlsx",
        [
            ["BẢNG ĐIỂM"],
            [],
            ["Mã đơn vị", "X1"],
            ["MÃ", "điểm TỐI ĐA", "Ghi chú", None, None],
            ["1", 13.5, "a"],
            [],
            [None, None, None],
            ["1.1", "12,5"],
        ],
    )
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
    path = write_csv(
        tmp_path / "t.csv",
        [["code", "max_points"], ["1", "13,5"], ["", ""], ["2", "4"]],
        delimiter=";",
        bom=True,
    )
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
    assert "Không đọc được tệp: tệp bị hỏng" in refused(path)


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
    problem = Problem(
        N_("%(value)s is more than the maximum %(max)s"),
        {"value": Decimal("15"), "max": Decimal("13.5")},
        cell="D14",
    )
    with override("vi"):
        assert problem.render() == "D14: 15 lớn hơn điểm tối đa 13,5"
    with override("en"):
        assert problem.render() == "D14: 15 is more than the maximum 13.5"
    row_problem = Problem(N_("The unit name is missing."), row=7, sheet="Đơn vị")
    assert render_problems([row_problem], "u.xlsx", language="vi") == [
        "u.xlsx [Đơn vị] dòng 7: Thiếu tên đơn vị."
    ]
    assert render_problems([row_problem], "u.xlsx", language="en") == [
        "u.xlsx [Đơn vị] row 7: The unit name is missing."
    ]
    both = render_problems_bilingual([problem, row_problem], "u.xlsx")
    assert both.index("13,5") < both.index("13.5")
    assert "có 2 lỗi" in both and "2 problem(s) found" in both


def test_spreadsheet_error_is_a_validation_error_with_messages():
    error = SpreadsheetError([Problem(N_("The file is empty."))], "a.csv")
    assert isinstance(error, ValidationError)
    with override("vi"):
        assert SpreadsheetError([Problem(N_("The file is empty."))], "a.csv").messages == ["a.csv: Tệp rỗng."]
    assert error.problems[0].message == "The file is empty."


# --- hostile and broken files ------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>"
)


def rewrite_member(path, member: str, text: str):
    """Replace one member of a zip (a workbook part) with other text."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    parts[member] = text.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def read_all(path):
    with open_spreadsheet(path) as book:
        return [list(sheet.rows()) for sheet in book.sheets]


def test_password_protected_workbook_is_named_as_such(tmp_path):
    # An Excel workbook saved with a password is an OLE2 compound file with an "EncryptedPackage"
    # stream (what msoffcrypto-tool writes); the header and the directory entry name are enough here.
    path = tmp_path / "matkhau.xlsx"
    directory_entry = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\x00")
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504 + directory_entry + b"\x00" * 448)
    text = refused(path)
    assert "được đặt mật khẩu" in text and "password-protected" in text and "remove the password" in text


def test_truncated_workbook_is_damaged(tmp_path):
    data = write_xlsx(tmp_path / "t.xlsx", [["Mã", "Điểm tối đa"], ["1", 2]] * 50).read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: len(data) // 2])
    assert "bị hỏng" in refused(path) and "damaged" in refused(path)


def test_zip_with_thousands_of_members_is_refused_before_decompression(tmp_path, monkeypatch):
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(10_001):
            archive.writestr(f"xl/x{i}.xml", "")
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("the archive was opened"))
    assert "giải nén" in refused(path)


UNREADABLE_VI = (
    "Không đọc được tệp: tệp bị hỏng hoặc không được lưu bằng Excel hay LibreOffice. Hãy mở tệp, "
    "lưu lại dưới dạng 'Excel Workbook (.xlsx)' rồi tải lên lại."
)


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/styles.xml"])
def test_billion_laughs_is_stopped_by_defusedxml_with_a_clean_problem(tmp_path, member, caplog):
    path = write_xlsx(tmp_path / "lol.xlsx", [["Mã", "Điểm tối đa"], ["1", "a"]])
    with zipfile.ZipFile(path) as archive:
        original = archive.read(member).decode()
    body = original.split("?>", 1)[1] if original.startswith("<?xml") else original
    # The entity is used inside the part, so expanding it would need about 3 GB.
    body = body.replace(
        "<sheetData>", '<sheetData><row r="9"><c r="A9" t="inlineStr"><is><t>&lol9;</t></is></c></row>', 1
    )
    rewrite_member(path, member, BILLION_LAUGHS + body)
    started = time.monotonic()
    with pytest.raises(SpreadsheetError) as info:
        read_all(path)
    assert time.monotonic() - started < 2
    with override("vi"):
        assert info.value.messages == [UNREADABLE_VI]
    # The cause is logged for developers, not shown: the document type declaration refused before any
    # parser sees it (whether openpyxl would parse the part with lxml or with defusedxml).
    assert "declares a DOCTYPE" in caplog.text


def test_external_entity_is_never_fetched(tmp_path):
    path = write_xlsx(tmp_path / "xxe.xlsx", [["Mã", "Điểm tối đa"]])
    with zipfile.ZipFile(path) as archive:
        body = archive.read("xl/worksheets/sheet1.xml").decode().split("?>", 1)[-1]
    secret = tmp_path / "secret.txt"
    secret.write_text("BÍ MẬT")
    doctype = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    body = body.replace(
        "<sheetData>", '<sheetData><row r="5"><c r="A5" t="inlineStr"><is><t>&xxe;</t></is></c></row>', 1
    )
    rewrite_member(path, "xl/worksheets/sheet1.xml", doctype + body)
    with pytest.raises(SpreadsheetError) as info:
        read_all(path)
    with override("vi"):
        assert info.value.messages == [UNREADABLE_VI]


def test_any_unexpected_error_while_reading_becomes_one_clean_problem(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "t.xlsx", [["Mã", "Điểm tối đa"], ["1", 2]])
    from openpyxl.worksheet import _reader

    def broken(*args, **kwargs):
        raise KeyError("some internal detail")
        yield  # pragma: no cover

    # The parse of a sheet's rows (what the one read of each sheet runs).
    monkeypatch.setattr(_reader.WorkSheetParser, "parse", broken)
    with pytest.raises(SpreadsheetError) as info:
        read_all(path)
    with override("vi"):
        assert info.value.messages == [UNREADABLE_VI]
    assert "some internal detail" not in info.value.messages[0]


def test_formula_cells_are_flagged_and_give_cached_values_never_evaluated(tmp_path):
    path = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Mã", "Điểm tối đa", "Ghi chú"])
    ws.append(["1", "=1+1", '=HYPERLINK("http://example.invalid","xem")'])
    ws.append(["2", "=1+1", "literal"])
    ws["B3"].value = "'=1+1"  # text that merely looks like a formula
    ws["B3"].data_type = "s"
    wb.save(path)
    with open_spreadsheet(path) as book:
        table = find_table(book.first_sheet(), COLUMNS)
        rows = list(table.rows())
    # openpyxl wrote no cached values: a formula reads as blank, and is flagged.
    assert (rows[0].get("max"), rows[0].has_formula("max"), rows[0].has_formula("note")) == (None, True, True)
    assert (rows[1].get("max"), rows[1].has_formula("max")) == ("'=1+1", False)
    assert not rows[0].has_formula("code")


def test_a_million_declared_rows_are_read_quickly(tmp_path):
    # What LibreOffice writes when a whole column was formatted: a row element for every row.
    path = write_xlsx(tmp_path / "million.xlsx", [["Mã", "Điểm tối đa"], ["1", 2]])
    with zipfile.ZipFile(path) as archive:
        body = archive.read("xl/worksheets/sheet1.xml").decode()
    empty_rows = "".join(f'<row r="{r}" customFormat="1" s="0"/>' for r in range(3, 1_048_577))
    body = body.replace("</sheetData>", empty_rows + "</sheetData>").replace(
        '<dimension ref="A1:B2"/>', '<dimension ref="A1:AMJ1048576"/>'
    )
    rewrite_member(path, "xl/worksheets/sheet1.xml", body)
    started = time.monotonic()
    with open_spreadsheet(path) as book:
        rows = list(find_table(book.first_sheet(), COLUMNS).rows())
    assert time.monotonic() - started < 3
    assert [(r.number, r.get("code")) for r in rows] == [(2, "1")]


def test_header_split_over_two_rows_with_merged_cells(tmp_path):
    path = tmp_path / "merged.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "BẢNG ĐIỂM"
    ws.merge_cells("A1:D1")
    ws["A3"], ws["B3"], ws["D3"] = "Mã", "Điểm", "Ghi chú"
    ws["B4"], ws["C4"] = "Điểm tối đa", "Điểm tự đánh giá"
    ws.merge_cells("A3:A4")
    ws.merge_cells("B3:C3")
    ws.merge_cells("D3:D4")
    ws["A5"], ws["B5"] = "1", 3
    wb.save(path)
    with open_spreadsheet(path) as book:
        table = find_table(book.first_sheet(), COLUMNS)
    assert table.header_row == 4 and table.columns == {"code": 0, "max": 1, "note": 3}
    assert [(r.number, r.get("code"), r.get("max")) for r in table.rows()] == [(5, "1", 3)]
