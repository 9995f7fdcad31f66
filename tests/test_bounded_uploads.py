"""Bounded uploads (issue 15, deliverable 3): body cap before reading, row cap, problems cap and
pagination, data after long blank runs, files without data rows refused (commands exit non-zero)."""

import io
import itertools
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from parindex.spreadsheets import Column, Problem, Sheet, SpreadsheetError, find_table, open_spreadsheet
from scoring.exchange.uploads import import_start
from scoring.models import Criterion, Framework, ImportKind, ImportStatus

from .factories import make_framework, rows_from_spec
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_xlsx,
)

pytestmark = pytest.mark.django_db

HEADER = ["Mã", "Tiêu chí", "Điểm tối đa"]
OPTIONS = [
    "--code",
    "FW",
    "--authority",
    "H",
    "--unit-kind",
    "commune",
    "--year",
    "2024",
    "--name",
    "Bộ chỉ số cấp xã 2024",
]
COLUMNS = (Column("code", ("Mã",), required=True), Column("max", ("Điểm tối đa",), required=True))


class NotToBeRead(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the request body was read")

    readline = read


def test_a_big_content_length_is_refused_with_413_before_the_body_is_read(client, officer, settings):
    client.force_login(officer)
    settings.PARINDEX_REQUEST_MAX_BYTES = 11 * 1024 * 1024
    response = client.post(
        reverse("scoring:assessment_upload", args=[1]),
        data=b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(300 * 1024 * 1024),
        **{"wsgi.input": NotToBeRead()},
    )
    assert response.status_code == 413
    text = response.content.decode()
    assert "Yêu cầu quá lớn" in text and "at most 11 MB" in text and "tối đa 11 MB" in text
    assert client.get(reverse("scoring:framework_list")).status_code == 200  # within the cap: served


def test_a_file_with_too_many_rows_is_refused_naming_the_limit(tmp_path, district, settings):
    settings.PARINDEX_MAX_ROWS = 10
    rows = [HEADER] + [[str(i), f"Tiêu chí {i}", "1"] for i in range(1, 13)]
    err, error = call_failing("import_framework", write_xlsx(tmp_path / "big.xlsx", rows), *OPTIONS)
    assert "nhiều hơn 10 dòng dữ liệu" in err and "more than 10 data rows" in err
    assert not Framework.objects.exists()


def test_the_row_cap_stops_reading_at_the_first_row_past_it(settings):
    settings.PARINDEX_MAX_ROWS = 100
    consumed = itertools.count()

    def endless():
        yield ("Mã", "Điểm tối đa")
        while True:
            next(consumed)
            yield ("1", 2)

    table = find_table(Sheet("s", endless()), COLUMNS)
    with pytest.raises(SpreadsheetError) as info:
        list(table.rows())
    assert "(dòng 102 vượt giới hạn)" in info.value.problems[0].render()
    assert next(consumed) <= 102


def test_problems_are_capped_at_200_then_and_n_more():
    error = SpreadsheetError([Problem("Bad %(n)s.", {"n": n}, cell=f"A{n}") for n in range(1, 251)])
    assert error.total == 250 and len(error.problems) == 201
    assert error.problems[199].cell == "A200"
    assert "50" in error.problems[-1].render() and "200" in error.problems[-1].render()
    assert "250" in error.bilingual()


def test_an_upload_keeps_200_problems_and_pages_them(appraiser, client, district, commune):
    framework = make_framework(district, rows=rows_from_spec([("8", 10, "score", "survey")]), code="FW")
    rows = [["Mã đơn vị", "8"]] + [[f"NONE{n}", 1] for n in range(250)]
    buffer = io.BytesIO()
    write_xlsx(buffer, rows)
    record = import_start(
        kind=ImportKind.SURVEY,
        upload=SimpleUploadedFile("survey.xlsx", buffer.getvalue()),
        actor=appraiser,
        framework=framework,
    )
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert len(record.problems) == 201
    assert "và 50 lỗi khác" in record.problems[-1]["vi"]
    assert "and 50 more problems" in record.problems[-1]["en"]
    client.force_login(appraiser)
    url = reverse("scoring:import_detail", args=[record.pk])
    first = client.get(url).content.decode()
    assert "250 lỗi" in first and "NONE0" in first and "NONE60" not in first and "problems_page=2" in first
    last = client.get(url, {"problems_page": 5}).content.decode()
    assert "và 50 lỗi khác" in last and "NONE" not in last


def test_data_after_a_long_blank_run_is_read(tmp_path, district):
    rows = [HEADER, ["1", "Khu vực", "3"], ["1.1", "Con", "1"]] + [[]] * 2500 + [["1.2", "Sau", "2"]]
    path = write_xlsx(tmp_path / "blank.xlsx", rows)
    call("import_framework", path, *OPTIONS)
    assert set(Criterion.objects.values_list("code", flat=True)) == {"1", "1.1", "1.2"}


def test_data_after_formatted_empty_rows_is_read(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["Mã", "Điểm tối đa"], ["1", 2]])
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    body = members["xl/worksheets/sheet1.xml"].decode()
    empty = "".join(f'<row r="{r}" customFormat="1" s="0"/>' for r in range(3, 5003))
    late = '<row r="5003"><c r="A5003" t="inlineStr"><is><t>2</t></is></c><c r="B5003"><v>7</v></c></row>'
    members["xl/worksheets/sheet1.xml"] = body.replace("</sheetData>", empty + late + "</sheetData>").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with open_spreadsheet(path) as book:
        rows = [
            (r.number, r.text("code"), r.get("max")) for r in find_table(book.first_sheet(), COLUMNS).rows()
        ]
    assert rows == [(2, "1", 2), (5003, "2", 7)]


