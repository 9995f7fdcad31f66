"""Numbers that read right (issue 13, deliverable 6): one difference (appraised − self) with its sign
on pages and in workbooks; places written "1/11" (or "hạng 1/11"), never "01/11"; CSV for Excel in a
Vietnamese locale (";", decimal commas, BOM) or as `?sep=` chooses; formula-like text escaped in CSV
and kept as text in every workbook; `ranking --format csv` stays machine-readable by default."""

import csv
import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation

from parindex.csv_export import EXCEL_VI, PLAIN, csv_dialect, csv_text, escape_formula
from reports.report_workbook import SHEET_APPRAISAL, build_workbook
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.exchange.importers import read_framework_rows
from scoring.exchange.workbooks import assessment_workbook, framework_workbook
from scoring.models import appraisal_difference
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .sheet_files import call

TREE = [("1", 10), ("1.1", 1), ("1.2", 9)]
EVIL_NAME = '=HYPERLINK("http://evil.test","Xã")'


@pytest.fixture
def cut(district, commune, officer, appraiser):
    """1.1 self-assessed 1, appraised 0,75 with a reason: the difference is −0,25. A second unit whose
    name Excel would take for a formula."""
    framework = make_framework(district, rows=rows_from_spec(TREE), code="FWN")
    framework.criteria.filter(code="1.2").update(title="-Tiêu chí có gạch đầu dòng")
    other = make_unit("X9", kind=UnitKind.COMMUNE, parent=district, name=EVIL_NAME)
    make_member(other, Role.OFFICER, "officer_x9")
    for unit, points in ((commune, D("1")), (other, D("0.5"))):
        assessment = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(
            assessment=assessment,
            entries={
                "1.1": SelfEntry(points, evidence_reference="số 1/QĐ"),
                "1.2": SelfEntry(D("9"), evidence_reference="số 2/QĐ"),
            },
        )
        assessment_submit(assessment=assessment)
    mine = framework.assessments.get(unit=commune)
    scores_apply_appraisal(
        assessment=mine,
        entries={"1.1": AppraisalEntry(D("0.75"), reason="Thiếu tài liệu"), "1.2": AppraisalEntry(D("9"))},
        actor=appraiser,
    )
    return framework, mine


def _report(framework, compare=None):
    """The report workbook (write-only) saved and read back."""
    stream = io.BytesIO()
    build_workbook(framework, compare).save(stream)
    return openpyxl.load_workbook(stream)


def test_one_difference_appraised_minus_self_on_the_page_and_in_the_workbook(client, appraiser, cut):
    framework, assessment = cut
    assert appraisal_difference(D("1"), D("0.75")) == D("-0.25")
    assert appraisal_difference(None, D("2")) == D("2") and appraisal_difference(D("1"), None) is None
    client.force_login(appraiser)
    page = client.get(reverse("scoring:assessment_appraise", args=[assessment.pk])).content.decode()
    assert "−0,25" in page and "+0,25" not in page
    sheet = _report(framework)[SHEET_APPRAISAL]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "X1" and r[2] == "1.1")
    assert row[header.index("Chênh lệch")] == D("-0.25")
    # The per-unit summary beside it sums the same differences.
    summary = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if "X1" in r[10:13])
    assert D(str(summary[header.index("Thay đổi do thẩm định")])) == D("-0.25")


def test_places_read_1_of_n_on_pages_and_in_exports(client, appraiser, cut):
    framework, _assessment = cut
    client.force_login(appraiser)
    page = client.get(reverse("reports:dashboard") + "?framework=FWN").content.decode()
    assert ">1/2<" in page and "01/02" not in page
    sheet = openpyxl.load_workbook(
        io.BytesIO(client.get(reverse("reports:ranking_export", args=["FWN", "xlsx"])).content)
    ).active
    assert sheet["A5"].value == "1/2"
    text = client.get(reverse("reports:ranking_export", args=["FWN", "csv"])).content.decode("utf-8")
    assert "hạng 1/2" in text and "01/02" not in text


