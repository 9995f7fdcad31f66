"""One reader per question: the ranking (scoring.results.selectors.ranking) and the criteria tree
(scoring.frameworks.selectors.criteria_tree / assessment_sheet) read the same way by every page, export,
workbook and command, in a constant number of queries."""

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports import selectors as dashboard_selectors
from reports.report_workbook import SHEET_RANKING, build_workbook
from scoring.access import reach
from scoring.assessments.selectors import assessment_sheet
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    evidence_add,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.exchange.workbooks import HEADER_ROW, assessment_workbook
from scoring.frameworks.selectors import criteria_tree
from scoring.models import AssessmentResult, Criterion, Score
from scoring.results.engine import results_recompute
from scoring.results.selectors import ranking
from units.models import Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .test_dashboards import TREE, bulk_units, bulk_year

# Three levels, an area that is a leaf itself, a survey area, and a bonus area.
DEEP_TREE = [
    ("1", 30),
    ("1.1", 20),
    ("1.1.1", 12.5),
    ("1.1.2", 7.5),
    ("1.2", 10),
    ("2", 10),
    ("3", 60),
    ("3.1", 25),
    ("3.2", 35),
    ("3.2.1", 15),
    ("3.2.2", 20),
    ("4", 20, "score", "survey"),
    ("4.1", 20, "score", "survey"),
    ("5", 2, "bonus"),
    ("5.1", 1, "bonus"),
    ("5.2", 1, "bonus"),
]


def _queries(read) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        value = read()
    return len(ctx.captured_queries), value


# --- the ranking ---------------------------------------------------------------------------------------


@pytest.fixture
def two_years(district, commune, other_commune):
    """2023 and 2024 of district H: X1, X2 and eight more communes; 2024 appraised, with a tie."""
    units = [commune, other_commune, *bulk_units(district, 8, "C")]
    before = make_framework(district, rows=rows_from_spec(TREE), year=2023, code="XA-2023")
    bulk_year(before, units, seed=3)
    framework = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-2024")
    bulk_year(framework, units, seed=4)
    # Make the last two units tie on the index: same points everywhere.
    last = list(AssessmentResult.objects.filter(framework=framework).order_by("rank")[8:])
    template = {s.criterion_id: s for s in Score.objects.filter(assessment_id=last[0].assessment_id)}
    for score in Score.objects.filter(assessment_id=last[1].assessment_id):
        score.self_points, score.appraised_points = (
            template[score.criterion_id].self_points,
            template[score.criterion_id].appraised_points,
        )
        score.save(update_fields=["self_points", "appraised_points"])
    results_recompute(framework)
    return before, framework


def _rank_of(text: str) -> int | None:
    return int(text.split("/")[0].split()[-1]) if text else None  # "1/8", "hạng 1/8"


def test_every_reader_of_the_ranking_gives_the_same_rows(two_years, client, leader):
    before, framework = two_years
    expected = [(line.unit_code, line.rank, line.index, line.grade) for line in ranking(framework)]
    assert len(expected) == 10 and len({rank for _code, rank, _index, _grade in expected}) < 10  # ties

    out = io.StringIO()
    call_command("ranking", "--framework", framework.code, "--format", "json", stdout=out)
    command = [
        (item["unit_code"], item["rank"], D(item["index"]), item["grade"])
        for item in json.loads(out.getvalue())
    ]

    client.force_login(leader)
    page = [
        (row.unit_code, row.rank, row.index, row.grade)
        for row in client.get(f"/dashboards/?framework={framework.code}").context["rows"]
    ]

    text = client.get(f"/dashboards/frameworks/{framework.code}/ranking.csv?sep=,").content.decode(
        "utf-8-sig"
    )
    exported_csv = [
        (row[1], _rank_of(row[0]), D(row[5]), row[6]) for row in list(csv.reader(io.StringIO(text)))[1:]
    ]

    sheet = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/dashboards/frameworks/{framework.code}/ranking.xlsx").content)
    ).active
    exported_xlsx = [
        (row[1], _rank_of(row[0]), D(str(row[5])).quantize(D("0.01")), row[6])
        for row in sheet.iter_rows(min_row=5, values_only=True)
    ]

    stream = io.BytesIO()
    build_workbook(framework, before).save(stream)
    report = openpyxl.load_workbook(stream)[SHEET_RANKING]
    header = [cell.value for cell in report[1]]
    index, grade = header.index("Chỉ số"), header.index("Xếp loại")
    workbook = [
        (row[1], row[0], D(str(row[index])).quantize(D("0.01")), row[grade])
        for row in report.iter_rows(min_row=2, values_only=True)
        if row[1]  # the units: not the average row
    ]

    assert command == page == exported_csv == exported_xlsx == workbook == expected


