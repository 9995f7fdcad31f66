"""Uploads in one pass (issue 14, deliverable 4): checking and previewing a workbook opens it once,
reads each sheet once, and reads the criteria and the unit's scores once, whatever the number of
rows filled in."""

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scoring.assessments.services import assessment_get_or_create
from scoring.exchange.uploads import import_start
from scoring.exchange.workbooks import assessment_workbook
from scoring.models import ImportKind, ImportStatus
from units.models import Unit

from .factories import make_framework, make_unit, rows_from_spec

pytestmark = pytest.mark.django_db

LEAVES = 50
SPEC = [("1", 2 * LEAVES)] + [(f"1.{n}", 2) for n in range(1, LEAVES + 1)]


def filled(assessment, rows: int) -> bytes:
    """The unit's template with `rows` leaves given 1.5 points (half of them as comma-decimal text)."""
    workbook = assessment_workbook(assessment=assessment)
    sheet = workbook.worksheets[0]
    header_row = points_col = None
    for row in sheet.iter_rows(min_row=1, max_row=25):
        for cell in row:
            if cell.value == "Điểm tự đánh giá":
                header_row, points_col = cell.row, cell.column
    assert header_row is not None
    given = 0
    for row in range(header_row + 1, sheet.max_row + 1):
        code = str(sheet.cell(row, 1).value or "")
        if code.startswith("1.") and given < rows:
            sheet.cell(row, points_col).value = "1,5" if given % 2 else 1.5
            given += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(SPEC), code="ONE")


def upload(assessment, content):
    return import_start(
        kind=ImportKind.SELF,
        upload=SimpleUploadedFile("tu-danh-gia.xlsx", content),
        actor=None,
        assessment=assessment,
    )


def test_the_workbook_is_opened_once(framework, commune, monkeypatch):
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    content = filled(assessment, 10)
    opened = []
    real = openpyxl.load_workbook

    def counting(*args, **kwargs):
        opened.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counting)
    record = upload(assessment, content)
    assert record.status == ImportStatus.PREVIEW, record.problems
    assert record.preview["changes"] == 10
    assert len(opened) == 1 and opened[0]["read_only"] and opened[0]["data_only"]


def test_formulas_are_still_seen_in_the_one_read(framework, commune):
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    workbook = openpyxl.load_workbook(io.BytesIO(filled(assessment, 3)))
    sheet = workbook.worksheets[0]
    row = next(r for r in sheet.iter_rows() if r[0].value == "1.1")
    row[3].value = "=1+0.5"  # the points of 1.1 as a formula: refused, never evaluated
    buffer = io.BytesIO()
    workbook.save(buffer)
    record = upload(assessment, buffer.getvalue())
    assert record.status == ImportStatus.REFUSED
    assert any("công thức" in problem["vi"] for problem in record.problems), record.problems


def test_queries_do_not_grow_with_the_rows_filled_in(framework, district):
    counts = []
    for rows in (10, 50):
        unit = make_unit(f"R{rows}", parent=district)
        assessment = assessment_get_or_create(unit=Unit.objects.get(pk=unit.pk), framework=framework)
        content = filled(assessment, rows)
        with CaptureQueriesContext(connection) as queries:
            record = upload(assessment, content)
        assert record.status == ImportStatus.PREVIEW, record.problems
        assert record.preview["changes"] == rows
        assert {line["new"] for line in record.preview["lines"]} == {str(Decimal("1.5"))}
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # Criteria, scores, assessment, unit and evidence read once each, plus the record's own writes.
    assert counts[0] <= 12, counts
