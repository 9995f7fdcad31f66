"""Services refuse with one structured error (parindex.errors.ServiceError): a code, the object, the
field and criterion it is about. Importers place those refusals on cells, commands print them in
Vietnamese then English, and nothing is saved."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from parindex.errors import ErrorCode, ServiceError
from parindex.spreadsheets import SpreadsheetError, command_failure
from reports.jobs import report_request
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_extend_deadline,
    assessment_get_or_create,
    assessment_return,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.exchange import uploads
from scoring.frameworks.services import (
    CriterionRow,
    FrameworkLocked,
    WorkflowError,
    framework_create,
    framework_publish,
    framework_reopen,
    parse_bands,
    tree_problems,
)
from scoring.models import Assessment, AssessmentStatus, Criterion, Framework, ImportKind, ImportStatus, Score
from tests.publishing import walk_and_publish
from units.models import Unit, UnitKind

from .factories import make_framework, make_unit, rows_from_spec
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
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
]
SELF_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá", "Tài liệu kiểm chứng", "Ghi chú"]
APPRAISAL_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá", "Điểm thẩm định", "Lý do"]


@pytest.fixture
def framework(district):
    framework = make_framework(district, rows=rows_from_spec(SPEC), code="FW")
    Criterion.objects.filter(framework=framework, code="2.2").update(allows_not_applicable=False)
    return framework


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def _details(error: ServiceError) -> list[tuple]:
    return [(e.error_code, e.criterion, e.field) for e in error.all()]


def _submitted(assessment, points=("1", "10")):
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(D(points[0])),
            "1.2": SelfEntry(D(points[1])),
            "2.1": SelfEntry(None, not_applicable=True),
        },
    )
    Assessment.objects.filter(pk=assessment.pk).update(status=AssessmentStatus.SUBMITTED)
    assessment.refresh_from_db()
    return assessment


# --- the structured error of each kind of refusal ----------------------------------------------------


def test_a_published_framework_is_locked(framework, assessment):
    walk_and_publish(framework=framework, decision_number="12/QĐ", decision_date=datetime.date(2024, 12, 1))
    with pytest.raises(FrameworkLocked) as refused:
        scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("1"))})
    error = refused.value
    assert isinstance(error, ServiceError) and error.error_code == ErrorCode.LOCKED
    assert error.obj == framework and error.message_params == {"code": "FW", "decision": "12/QĐ"}
    assert error.text("en") == "Framework FW is published (decision 12/QĐ); it can no longer be changed."
    assert error.text("vi") == "Bộ chỉ số FW đã được công bố (quyết định 12/QĐ); không thể thay đổi nữa."
    with pytest.raises(FrameworkLocked):
        survey_apply(framework=framework, entries={"X1": {"3.1": D("5")}})


def test_every_self_problem_is_refused_at_once_each_with_its_criterion_and_field(assessment):
    with pytest.raises(ServiceError) as refused:
        scores_apply_self(
            assessment=assessment,
            entries={
                "1.1": SelfEntry(D("2")),  # over 1.5
                "1.2": SelfEntry(D("-1")),  # negative
                "2.2": SelfEntry(None, not_applicable=True),  # not allowed to be not applicable
                "3.1": SelfEntry(D("1")),  # a survey leaf
                "1": SelfEntry(D("1")),  # not a leaf
                "9.9": SelfEntry(D("1")),  # unknown
            },
        )
    assert sorted(_details(refused.value), key=lambda d: d[1]) == [
        (ErrorCode.INVALID, "1", None),
        (ErrorCode.INVALID, "1.1", "self_points"),
        (ErrorCode.INVALID, "1.2", "self_points"),
        (ErrorCode.INVALID, "2.2", "not_applicable"),
        (ErrorCode.INVALID, "3.1", "self_points"),
        (ErrorCode.NOT_FOUND, "9.9", None),
    ]
    over = next(e for e in refused.value.all() if e.criterion == "1.1")
    assert (over.text("vi"), over.text("en")) == (
        "2 lớn hơn điểm tối đa 1,5",
        "2 is more than the maximum 1.5",
    )
    assert not Score.objects.exists()


def test_a_submitted_self_assessment_is_a_workflow_refusal(assessment):
    _submitted(assessment)
    with pytest.raises(WorkflowError) as refused:
        scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("0.5"))})
    assert (refused.value.error_code, refused.value.obj, refused.value.field) == (
        ErrorCode.WORKFLOW,
        assessment,
        "status",
    )
    assert Score.objects.get(criterion__code="1.1").self_points == D("1")


def test_appraisal_needs_a_reason_where_it_differs_from_self(assessment):
    _submitted(assessment)
    with pytest.raises(ServiceError) as refused:
        scores_apply_appraisal(
            assessment=assessment,
            entries={
                "1.1": AppraisalEntry(D("1")),
                "1.2": AppraisalEntry(D("8")),
                "2.1": AppraisalEntry(D("3"), "x"),
            },
        )
    assert _details(refused.value) == [
        (ErrorCode.INVALID, "1.2", "appraisal_reason"),
        (ErrorCode.INVALID, "2.1", "appraised_points"),
    ]
    assert refused.value.all()[0].text("en") == (
        "The appraised points 8 differ from the self-assessed 10; a reason is required."
    )
    assert not Score.objects.filter(appraised_points__isnull=False).exists()


@pytest.mark.parametrize("status", [AssessmentStatus.DRAFT, AssessmentStatus.RETURNED])
def test_an_assessment_never_submitted_is_not_appraised_by_the_service(assessment, status):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("1"))})
    Assessment.objects.filter(pk=assessment.pk).update(status=status)
    with pytest.raises(WorkflowError) as refused:
        scores_apply_appraisal(assessment=assessment, entries={"1.1": AppraisalEntry(D("1"))})
    assert (refused.value.error_code, refused.value.field) == (ErrorCode.WORKFLOW, "status")
    assessment.refresh_from_db()
    assert assessment.status == status and assessment.appraised_at is None
    assert not Score.objects.filter(appraised_points__isnull=False).exists()


def test_survey_points_stay_allowed_on_a_draft_and_refusals_name_the_unit(
    framework, assessment, other_commune
):
    survey_apply(framework=framework, entries={"X1": {"3.1": D("5")}})
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.DRAFT
    make_unit("PB", kind=UnitKind.DEPARTMENT, parent=framework.authority)
    with pytest.raises(ServiceError) as refused:
        survey_apply(
            framework=framework,
            entries={
                "X2": {"3.1": D("11")},
                "PB": {"3.1": D("1")},
                "NOPE": {"3.1": D("1")},
                "X1": {"1.1": D("1")},
            },
        )
    found = {(e.error_code, e.criterion, e.message_params.get("unit")) for e in refused.value.all()}
    assert found == {
        (ErrorCode.INVALID, "3.1", "X2"),  # over the maximum
        (ErrorCode.INVALID, None, "PB"),  # a department in a commune framework
        (ErrorCode.NOT_FOUND, None, "NOPE"),
        (ErrorCode.INVALID, "1.1", None),  # not a survey criterion
    }
    assert Score.objects.get(criterion__code="3.1", assessment__unit__code="X1").appraised_points == D("5")


def test_tree_rules_name_each_criterion_and_field(district):
    rows = [
        CriterionRow("1", "A", D("3")),
        CriterionRow("1.1", "B", D("1")),
        CriterionRow("1.1", "C", D("1")),
        CriterionRow("2.1", "D", D("1")),
        CriterionRow("3", "E", None),
        CriterionRow("4", "F", None),
        CriterionRow("4.1", "G", D("1"), kind="bonus", source="survey"),
    ]
    problems = tree_problems(rows)
    assert sorted((e.error_code, e.criterion, e.field) for e in problems) == [
        (ErrorCode.CONFLICT, "1.1", "code"),  # twice
        (ErrorCode.INVALID, "1", "max_points"),  # 3 but the child adds up to 1
        (ErrorCode.INVALID, "2.1", "code"),  # no parent 2
        (ErrorCode.INVALID, "3", "max_points"),  # a leaf without max points
    ]  # 4.1, a survey leaf under a self area, is fine: sources mix at any level
    assert next(e for e in problems if e.error_code == ErrorCode.CONFLICT).obj is rows[2]  # the second row
    with pytest.raises(ServiceError) as refused:
        framework_create(code="T", authority=district, unit_kind="commune", year=2030, name="T", rows=rows)
    assert len(refused.value.all()) == 4 and not Framework.objects.filter(code="T").exists()
    # A blank parent maximum is the sum of its children.
    framework = framework_create(
        code="T",
        authority=district,
        unit_kind="commune",
        year=2030,
        name="T",
        rows=[
            CriterionRow("1", "A", None),
            CriterionRow("1.1", "B", D("1.5")),
            CriterionRow("1.2", "C", D("2")),
        ],
    )
    assert framework.criteria.get(code="1").max_points == D("3.5")


def test_framework_codes_bands_publication_reopening_and_deadlines(framework, assessment):
    with pytest.raises(ServiceError) as refused:
        framework_create(
            code="FW",
            authority=framework.authority,
            unit_kind="commune",
            year=2031,
            name="x",
            rows=[CriterionRow("1", "A", D("1"))],
        )
    assert (refused.value.error_code, refused.value.field, refused.value.obj) == (
        ErrorCode.CONFLICT,
        "code",
        framework,
    )
    with pytest.raises(ServiceError) as refused:
        parse_bands("Tốt")
    assert refused.value.field == "bands"
    with pytest.raises(ServiceError) as refused:
        framework_reopen(framework=framework, reason="Sửa")
    assert refused.value.error_code == ErrorCode.WORKFLOW
    with pytest.raises(ServiceError) as refused:
        framework_publish(framework=framework, decision_number="12/QĐ", decision_date=None)
    # Every problem at once: the phase (not final), the missing date, the unit neither appraised nor excluded.
    assert "decision_date" in [error.field for error in refused.value.all()]
    with pytest.raises(ServiceError) as refused:
        assessment_extend_deadline(
            assessment=assessment, until=timezone.now() + datetime.timedelta(days=3), reason=" "
        )
    assert refused.value.field == "reason"
    walk_and_publish(framework=framework, decision_number="12/QĐ", decision_date=datetime.date(2024, 12, 1))
    with pytest.raises(ServiceError) as refused:
        framework_reopen(framework=framework, reason="")
    assert refused.value.field == "reason"


def test_returning_needs_a_submitted_assessment_and_a_reason_per_criterion(assessment):
    with pytest.raises(WorkflowError):
        assessment_return(assessment=assessment, message="Thiếu")
    _submitted(assessment)
    with pytest.raises(ServiceError) as refused:
        assessment_return(assessment=assessment, message="Thiếu", criteria={"1.2": ""})
    assert (refused.value.field, refused.value.criterion) == ("criteria", "1.2")


def test_a_report_compared_with_itself_and_a_unit_of_another_kind(framework, district):
    with pytest.raises(ServiceError) as refused:
        report_request(framework=framework, compare=framework)
    assert refused.value.field == "compare"
    with pytest.raises(ServiceError) as refused:
        assessment_get_or_create(unit=district, framework=framework)
    assert (refused.value.obj, refused.value.field) == (district, "unit")
    assert refused.value.text("en") == "Unit H is a District; framework FW assesses units of kind Commune."


def test_command_failure_renders_a_service_error_in_both_languages(assessment):
    import io

    with pytest.raises(ServiceError) as refused:
        scores_apply_self(
            assessment=assessment, entries={"1.1": SelfEntry(D("2")), "1.2": SelfEntry(D("1.255"))}
        )
    stderr = io.StringIO()
    error = command_failure(stderr, refused.value, "x.xlsx")
    text = stderr.getvalue()
    assert "x.xlsx tiêu chí 1.1: 2 lớn hơn điểm tối đa 1,5" in text
    assert "x.xlsx tiêu chí 1.2: 1,255 có quá hai chữ số thập phân." in text
    assert "x.xlsx criterion 1.1: 2 is more than the maximum 1.5" in text
    assert text.index("tiêu chí 1.1") < text.index("criterion 1.1")  # Vietnamese first
    assert "2 lỗi" in str(error) and "2 problem(s)" in str(error)


# --- refusals placed on cells: commands and uploads --------------------------------------------------


def _self_file(tmp_path, rows, name="x1.xlsx"):
    return write_xlsx(tmp_path / name, [SELF_HEADER, *rows])


def test_a_grouped_refusal_is_placed_by_cell_in_the_command_output(tmp_path, framework, commune):
    path = _self_file(tmp_path, [["1.1", "", 1.5, 2], ["1.2", "", 12, "-1"], ["2.2", "", 2, "KAD"]])
    err, error = call_failing("import_assessment", path, "--framework", "FW", "--unit", "X1")
    for expected in (
        "x1.xlsx [Sheet1] D2 (tiêu chí 1.1): 2 lớn hơn điểm tối đa 1,5",
        "x1.xlsx [Sheet1] D3 (tiêu chí 1.2): -1 là số âm; điểm không được âm.",
        "x1.xlsx [Sheet1] D4 (tiêu chí 2.2): Tiêu chí này không được đánh dấu không áp dụng.",
        "x1.xlsx [Sheet1] D2 (criterion 1.1): 2 is more than the maximum 1.5",
        "x1.xlsx [Sheet1] D3 (criterion 1.2): -1 is negative; points cannot be negative.",
        "x1.xlsx [Sheet1] D4 (criterion 2.2): This criterion cannot be marked not applicable.",
    ):
        assert expected in err
    assert err.index("D2 (tiêu chí 1.1)") < err.index("D2 (criterion 1.1)")
    assert "3 lỗi" in str(error) and not Assessment.objects.exists() and not Score.objects.exists()


def test_an_appraisal_reason_refusal_is_placed_on_the_reason_cell(tmp_path, assessment):
    _submitted(assessment)
    path = write_xlsx(
        tmp_path / "td.xlsx", [APPRAISAL_HEADER, ["1.1", "", 1.5, 1, 1], ["1.2", "", 12, 10, 8]]
    )
    err, _ = call_failing(
        "import_assessment", path, "--framework", "FW", "--unit", "X1", "--stage", "appraisal"
    )
    assert (
        "td.xlsx [Sheet1] F3 (tiêu chí 1.2): Điểm thẩm định 8 khác điểm tự đánh giá 10; cần ghi lý do." in err
    )
    assert (
        "td.xlsx [Sheet1] F3 (criterion 1.2): The appraised points 8 differ from the self-assessed 10;" in err
    )
    assert not Score.objects.filter(appraised_points__isnull=False).exists()


def test_a_grouped_refusal_is_placed_by_cell_in_an_upload(framework, assessment, officer):
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    for row in (SELF_HEADER, ["1.1", "", 1.5, 2], ["1.2", "", 12, "12,5"]):
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    record = uploads.import_start(
        kind=ImportKind.SELF,
        upload=SimpleUploadedFile("tu.xlsx", buffer.getvalue()),
        actor=officer,
        assessment=assessment,
    )
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert {
        "vi": "tu.xlsx [Sheet] D2 (tiêu chí 1.1): 2 lớn hơn điểm tối đa 1,5",
        "en": "tu.xlsx [Sheet] D2 (criterion 1.1): 2 is more than the maximum 1.5",
    } in record.problems
    assert {
        "vi": "tu.xlsx [Sheet] D3 (tiêu chí 1.2): 12,5 lớn hơn điểm tối đa 12",
        "en": "tu.xlsx [Sheet] D3 (criterion 1.2): 12.5 is more than the maximum 12",
    } in record.problems
    assert not Score.objects.exists()


# --- appraisal of a never-submitted assessment: the upload and the command -------------------------------


def _appraisal_upload(rows, name="td.xlsx"):
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    for row in (APPRAISAL_HEADER, *rows):
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def test_appraisal_upload_on_a_draft_is_refused_and_nothing_is_saved(assessment, appraiser):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("1")), "1.2": SelfEntry(D("10"))})
    record = uploads.import_start(
        kind=ImportKind.APPRAISAL,
        upload=_appraisal_upload(
            [["1.1", "", 1.5, 1, 1], ["1.2", "", 12, 10, 10], ["2.1", "", 2, "", 2], ["2.2", "", 2, "", 2]]
        ),
        actor=appraiser,
        assessment=assessment,
    )
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert {
        "vi": "td.xlsx: Đơn vị chưa nộp bản tự đánh giá; chỉ thẩm định được sau khi đơn vị nộp.",
        "en": "td.xlsx: The unit has not submitted its self-assessment yet; it can be appraised once submitted.",
    } in record.problems
    assessment.refresh_from_db()
    assert (assessment.status, assessment.submitted_at, assessment.appraised_at) == (
        AssessmentStatus.DRAFT,
        None,
        None,
    )
    assert not Score.objects.filter(appraised_points__isnull=False).exists()


def test_an_appraisal_previewed_then_returned_is_refused_on_confirmation(assessment, appraiser):
    _submitted(assessment)
    record = uploads.import_start(
        kind=ImportKind.APPRAISAL,
        upload=_appraisal_upload([["1.1", "", 1.5, 1, 1]]),
        actor=appraiser,
        assessment=assessment,
    )
    record.refresh_from_db()
    assert record.status == ImportStatus.PREVIEW
    assessment_return(assessment=assessment, message="Giải trình 1.2")
    with pytest.raises(SpreadsheetError):
        uploads.import_confirm(record=record, actor=appraiser)
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert record.problems == [
        {
            "vi": "td.xlsx: Bản đánh giá đang được trả lại để giải trình; thẩm định tiếp khi đơn vị nộp lại.",
            "en": "td.xlsx: The assessment is returned for explanation; it can be appraised again when the unit "
            "resubmits.",
        }
    ]
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.RETURNED
    assert not Score.objects.filter(appraised_points__isnull=False).exists()


def test_appraisal_command_on_a_draft_is_refused_in_both_languages(tmp_path, assessment):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("1"))})
    path = write_xlsx(tmp_path / "td.xlsx", [APPRAISAL_HEADER, ["1.1", "", 1.5, 1, 1]])
    err, error = call_failing(
        "import_assessment", path, "--framework", "FW", "--unit", "X1", "--stage", "appraisal"
    )
    assert "td.xlsx: Đơn vị chưa nộp bản tự đánh giá; chỉ thẩm định được sau khi đơn vị nộp." in err
    assert (
        "td.xlsx: The unit has not submitted its self-assessment yet; it can be appraised once submitted."
        in err
    )
    assert "1 lỗi" in str(error)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.DRAFT and assessment.appraised_at is None
    assert not Score.objects.filter(appraised_points__isnull=False).exists()


def test_appraisal_command_for_a_unit_without_assessment_creates_nothing(tmp_path, framework, other_commune):
    path = write_xlsx(tmp_path / "x2.xlsx", [APPRAISAL_HEADER, ["1.1", "", 1.5, "", 1]])
    err, _ = call_failing(
        "import_assessment", path, "--framework", "FW", "--unit", "X2", "--stage", "appraisal"
    )
    assert "Đơn vị chưa nộp bản tự đánh giá" in err
    assert not Assessment.objects.exists() and not Score.objects.exists()


# --- one parser of unit kinds for import_units and import_framework --unit-kind ----------------------------

KIND_NAMES = [
    ("commune", UnitKind.COMMUNE),
    ("Xã", UnitKind.COMMUNE),
    ("PHƯỜNG", UnitKind.WARD),
    ("Đặc khu", UnitKind.SPECIAL_ZONE),
    ("special_zone", UnitKind.SPECIAL_ZONE),
    ("thị trấn", UnitKind.TOWNSHIP),
    ("Ward", UnitKind.WARD),
    ("Commune", UnitKind.COMMUNE),
    ("district", UnitKind.DISTRICT),
    ("Huyện", UnitKind.DISTRICT),
    ("quận", UnitKind.DISTRICT),
    ("Department", UnitKind.DEPARTMENT),
    ("Sở, phòng", UnitKind.DEPARTMENT),
    ("sở", UnitKind.DEPARTMENT),
    ("Province", UnitKind.PROVINCE),
    ("tỉnh", UnitKind.PROVINCE),
]


@pytest.mark.parametrize(("name", "kind"), KIND_NAMES)
def test_the_same_unit_kind_names_are_accepted_by_both_commands(tmp_path, district, name, kind):
    assert UnitKind.parse(name) == kind
    units = write_xlsx(
        tmp_path / "units.xlsx",
        [["Mã đơn vị", "Tên đơn vị", "Loại", "Mã đơn vị cấp trên"], ["U1", "Đơn vị", name, "H"]],
    )
    call("import_units", units)
    assert Unit.objects.get(code="U1").kind == kind
    rows = write_xlsx(tmp_path / "fw.xlsx", [["Mã", "Tiêu chí", "Điểm tối đa"], ["1", "A", 1]])
    call(
        "import_framework",
        rows,
        "--code",
        "K",
        "--authority",
        "H",
        "--unit-kind",
        name,
        "--year",
        "2030",
        "--name",
        "K",
    )
    assert Framework.objects.get(code="K").unit_kind == kind


@pytest.mark.parametrize("name", ["village", "thôn", ""])
def test_an_unknown_unit_kind_is_refused_by_both_commands(tmp_path, district, name):
    assert UnitKind.parse(name) is None
    units = write_xlsx(
        tmp_path / "units.xlsx",
        [["Mã đơn vị", "Tên đơn vị", "Loại", "Mã đơn vị cấp trên"], ["U1", "Đơn vị", name, "H"]],
    )
    call_failing("import_units", units)
    rows = write_xlsx(tmp_path / "fw.xlsx", [["Mã", "Tiêu chí", "Điểm tối đa"], ["1", "A", 1]])
    call_failing(
        "import_framework",
        rows,
        "--code",
        "K",
        "--authority",
        "H",
        "--unit-kind",
        name,
        "--year",
        "2030",
        "--name",
        "K",
    )
    assert not Unit.objects.filter(code="U1").exists() and not Framework.objects.filter(code="K").exists()


def test_a_refusal_raised_while_applying_is_placed_on_the_cell_too(tmp_path, framework, commune):
    from scoring.exchange.importers import apply_assessment, read_assessment

    data = read_assessment(
        _self_file(tmp_path, [["1.1", "", 1.5, 1], ["1.2", "", 12, 5]]), framework=framework, unit_code="X1"
    )
    Criterion.objects.filter(framework=framework, code="1.1").update(max_points=D("0.5"))  # changed meanwhile
    with pytest.raises(SpreadsheetError) as refused:
        apply_assessment(data)
    assert [p.render("x1.xlsx") for p in refused.value.problems] == [
        "x1.xlsx [Sheet1] D2 (tiêu chí 1.1): 1 lớn hơn điểm tối đa 0,5"
    ]
    assert not Assessment.objects.exists() and not Score.objects.exists()