def test_ranking_limited_to_some_units_keeps_the_framework_places(two_years, district):
    _before, framework = two_years
    everything = ranking(framework)
    chosen = ["X2", "C0003", "C0007"]
    limited = ranking(framework, units=Unit.objects.filter(code__in=chosen))
    assert [line.unit_code for line in limited] == [
        line.unit_code for line in everything if line.unit_code in chosen
    ]
    by_code = {line.unit_code: line for line in everything}
    for line in limited:
        assert (line.rank, line.index, line.grade, line.areas) == (
            by_code[line.unit_code].rank,
            by_code[line.unit_code].index,
            by_code[line.unit_code].grade,
            by_code[line.unit_code].areas,
        )
    assert limited.ranked == everything.ranked == 10
    # A leader of another district sees nothing of it.
    stranger = make_member(make_unit("H9", kind=UnitKind.DISTRICT, parent=district.parent), Role.LEADER, "h9")
    assert ranking(framework, units=dashboard_selectors.units_shown(reach(stranger))).lines == []


def test_ranking_lines_carry_areas_and_year_on_year(two_years):
    _before, framework = two_years
    line = ranking(framework).lines[0]
    stored = AssessmentResult.objects.get(assessment_id=line.assessment_id)
    assert (line.points, line.max_points, line.previous_points, line.previous_rank, line.rank_change) == (
        stored.points,
        stored.max_points,
        stored.previous_points,
        stored.previous_rank,
        stored.rank_change,
    )
    assert [area.code for area in line.areas] == ["1", "2", "3"]
    assert ranking(framework, with_areas=False).lines[0].areas == []


@pytest.mark.parametrize("limited", [False, True])
def test_ranking_query_count_is_constant(province, limited):
    counts = []
    for n in (3, 30):
        authority = make_unit(f"Q{n}", kind=UnitKind.DISTRICT, parent=province)
        units = bulk_units(authority, n, f"Q{n}-")
        framework = make_framework(authority, rows=rows_from_spec(TREE), year=2024, code=f"Q{n}-2024")
        bulk_year(framework, units, seed=n)
        scope = Unit.objects.filter(path__startswith=authority.path) if limited else None
        queries, lines = _queries(lambda: ranking(framework, units=scope))  # noqa: B023
        assert len(lines) == n and all(len(line.areas) == 3 for line in lines)
        ranked, _value = _queries(lambda: lines.ranked)  # noqa: B023
        without_areas, _lines = _queries(lambda: ranking(framework, units=scope, with_areas=False))  # noqa: B023
        counts.append((queries, ranked, without_areas))
    assert counts == [(2, 1 if limited else 0, 1)] * 2


# --- the criteria tree --------------------------------------------------------------------------------


def _tree_of(areas) -> list[tuple]:
    return [(area.code, [(c.code, c.depth, c.max_points) for c in criteria]) for area, criteria in areas]


@pytest.fixture
def submitted(district, commune, officer):
    framework = make_framework(district, rows=rows_from_spec(DEEP_TREE), year=2024, code="DEEP")
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        actor=officer,
        entries={
            "1.1.1": SelfEntry(D("10")),
            "1.1.2": SelfEntry(D("7.5")),
            "1.2": SelfEntry(D("8")),
            "2": SelfEntry(D("9")),
            "3.1": SelfEntry(D("20")),
            "3.2.1": SelfEntry(D("15")),
            "3.2.2": SelfEntry(None, not_applicable=True, not_applicable_reason="Không có nhiệm vụ này"),
            "5.1": SelfEntry(D("1")),
            "5.2": SelfEntry(D("0")),
        },
    )
    for code in ("1.1.1", "1.1.2", "1.2", "2", "3.1", "3.2.1", "5.1"):
        evidence_add(
            assessment=assessment,
            code=code,
            document_number=f"{code}/QĐ",
            document_date=date(2024, 3, 1),
            actor=officer,
        )
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