def test_a_file_without_data_rows_is_an_error_and_the_command_fails(
    tmp_path, district, commune, framework_for_survey
):
    err, error = call_failing("import_framework", write_xlsx(tmp_path / "empty.xlsx", [HEADER]), *OPTIONS)
    assert "không có dòng dữ liệu" in err and "no data rows" in err
    err, error = call_failing(
        "import_survey", write_xlsx(tmp_path / "s.xlsx", [["Mã đơn vị", "8"]]), "--framework", "FW2"
    )
    assert "không có dòng dữ liệu" in err and "no data rows" in err
    err, error = call_failing(
        "import_assessment",
        write_xlsx(tmp_path / "a.xlsx", [["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá"]]),
        "--framework",
        "FW2",
        "--unit",
        commune.code,
    )
    assert "không có dòng dữ liệu" in err and "no data rows" in err


@pytest.fixture
def framework_for_survey(district):
    return make_framework(district, rows=rows_from_spec([("8", 10, "score", "survey")]), code="FW2")


def test_a_workbook_without_dimension_is_not_parsed_whole_before_the_row_cap(tmp_path, settings, monkeypatch):
    # A program's write-only workbook has no <dimension>: openpyxl would parse the whole sheet to size
    # it (18 s for 600,000 rows) before the row cap could stop reading at row 5,002.
    from openpyxl.worksheet._reader import WorkSheetParser

    settings.PARINDEX_MAX_ROWS = 100
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["Mã", "Điểm tối đa"])
    for n in range(500):
        sheet.append([str(n), 1])
    path = tmp_path / "program.xlsx"
    book.save(path)

    def whole_sheet_parse(self):
        raise AssertionError("the whole sheet was parsed to find its size")

    monkeypatch.setattr(WorkSheetParser, "parse_dimensions", whole_sheet_parse)
    with open_spreadsheet(path) as opened, pytest.raises(SpreadsheetError) as info:
        list(find_table(opened.first_sheet(), COLUMNS).rows())
    assert "100" in info.value.problems[0].render()
