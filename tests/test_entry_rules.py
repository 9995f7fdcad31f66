"""Scoring rules and office leaves through every entry path (DESIGN §2.1, §5): the services, the
self-assessment page (htmx and plain POST), the template round trip, the command (self and appraisal
stages, --submit), the appraisal page and the admin's field-by-field change. Worked figures for a
leaf of max 2: percent 95,5 → 1,91 and 191/200 → 1,91; bands 93 → 1,5; deduct 3 → 0,5; yesno có → 2;
steps 0,73 refused."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from parindex.errors import ServiceError
from parindex.numbers import format_decimal
from scoring.assessments.services import (
    NA_CONFIRM,
    AppraisalEntry,
    NotApplicableDecision,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    not_applicable_apply,
    scores_apply_appraisal,
    scores_apply_fields,
    scores_apply_self,
)
from scoring.models import AssessmentStatus, Score

from .factories import make_framework, rows_from_spec

MAX = 2
TREE = [
    ("1", 12),
    ("1.1", MAX, "score", "self", "percent"),
    ("1.2", MAX, "score", "self", "bands:100=2;90=1,5;80=1;0=0"),
    ("1.3", MAX, "score", "self", "deduct:0,5"),
    ("1.4", MAX, "score", "self", "yesno"),
    ("1.5", MAX, "score", "self", "steps:0;0,5;1"),
    ("1.6", MAX),
    ("2", 4, "score", "office"),
    ("2.1", MAX, "score", "office"),
    ("2.2", MAX, "score", "office", "percent"),
]
EVIDENCE = "QĐ số 12/QĐ-UBND, tr.3"


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def scores(assessment) -> dict[str, Score]:
    return {
        s.criterion.code: s for s in Score.objects.filter(assessment=assessment).select_related("criterion")
    }


def refusal(call) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


def full_self_entries() -> dict[str, SelfEntry]:
    return {
        "1.1": SelfEntry(None, raw="95,5", evidence_reference=EVIDENCE),
        "1.2": SelfEntry(None, raw="93%", evidence_reference=EVIDENCE),
        "1.3": SelfEntry(None, raw="3", evidence_reference=EVIDENCE),
        "1.4": SelfEntry(None, raw="Có", evidence_reference=EVIDENCE),
        "1.5": SelfEntry(D("0.5"), evidence_reference=EVIDENCE),
        "1.6": SelfEntry(None, not_applicable=True, not_applicable_reason="Không có nhiệm vụ này"),
    }


# --- services ----------------------------------------------------------------------------------------


def test_self_raw_figures_give_the_rules_points(assessment, officer):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    stored = scores(assessment)
    assert {code: (s.self_raw, s.self_points) for code, s in stored.items() if code != "1.6"} == {
        "1.1": ("95,5", D("1.91")),
        "1.2": ("93%", D("1.5")),
        "1.3": ("3", D("0.5")),
        "1.4": ("Có", D("2")),
        "1.5": ("", D("0.5")),
    }
    assert stored["1.6"].not_applicable and stored["1.6"].not_applicable_reason == "Không có nhiệm vụ này"
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(None, raw="191/200")}, actor=officer)
    assert (scores(assessment)["1.1"].self_raw, scores(assessment)["1.1"].self_points) == (
        "191/200",
        D("1.91"),
    )


def test_self_refusals_name_criterion_and_field(assessment, officer):
    error = refusal(
        lambda: scores_apply_self(
            assessment=assessment,
            entries={
                "1.1": SelfEntry(D("1.91")),  # typed points on a percent leaf
                "1.2": SelfEntry(None, raw="abc"),
                "1.5": SelfEntry(D("0.73")),
                "1.6": SelfEntry(None, not_applicable=True),  # no reason
                "2.1": SelfEntry(D("1")),  # office leaf
            },
            actor=officer,
        )
    )
    found = {(e.criterion, e.field) for e in error.all()}
    assert found == {
        ("1.1", "self_points"),
        ("1.2", "raw"),
        ("1.5", "self_points"),
        ("1.6", "not_applicable_reason"),
        ("2.1", "self_points"),
    }
    texts = {e.criterion: e.text("vi") for e in error.all()}
    assert texts["1.5"] == "0,73 không thuộc các mức 0; 0,5; 1."
    assert "0.73 is not one of the levels 0; 0.5; 1." in error.all()[
        [e.criterion for e in error.all()].index("1.5")
    ].text("en")
    assert Score.objects.filter(assessment=assessment).count() == 0  # all or nothing


def test_points_leaf_refuses_a_raw_figure(assessment, officer):
    error = refusal(
        lambda: scores_apply_self(
            assessment=assessment, entries={"1.6": SelfEntry(None, raw="95")}, actor=officer
        )
    )
    assert (error.criterion, error.field) == ("1.6", "raw")


def test_not_applicable_reason_falls_back_to_the_note(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={"1.6": SelfEntry(None, not_applicable=True, note="Xã không có nhiệm vụ")},
        actor=officer,
    )
    assert scores(assessment)["1.6"].not_applicable_reason == "Xã không có nhiệm vụ"


def submitted(assessment, officer):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


def test_office_leaf_is_refused_to_the_unit_and_taken_by_the_appraiser(assessment, officer, appraiser):
    error = refusal(
        lambda: scores_apply_self(
            assessment=assessment, entries={"2.2": SelfEntry(None, raw="50")}, actor=officer
        )
    )
    assert (error.criterion, error.field) == ("2.2", "self_points")
    assert "cơ quan" in error.text("vi") and "by the office" in error.text("en")
    submitted(assessment, officer)
    scores_apply_appraisal(
        assessment=assessment,
        entries={"2.1": AppraisalEntry(D("1.5")), "2.2": AppraisalEntry(None, raw="191/200")},
        actor=appraiser,
    )
    stored = scores(assessment)
    assert (stored["2.1"].appraised_points, stored["2.1"].self_points) == (D("1.5"), None)
    assert (stored["2.2"].appraised_raw, stored["2.2"].appraised_points) == ("191/200", D("1.91"))


def test_appraisal_takes_raw_figures_and_wants_a_reason_for_a_difference(assessment, officer, appraiser):
    submitted(assessment, officer)
    error = refusal(
        lambda: scores_apply_appraisal(
            assessment=assessment,
            entries={"1.3": AppraisalEntry(None, raw="4"), "1.1": AppraisalEntry(D("1.91"))},
            actor=appraiser,
        )
    )
    assert {(e.criterion, e.field) for e in error.all()} == {
        ("1.3", "appraisal_reason"),
        ("1.1", "appraised_points"),
    }
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            "1.3": AppraisalEntry(None, raw="4", reason="Thêm 1 báo cáo trễ"),
            "1.1": AppraisalEntry(None, raw="95,5"),
        },
        actor=appraiser,
    )
    stored = scores(assessment)
    assert (stored["1.3"].appraised_raw, stored["1.3"].appraised_points) == ("4", D("0"))
    assert stored["1.1"].appraised_points == D("1.91")


def test_marked_appraised_only_once_office_leaves_are_scored(assessment, officer, appraiser):
    submitted(assessment, officer)
    own = scores(assessment)
    scores_apply_appraisal(
        assessment=assessment,
        entries={
            code: AppraisalEntry(None, raw=s.self_raw) if s.self_raw else AppraisalEntry(s.self_points)
            for code, s in own.items()
            if not s.not_applicable
        },
        actor=appraiser,
    )
    # The unit's not-applicable proposals are decided too: only the office leaves are left open.
    proposals = {code: NotApplicableDecision(NA_CONFIRM) for code, s in own.items() if s.not_applicable}
    if proposals:
        not_applicable_apply(assessment=assessment, decisions=proposals, actor=appraiser)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED
    scores_apply_appraisal(
        assessment=assessment,
        entries={"2.1": AppraisalEntry(D("2")), "2.2": AppraisalEntry(None, raw="100")},
        actor=appraiser,
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.APPRAISED


def test_admin_field_changes_go_through_the_rules(assessment, officer, appraiser):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    scores_apply_fields(assessment=assessment, changes={"1.1": {"self_raw": "191/200"}}, actor=appraiser)
    assert scores(assessment)["1.1"].self_points == D("1.91")
    scores_apply_fields(assessment=assessment, changes={"1.2": {"note": "Đã rà soát"}}, actor=appraiser)
    assert (scores(assessment)["1.2"].self_points, scores(assessment)["1.2"].note) == (D("1.5"), "Đã rà soát")
    error = refusal(
        lambda: scores_apply_fields(
            assessment=assessment, changes={"1.3": {"self_points": D("2")}}, actor=appraiser
        )
    )
    assert (error.criterion, error.field) == ("1.3", "self_points")
    error = refusal(
        lambda: scores_apply_fields(
            assessment=assessment, changes={"1.5": {"self_points": D("0.73")}}, actor=appraiser
        )
    )
    assert error.text("vi") == "0,73 không thuộc các mức 0; 0,5; 1."


# --- self-assessment page --------------------------------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}


def row_url(assessment, code):
    criterion = assessment.framework.criteria.get(code=code)
    return reverse("scoring:self_row_save", args=[assessment.pk, criterion.pk])


def test_page_shows_raw_inputs_hints_yes_no_and_office_leaves_read_only(client, officer, assessment):
    client.force_login(officer)
    html = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    assert 'name="raw"' in html and "95,5 or 95,5% or 191/200" not in html  # Vietnamese hint
    assert 'placeholder="95,5 hoặc 95,5% hoặc 191/200"' in html and 'placeholder="số lần, ví dụ 3"' in html
    assert '<option value="có"' in html
    office = assessment.framework.criteria.get(code="2.1")
    assert f'action="{reverse("scoring:self_row_save", args=[assessment.pk, office.pk])}"' not in html
    assert "Do Phòng Nội vụ huyện Thử chấm" in html  # the office named from the authority


@pytest.mark.parametrize(
    ("code", "raw", "points"),
    [
        ("1.1", "95,5", "1,91"),
        ("1.1", "191/200", "1,91"),
        ("1.2", "93", "1,5"),
        ("1.3", "3", "0,5"),
        ("1.4", "có", "2"),
    ],
)
def test_htmx_row_save_shows_the_computed_points_at_once(client, officer, assessment, code, raw, points):
    client.force_login(officer)
    response = client.post(row_url(assessment, code), {"raw": raw}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"= <b>{points}</b> / 2" in html
    assert format_decimal(scores(assessment)[code].self_points) == points


def test_htmx_row_refusals_sit_beside_their_field(client, officer, assessment):
    client.force_login(officer)
    html = client.post(row_url(assessment, "1.5"), {"points": "0,73"}, **HX).content.decode()
    assert "0,73 không thuộc các mức 0; 0,5; 1." in html and 'id="err-pts-' in html
    html = client.post(row_url(assessment, "1.1"), {"raw": "120"}, **HX).content.decode()
    assert 'id="err-raw-' in html and 'value="120"' in html
    html = client.post(row_url(assessment, "1.6"), {"not_applicable": "1"}, **HX).content.decode()
    assert "Hãy nêu lý do tiêu chí 1.6 không áp dụng" in html and 'id="err-nar-' in html
    assert not Score.objects.filter(assessment=assessment).exists()
    client.post(
        row_url(assessment, "1.6"), {"not_applicable": "1", "not_applicable_reason": "Không có"}, **HX
    )
    assert scores(assessment)["1.6"].not_applicable_reason == "Không có"


def test_plain_post_redirects_and_the_page_shows_the_points(client, officer, assessment):
    client.force_login(officer)
    response = client.post(row_url(assessment, "1.2"), {"raw": "93%"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "= <b>1,5</b> / 2" in page and 'value="93%"' in page


def test_office_leaf_row_is_refused_to_the_unit(client, officer, assessment):
    client.force_login(officer)
    response = client.post(row_url(assessment, "2.1"), {"points": "1"}, **HX)
    assert response.status_code == 403
    assert not Score.objects.filter(assessment=assessment).exists()


# --- template round trip, upload, command ----------------------------------------------------------------


def template(assessment):
    from scoring.exchange.workbooks import assessment_workbook

    return assessment_workbook(assessment=assessment)


def header_columns(sheet) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(min_row=1, max_row=25):
        names = {cell.value: cell.column for cell in row if cell.value}
        if "Mã" in names and "Số liệu" in names:
            return row[0].row, names
    raise AssertionError("no header with Số liệu")


def fill_sheet(workbook, columns: dict[str, dict[str, object]]):
    """columns: {column name: {criterion code: value}}; returns (workbook, {(code, name): cell})."""
    sheet = workbook.worksheets[0]
    header, names = header_columns(sheet)
    cells = {}
    for r in range(header + 1, sheet.max_row + 1):
        code = str(sheet.cell(r, 1).value or "")
        for name, values in columns.items():
            if code in values:
                sheet.cell(r, names[name]).value = values[code]
            cells[(code, name)] = sheet.cell(r, names[name]).coordinate
    return workbook, cells


def save(workbook, path):
    workbook.save(path)
    return path


def test_template_has_a_raw_column_with_validation_fitting_each_rule(assessment):
    wb = template(assessment)
    sheet = wb.worksheets[0]
    header, names = header_columns(sheet)
    rows = {str(sheet.cell(r, 1).value): r for r in range(header + 1, sheet.max_row + 1)}
    raw, points = names["Số liệu"], names["Điểm tự đánh giá"]
    validations = {}
    for dv in sheet.data_validations.dataValidation:
        for ref in str(dv.sqref).split():
            validations[ref] = dv
    cell = lambda code, col: sheet.cell(rows[code], col).coordinate  # noqa: E731
    assert (
        validations[cell("1.4", raw)].type == "list" and "có,không" in validations[cell("1.4", raw)].formula1
    )
    assert (
        validations[cell("1.1", raw)].type in (None, "any") and validations[cell("1.1", raw)].showInputMessage
    )
    assert (
        "ISNUMBER" in validations[cell("1.2", raw)].formula1
        and "<=100" in validations[cell("1.2", raw)].formula1
    )
    assert "INT(" in validations[cell("1.3", raw)].formula1
    assert (
        validations[cell("1.5", points)].type == "list" and "0,5" in validations[cell("1.5", points)].formula1
    )
    # Points of a raw leaf are computed: locked, not validated as typed input; office leaves take nothing.
    assert sheet.cell(rows["1.1"], points).protection.locked and cell("1.1", points) not in validations
    assert not sheet.cell(rows["1.1"], raw).protection.locked
    assert sheet.cell(rows["2.1"], points).protection.locked and cell("2.1", raw) not in validations
    assert cell("1.6", raw) not in validations


def test_template_round_trip_through_the_upload_page(client, officer, assessment, tmp_path):
    import io

    import openpyxl
    from django.core.files.uploadedfile import SimpleUploadedFile

    from scoring.models import ImportRecord, ImportStatus

    client.force_login(officer)
    download = client.get(reverse("scoring:assessment_template", args=[assessment.pk]))
    assert download.status_code == 200
    wb, cells = fill_sheet(
        openpyxl.load_workbook(io.BytesIO(download.content)),
        {
            "Số liệu": {"1.1": "191/200", "1.2": 93, "1.3": 3, "1.4": "có"},
            "Điểm tự đánh giá": {"1.5": "0,5", "1.6": 1.25},
            "Tài liệu kiểm chứng": dict.fromkeys(("1.1", "1.2", "1.3", "1.4", "1.5", "1.6"), EVIDENCE),
        },
    )
    path = save(wb, tmp_path / "x1.xlsx")
    response = client.post(
        reverse("scoring:assessment_upload", args=[assessment.pk]),
        {"file": SimpleUploadedFile("x1.xlsx", path.read_bytes()), "stage": "self"},
    )
    record = ImportRecord.objects.get()
    assert response.status_code == 302 and record.status == ImportStatus.PREVIEW
    assert [
        (line["code"], D(line["new"])) for line in record.preview["lines"] if line["field"] == "points"
    ] == [
        ("1.1", D("1.91")),
        ("1.2", D("1.5")),
        ("1.3", D("0.5")),
        ("1.4", D("2")),
        ("1.5", D("0.5")),
        ("1.6", D("1.25")),
    ]
    assert not Score.objects.exists()
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    stored = scores(assessment)
    assert {c: (s.self_raw, s.self_points) for c, s in stored.items()} == {
        "1.1": ("191/200", D("1.91")),
        "1.2": ("93", D("1.5")),
        "1.3": ("3", D("0.5")),
        "1.4": ("có", D("2")),
        "1.5": ("", D("0.5")),
        "1.6": ("", D("1.25")),
    }
    # The next template shows the computed points and the figures; uploaded again it changes nothing.
    again = template(assessment).worksheets[0]
    header, names = header_columns(again)
    row = next(r for r in range(header + 1, again.max_row + 1) if again.cell(r, 1).value == "1.1")
    assert (again.cell(row, names["Số liệu"]).value, again.cell(row, names["Điểm tự đánh giá"]).value) == (
        "191/200",
        D("1.91"),
    )


def test_upload_errors_name_cell_and_criterion(assessment, tmp_path):
    from parindex.spreadsheets import SpreadsheetError
    from scoring.exchange.importers import read_assessment

    wb, cells = fill_sheet(
        template(assessment),
        {"Số liệu": {"1.1": "abc", "1.6": "95"}, "Điểm tự đánh giá": {"1.5": "0,73"}},
    )
    path = save(wb, tmp_path / "x1.xlsx")
    with pytest.raises(SpreadsheetError) as caught:
        read_assessment(path, framework=assessment.framework)
    texts = [p.render() for p in caught.value.problems]
    steps_cell, percent_cell, points_cell = (
        cells[("1.5", "Điểm tự đánh giá")],
        cells[("1.1", "Số liệu")],
        cells[("1.6", "Số liệu")],
    )
    assert f"[Tự đánh giá] {steps_cell} (tiêu chí 1.5): 0,73 không thuộc các mức 0; 0,5; 1." in texts
    assert any(
        t.startswith(f"[Tự đánh giá] {percent_cell} (tiêu chí 1.1): abc không phải là tỷ lệ") for t in texts
    )
    assert any(
        t.startswith(f"[Tự đánh giá] {points_cell} (tiêu chí 1.6): Tiêu chí này nhập điểm") for t in texts
    )


def test_a_file_with_only_code_and_raw_columns_is_read(assessment, tmp_path):
    import openpyxl

    from scoring.exchange.importers import apply_assessment, read_assessment

    wb = openpyxl.Workbook()
    wb.active.append(["Mã", "Số liệu"])
    wb.active.append(["1.1", "95,5%"])
    wb.active.append(["1.3", 3])
    data = read_assessment(save(wb, tmp_path / "raw.xlsx"), framework=assessment.framework, unit_code="X1")
    apply_assessment(data)
    stored = scores(assessment)
    assert (stored["1.1"].self_points, stored["1.3"].self_points) == (D("1.91"), D("0.5"))


def write(path, header, rows):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(header)
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


SELF_HEADER = ["Mã", "Điểm tự đánh giá", "Tài liệu kiểm chứng", "Ghi chú", "Số liệu"]


def self_rows(**override):
    rows = {
        "1.1": ["1.1", None, EVIDENCE, "", "95,5"],
        "1.2": ["1.2", None, EVIDENCE, "", "93"],
        "1.3": ["1.3", None, EVIDENCE, "", "3"],
        "1.4": ["1.4", None, EVIDENCE, "", "có"],
        "1.5": ["1.5", "0,5", EVIDENCE, "", None],
        "1.6": ["1.6", "Không áp dụng", "", "Không có nhiệm vụ", None],
    }
    rows.update(override)
    return list(rows.values())


def test_command_self_stage_with_submit_and_appraisal_stage(assessment, framework, appraiser, tmp_path):
    from .sheet_files import call

    path = write(tmp_path / "self.xlsx", SELF_HEADER, self_rows())
    out, _ = call("import_assessment", path, "--framework", framework.code, "--unit", "X1", "--submit")
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED
    assert "Đã nộp kết quả tự đánh giá của X1." in out
    assert scores(assessment)["1.1"].self_points == D("1.91")
    path = write(
        tmp_path / "appraisal.xlsx",
        ["Mã", "Điểm thẩm định", "Lý do", "Số liệu"],
        [
            ["1.1", None, "", "191/200"],
            ["1.3", None, "Thêm một báo cáo trễ", "4"],
            ["2.1", "1,5", "", None],
            ["2.2", None, "", "50"],
        ],
    )
    call("import_assessment", path, "--framework", framework.code, "--unit", "X1", "--stage", "appraisal")
    stored = scores(assessment)
    assert {c: stored[c].appraised_points for c in ("1.1", "1.3", "2.1", "2.2")} == {
        "1.1": D("1.91"),
        "1.3": D("0"),
        "2.1": D("1.5"),
        "2.2": D("1"),
    }
    assert (stored["2.2"].appraised_raw, stored["1.3"].appraised_raw) == ("50", "4")


def test_command_refused_submission_keeps_nothing(assessment, framework, tmp_path):
    from .sheet_files import call_failing

    rows = self_rows()
    rows[0] = ["1.1", None, "", "", "95,5"]  # points without evidence or a note: submission refused
    path = write(tmp_path / "self.xlsx", SELF_HEADER, rows)
    err, _ = call_failing(
        "import_assessment", path, "--framework", framework.code, "--unit", "X1", "--submit"
    )
    assert "1.1" in err
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.DRAFT
    assert not Score.objects.filter(assessment=assessment).exists()


def test_command_self_stage_ignores_office_rows_and_steps_refusal_is_on_its_cell(
    assessment, framework, tmp_path
):
    from .sheet_files import call_failing

    rows = self_rows(**{"1.5": ["1.5", "0,73", EVIDENCE, "", None]})
    path = write(tmp_path / "self.xlsx", SELF_HEADER, rows)
    err, _ = call_failing("import_assessment", path, "--framework", framework.code, "--unit", "X1")
    assert "B6 (tiêu chí 1.5): 0,73 không thuộc các mức 0; 0,5; 1." in err


# --- appraisal page ------------------------------------------------------------------------------------


def appraisal_url(assessment, code):
    criterion = assessment.framework.criteria.get(code=code)
    return reverse("scoring:appraisal_row_save", args=[assessment.pk, criterion.pk])


def test_appraisal_page_takes_raw_figures_and_office_points(client, officer, appraiser, assessment):
    submitted(assessment, officer)
    client.force_login(appraiser)
    page = client.get(reverse("scoring:assessment_appraise", args=[assessment.pk])).content.decode()
    assert page.count('name="raw"') == 5  # 1.1–1.4 and office 2.2
    html = client.post(appraisal_url(assessment, "1.1"), {"raw": "191/200"}, **HX).content.decode()
    assert "1,91" in html
    html = client.post(appraisal_url(assessment, "1.3"), {"raw": "4"}, **HX).content.decode()
    assert "lý do" in html.lower() and scores(assessment)["1.3"].appraised_points is None
    client.post(appraisal_url(assessment, "1.3"), {"raw": "4", "reason": "Thêm một báo cáo trễ"}, **HX)
    client.post(appraisal_url(assessment, "2.1"), {"points": "1,5"})
    client.post(appraisal_url(assessment, "2.2"), {"raw": "95,5"})
    stored = scores(assessment)
    assert (stored["1.1"].appraised_points, stored["1.3"].appraised_points) == (D("1.91"), D("0"))
    assert (stored["2.1"].appraised_points, stored["2.2"].appraised_points) == (D("1.5"), D("1.91"))
    html = client.post(appraisal_url(assessment, "1.5"), {"points": "0,73"}, **HX).content.decode()
    assert "0,73 không thuộc các mức 0; 0,5; 1." in html
    # Accepting the unit's own figure keeps the figure.
    client.post(appraisal_url(assessment, "1.2"), {"accept_self": "1"}, **HX)
    assert (scores(assessment)["1.2"].appraised_raw, scores(assessment)["1.2"].appraised_points) == (
        "93%",
        D("1.5"),
    )


# --- admin ---------------------------------------------------------------------------------------------


def test_admin_score_change_computes_points_from_the_raw_figure(admin_client, officer, assessment):
    scores_apply_self(assessment=assessment, entries=full_self_entries(), actor=officer)
    score = scores(assessment)["1.3"]
    change = reverse("admin:scoring_score_change", args=[score.pk])
    payload = {
        "self_points": "0,5",
        "self_raw": "1",
        "not_applicable_reason": "",
        "note": "",
        "evidence_reference": EVIDENCE,
        "appraised_points": "",
        "appraised_raw": "",
        "appraisal_reason": "",
        "evidence-TOTAL_FORMS": "0",
        "evidence-INITIAL_FORMS": "0",
        "evidence-MIN_NUM_FORMS": "0",
        "evidence-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(change, payload)
    assert response.status_code == 302, response.context["adminform"].form.errors
    score.refresh_from_db()
    assert (score.self_raw, score.self_points) == ("1", D("1.5"))  # 2 − 0,5 × 1
    response = admin_client.post(change, {**payload, "self_points": "2"})  # typed points on a deduct leaf
    assert response.status_code == 200 and response.context["adminform"].form.errors
    score.refresh_from_db()
    assert score.self_points == D("1.5")


def test_a_template_made_before_a_rule_changed_is_refused(assessment, tmp_path):
    from parindex.spreadsheets import SpreadsheetError
    from scoring.exchange.importers import read_assessment

    path = save(template(assessment), tmp_path / "x1.xlsx")
    assessment.framework.criteria.filter(code="1.6").update(rule="yesno")
    with pytest.raises(SpreadsheetError, match="đã thay đổi"):
        read_assessment(path, framework=assessment.framework)