def test_csv_for_excel_in_a_vietnamese_locale_or_as_chosen(client, appraiser, cut):
    client.force_login(appraiser)
    url = reverse("reports:ranking_export", args=["FWN", "csv"])
    text = client.get(url).content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0][:3] == ["Xếp hạng", "Mã đơn vị", "Đơn vị"]
    by_code = {row[1]: row for row in rows[1:]}
    assert by_code["X1"][3] == "9,75" and by_code["X1"][5] == "97,50"
    # The unit's name Excel would run as a formula is written after a single quote (OWASP).
    assert by_code["X9"][2] == "'" + EVIL_NAME
    chosen = client.get(url + "?sep=,").content.decode("utf-8")
    assert chosen.startswith("\ufeff") and list(csv.reader(io.StringIO(chosen[1:])))[1][3] in ("9.75", "9.50")
    assert csv_dialect("en") == PLAIN and csv_dialect("vi") == EXCEL_VI and csv_dialect("en", ";") == EXCEL_VI
    client.cookies["django_language"] = "en"
    english = client.get(url).content.decode("utf-8")
    translation.activate("vi")
    assert english.splitlines()[0].startswith("\ufeffRank,Unit code,")


def test_the_csv_writer_escapes_formula_like_text_and_writes_numbers_with_the_dialect():
    for text in ("=1+1", "+84 912", "-Xã", "@SUM(A1)", "\tx", "\rx"):
        assert escape_formula(text) == "'" + text
    assert escape_formula("Xã =") == "Xã =" and escape_formula(D("-1.5")) == D("-1.5")
    out = csv_text(["Mã", "Điểm"], [["=cmd", D("-1.5")], ["1.1", D("12.345")]], EXCEL_VI, places={1: 2})
    assert out == "\ufeffMã;Điểm\r\n'=cmd;-1,50\r\n1.1;12,35\r\n"  # numbers are numbers: never escaped


def test_workbooks_keep_formula_like_user_text_as_text(client, appraiser, cut):
    framework, assessment = cut
    client.force_login(appraiser)
    ranking = openpyxl.load_workbook(
        io.BytesIO(client.get(reverse("reports:ranking_export", args=["FWN", "xlsx"])).content)
    ).active
    evil = next(cell for row in ranking.iter_rows() for cell in row if cell.value == EVIL_NAME)
    assert evil.data_type == "s" and evil.quotePrefix
    report = _report(framework)
    cells = [
        cell for ws in report.worksheets for row in ws.iter_rows() for cell in row if cell.value == EVIL_NAME
    ]
    assert cells and all(cell.data_type == "s" and cell.quotePrefix for cell in cells)
    exported = framework_workbook(framework)
    buffer = io.BytesIO()
    exported.save(buffer)
    title = next(
        c for row in exported.active.iter_rows() for c in row if c.value == "-Tiêu chí có gạch đầu dòng"
    )
    assert title.quotePrefix
    assert [row.title for row in read_framework_rows(io.BytesIO(buffer.getvalue()), name="f.xlsx")][2] == (
        "-Tiêu chí có gạch đầu dòng"
    )
    template = assessment_workbook(assessment=assessment).active
    note = next(c for row in template.iter_rows() for c in row if c.value == "-Tiêu chí có gạch đầu dòng")
    assert note.data_type == "s" and note.quotePrefix
    assert any(c.data_type == "f" for row in template.iter_rows() for c in row)  # the subtotals stay formulas


def test_web_framework_csv_follows_the_language_and_reads_back(client, appraiser, cut):
    framework, _assessment = cut
    framework.criteria.filter(code="1.1").update(rule="bands:100=1;90=0,5;0=0")  # ";" and "," inside
    client.force_login(appraiser)
    body = client.get(reverse("scoring:framework_export", args=["FWN"]) + "?format=csv").content
    text = body.decode("utf-8")
    assert text.startswith("\ufeff") and text.splitlines()[0].count(";") == 7
    assert "'-Tiêu chí có gạch đầu dòng" in text
    rows = read_framework_rows(io.BytesIO(body), name="f.csv")
    assert [(r.code, r.title, r.max_points) for r in rows] == [
        ("1", "Tiêu chí 1", D("10")),
        ("1.1", "Tiêu chí 1.1", D("1")),
        ("1.2", "-Tiêu chí có gạch đầu dòng", D("9")),
    ]
    assert rows[1].rule == "bands:100=1;90=0,5;0=0"


def test_the_ranking_command_csv_stays_machine_readable_and_offers_excel(cut):
    out, _ = call("ranking", "--framework", "FWN", "--format", "csv")
    assert not out.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(out)))
    first = rows[0]
    assert (first["rank"], first["unit_code"], first["points"], first["index"]) == (
        "1",
        "X1",
        "9.75",
        "97.50",
    )
    excel, _ = call("ranking", "--framework", "FWN", "--format", "csv", "--sep", ";")
    assert excel.startswith("\ufeff")
    line = list(csv.reader(io.StringIO(excel[1:]), delimiter=";"))[1]
    assert line[:6] == ["1", "X1", "Xã Một", "9,75", "10,00", "97,50"]