def test_self_and_appraisal_pages_show_the_same_tree(client, submitted, officer, appraiser):
    client.force_login(officer)
    self_page = client.get(reverse("scoring:assessment_self", args=[submitted.pk]))
    client.force_login(appraiser)
    appraisal_page = client.get(reverse("scoring:assessment_appraise", args=[submitted.pk]))
    assert self_page.status_code == appraisal_page.status_code == 200

    on_self = _tree_of(
        (block.criterion, [row.criterion for row in block.rows]) for block in self_page.context["areas"]
    )
    on_appraisal = _tree_of(
        (area.area, [row.criterion for row in area.rows]) for area in appraisal_page.context["sheet"].areas
    )
    assert on_self == on_appraisal
    # … and both follow the framework's tree: every criterion once, in order, under its area.
    tree = criteria_tree(submitted.framework)
    assert _tree_of((part.area, part.nodes) for part in tree.areas) == on_self
    shown = [code for area, criteria in on_self for code in dict.fromkeys([area, *(c[0] for c in criteria)])]
    assert shown == [code for code, *_ in DEEP_TREE]
    assert on_self[1] == ("2", [("2", 0, D("10"))])  # an area that is a leaf is its own row

    # The pages render them in that order: area blocks, then the criteria codes within them.
    self_html, appraisal_html = self_page.content.decode(), appraisal_page.content.decode()
    areas = [code for code, _criteria in on_self]
    assert re.findall(r'<details class="area"[^>]* id="area-([^"]+)"', self_html) == areas
    assert re.findall(r'<details class="area" id="area-([^"]+)"', appraisal_html) == areas
    rows = [c[0] for _area, criteria in on_self for c in criteria]
    assert re.findall(r'\bid="c-([^"]+)"', self_html) == rows
    assert (
        re.findall(r'(?:<td data-label="[^"]*">\s*|<td colspan="7">)<b>([^<]+)</b>', appraisal_html) == rows
    )


def test_template_workbook_follows_the_same_tree(submitted):
    ws = assessment_workbook(assessment=submitted).worksheets[0]
    rows = [(r[0], r[2]) for r in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]]
    tree = criteria_tree(submitted.framework)
    assert rows == [(c.code, c.max_points) for c in tree]
    at = {
        row[0]: i
        for i, row in enumerate(ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True), HEADER_ROW + 1)
    }
    assert ws.cell(at["1.1"], 4).value == f"=SUM(D{at['1.1.1']},D{at['1.1.2']})"
    assert ws.cell(at["3"], 4).value == f"=SUM(D{at['3.1']},D{at['3.2']})"
    assert [ws.row_dimensions[at[c.code]].outline_level for c in tree] == [min(c.depth, 7) for c in tree]


def test_criteria_tree_is_one_query(submitted):
    framework = submitted.framework
    queries, tree = _queries(lambda: criteria_tree(framework))
    assert queries == 1
    assert [part.area.code for part in tree.areas] == ["1", "2", "3", "4", "5"]
    assert [area.code for area in tree.scored_areas] == ["1", "2", "3", "4"]  # not the bonus area
    assert [c.code for c in tree.children_of(tree.areas[0].area)] == ["1.1", "1.2"]
    leaf = next(c for c in tree if c.code == "3.2.1")
    assert tree.area_of(leaf).code == "3"
    assert [c.code for c in tree.leaves] == [
        "1.1.1",
        "1.1.2",
        "1.2",
        "2",
        "3.1",
        "3.2.1",
        "3.2.2",
        "4.1",
        "5.1",
        "5.2",
    ]


def _sized(district, commune, officer, appraiser, leaves: int, year: int):
    spec = [
        ("1", leaves),
        *[(f"1.{i}", 1) for i in range(1, leaves + 1)],
        ("2", 5, "score", "survey"),
        ("2.1", 5, "score", "survey"),
    ]
    framework = make_framework(district, rows=rows_from_spec(spec), year=year)
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        actor=officer,
        entries={f"1.{i}": SelfEntry(D("1")) for i in range(1, leaves + 1)},
    )
    for i in range(1, leaves + 1):
        evidence_add(assessment=assessment, code=f"1.{i}", document_number=f"{i}/QĐ", actor=officer)
    assessment_submit(assessment=assessment, actor=officer)
    scores_apply_appraisal(
        assessment=assessment, entries={"1.1": AppraisalEntry(D("0.5"), "Thiếu")}, actor=appraiser
    )
    return assessment


def test_assessment_sheet_query_count_is_constant(district, commune, officer, appraiser):
    counts = []
    for leaves, year in ((3, 2023), (30, 2024)):
        assessment = _sized(district, commune, officer, appraiser, leaves, year)
        queries, sheet = _queries(lambda: assessment_sheet(assessment))  # noqa: B023
        assert len(sheet.leaves) == leaves + 1 and all(
            len(row.evidence) == 1 for row in sheet.leaves[:leaves]
        )
        extra, _ = _queries(lambda: (sheet.result, sheet.rounds))  # noqa: B023
        again, _ = _queries(lambda: (sheet.result, sheet.rounds))  # noqa: B023
        counts.append((queries, extra, again))
    assert counts == [(3, 2, 0), (3, 2, 0)]
    assert Criterion.objects.filter(framework=assessment.framework).count() == 30 + 3
