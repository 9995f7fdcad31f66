"""The report workbook says what the annexes say (issue 16, deliverable 3), read back with openpyxl:
the parts of the points with their maxima in the headers, one section per ranking group closed by
its average row, the change columns filled whenever a framework is compared with (also an explicit
one), no provisional column once the framework is published, merged units named by their
predecessors' names; and it is written in one pass, write-only."""

import io
from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.core.management import call_command
from django.db import transaction
from openpyxl import Workbook

from parindex.numbers import round_half_up
from reports import report_workbook
from reports.annex.content import annex_document
from reports.report_workbook import SHEET_RANKING, SHEET_YEARS, build_workbook
from scoring.models import Framework, Unit
from scoring.results.engine import previous_framework
from scoring.results.selectors import ranking

PUBLISHED = "DEMO-DT-XA-2024"
OPEN = "DEMO-XA-2025"
AVERAGE = "Giá trị trung bình"
D = Decimal


@pytest.fixture(scope="module")
def demo_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("load_demo", stdout=StringIO())
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(demo_once, db):
    return {code: Framework.objects.select_related("authority").get(code=code) for code in (PUBLISHED, OPEN)}


def read_back(framework, compare=None):
    stream = io.BytesIO()
    build_workbook(framework, compare).save(stream)
    return openpyxl.load_workbook(stream)


def table(ws):
    header = [cell.value for cell in ws[1]]
    return header, list(ws.iter_rows(min_row=2, values_only=True))


def by_header(header, row):
    return dict(zip(header, row, strict=False))


def test_parts_with_their_maxima_as_in_the_annex(demo):
    framework = demo[OPEN]
    header, _rows = table(read_back(framework)[SHEET_RANKING])
    annex = annex_document(framework).tables("annex-1")[0].header
    # Annex: STT | Đơn vị | parts… | Tổng điểm (max) | …; workbook: rank | code | unit | parts… | points (max).
    parts = annex[2:-4]
    assert parts and all(part.endswith(")") for part in parts)
    assert header[3 : 3 + len(parts)] == parts
    assert header[3 + len(parts)] == "Điểm " + annex[-4].removeprefix("Tổng điểm ")


def test_one_section_per_group_closed_by_its_average(demo):
    framework = demo[OPEN]
    header, rows = table(read_back(framework)[SHEET_RANKING])
    groups = ranking(framework).groups()
    assert len(groups) == 2
    points, index, code = header.index("Điểm (100)"), header.index("Chỉ số"), header.index("Mã đơn vị")
    sections: list[tuple[str, list, tuple]] = []
    for row in rows:
        if row[0] and str(row[0]).startswith("Nhóm xếp hạng: "):
            sections.append((row[0].removeprefix("Nhóm xếp hạng: "), [], ()))
        elif row[2] == AVERAGE:
            name, units, _average = sections[-1]
            sections[-1] = (name, units, row)
        elif row[code]:
            sections[-1][1].append(row)
    assert [(name, [r[code] for r in units]) for name, units, _a in sections] == [
        (name, [line.unit_code for line in lines]) for name, lines in groups
    ]
    for _name, units, average in sections:
        placed = [r for r in units if r[0] is not None]
        assert placed
        expected = round_half_up(sum(D(str(r[points])) for r in placed) / len(placed), 2)
        assert D(str(average[points])) == expected
        expected = round_half_up(
            sum(D(str(r[index])) for r in placed) / len(placed), framework.index_decimals
        )
        assert D(str(average[index])) == expected


def test_an_explicit_comparison_fills_the_change_columns_of_the_ranking(demo):
    current, previous = demo[OPEN], demo[PUBLISHED]
    assert previous_framework(current) != previous  # the figures are derived, not the stored ones
    wb = read_back(current, previous)
    header, rows = table(wb[SHEET_RANKING])
    ranked = {r[1]: by_header(header, r) for r in rows if r[1]}
    years_header, years_rows = table(wb[SHEET_YEARS])
    years = {r[1]: by_header(years_header, r) for r in years_rows if r[1]}
    assert set(ranked) == set(years)
    for code, row in ranked.items():
        assert row["Tăng/giảm điểm"] == years[code]["Tăng/giảm điểm"]
        assert row["Tăng/giảm chỉ số"] == years[code]["Tăng/giảm chỉ số"]
        assert row["Tăng/giảm bậc"] == years[code]["Tăng/giảm bậc"]
    # The places moved are filled (the bug: empty in the ranking, filled in the year sheet).
    assert any(row["Tăng/giảm bậc"] is not None for row in ranked.values())


def test_no_provisional_column_once_published(demo):
    header, _rows = table(read_back(demo[PUBLISHED])[SHEET_RANKING])
    assert "Tạm tính" not in header
    header, _rows = table(read_back(demo[OPEN])[SHEET_RANKING])
    assert "Tạm tính" in header


def test_merged_units_are_compared_with_their_predecessors_by_name(demo):
    current, previous = demo[OPEN], demo[PUBLISHED]
    header, rows = table(read_back(current, previous)[SHEET_YEARS])
    column = header.index("So sánh với")
    p01 = next(row for row in rows if row[1] == "P01")
    predecessors = Unit.objects.get(code="P01").predecessors.order_by("code")
    assert p01[column] == "; ".join(unit.name for unit in predecessors)
    codes = set(Unit.objects.values_list("code", flat=True))
    assert not any(part in codes for row in rows if row[column] for part in row[column].split("; "))


def test_formula_like_names_stay_text_in_every_sheet(demo):
    framework = demo[OPEN]
    Unit.objects.filter(code="X05").update(name='=HYPERLINK("http://x")')
    wb = read_back(framework)
    cells = [
        cell
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.value == '=HYPERLINK("http://x")'
    ]
    assert len(cells) >= 3 and all(cell.data_type == "s" and cell.quotePrefix for cell in cells)


def test_written_write_only_in_one_pass(demo, monkeypatch):
    made = []
    real = report_workbook.Workbook

    def spy(*args, **kwargs):
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(report_workbook, "Workbook", spy)
    wb = build_workbook(demo[OPEN])
    assert made == [{"write_only": True}]
    assert isinstance(wb, Workbook) and wb.write_only
    wb.save(io.BytesIO())  # a write-only workbook is saved once, its rows already streamed out
