"""Survey results as points or percentages (max × p ÷ 100, half-up to two decimals, by the `percent`
rule), a not-applicable survey cell per unit and leaf, and the sample size kept: through the service,
the survey file (`import_survey --as percent`, or the file's own "Cách nhập"), the upload and the grid."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from parindex.audit.models import AuditEntry
from parindex.errors import ServiceError
from parindex.numbers import NOT_APPLICABLE
from scoring.assessments.services import SelfEntry, assessment_get_or_create, scores_apply_self, survey_apply
from scoring.frameworks.forms import cell_name
from scoring.models import AssessmentResult, Score, Via

from .factories import make_framework, rows_from_spec
from .sheet_files import call, call_failing, vietnamese, write_xlsx  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

# Self-assessed 1.1 (max 5) and two survey leaves of max 3,5 and 2.
SPEC = [
    ("1", 5),
    ("1.1", 5),
    ("8", 5.5, "score", "survey"),
    ("8.1", 3.5, "score", "survey"),
    ("8.2", 2, "score", "survey"),
]


@pytest.fixture
def framework(district, commune, other_commune):
    return make_framework(district, rows=rows_from_spec(SPEC), code="SV")


def stored():
    return {
        (s.assessment.unit.code, s.criterion.code): (
            s.appraised_points,
            s.appraised_not_applicable,
            s.survey_sample,
        )
        for s in Score.objects.filter(criterion__source="survey").select_related(
            "assessment__unit", "criterion"
        )
    }


def result(unit_code):
    return AssessmentResult.objects.get(assessment__unit__code=unit_code)


# --- service ---------------------------------------------------------------------------------------------


def test_percentages_are_converted_half_up_by_the_percent_rule(framework):
    survey_apply(
        framework=framework,
        entries={"X1": {"8.1": D("80"), "8.2": D("100")}, "X2": {"8.1": D("85.5"), "8.2": D("0")}},
        as_percent=True,
        samples={"X1": {"8.1": 120}},
    )
    # 3,5 × 80 ÷ 100 = 2,80; 3,5 × 85,5 ÷ 100 = 2,9925 → 2,99
    assert stored() == {
        ("X1", "8.1"): (D("2.80"), None, 120),
        ("X1", "8.2"): (D("2.00"), None, None),
        ("X2", "8.1"): (D("2.99"), None, None),
        ("X2", "8.2"): (D("0.00"), None, None),
    }
    assert result("X1").points == D("4.80") and result("X2").points == D("2.99")


def test_a_not_applicable_survey_cell_removes_the_leaf_from_the_max(framework, commune, officer):
    a = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(assessment=a, entries={"1.1": SelfEntry(D("4"))}, actor=officer)
    survey_apply(framework=framework, entries={"X1": {"8.1": D("2"), "8.2": D("1.5")}})
    assert (result("X1").points, result("X1").max_points) == (D("7.5"), D("10.5"))
    survey_apply(framework=framework, entries={"X1": {"8.1": NOT_APPLICABLE}}, via=Via.COMMAND)
    s = Score.objects.get(assessment=a, criterion__code="8.1")
    assert (s.appraised_points, s.appraised_not_applicable, s.not_applicable, s.is_not_applicable) == (
        None,
        True,
        False,
        True,
    )
    # 4 + 1,5 of 5 + 2: the 3,5 of 8.1 left the applicable max
    assert (result("X1").points, result("X1").max_points) == (D("5.5"), D("7"))
    audited = AuditEntry.objects.get(action="survey", criterion_code="8.1", field="appraised_not_applicable")
    assert (audited.old_value, audited.new_value) == ("", "True")
    # points again: applicable again
    survey_apply(framework=framework, entries={"X1": {"8.1": D("80")}}, as_percent=True)
    assert (result("X1").points, result("X1").max_points) == (D("8.3"), D("10.5"))


def test_refusals_by_unit_and_criterion(framework):
    with pytest.raises(ServiceError) as caught:
        survey_apply(
            framework=framework,
            entries={"X1": {"8.1": D("120")}, "X2": {"8.2": D("-1")}},
            as_percent=True,
            samples={"X1": {"8.2": 0}},
        )
    found = {(e.message_params.get("unit"), e.criterion, e.field) for e in caught.value.all()}
    assert found == {
        ("X1", "8.1", "appraised_points"),
        ("X2", "8.2", "appraised_points"),
        ("X1", "8.2", "survey_sample"),
    }
    assert "120 không phải là tỷ lệ phần trăm từ 0 đến 100" in caught.value.texts("vi")[0]
    assert not Score.objects.exists()


# --- command and file ----------------------------------------------------------------------------------------


def test_import_survey_as_percent_with_sample_sizes_and_a_not_applicable_cell(tmp_path, framework):
    path = write_xlsx(
        tmp_path / "dtxhh.xlsx",
        [
            ["Mã đơn vị", "Tên đơn vị", "8.1", "8.2", "Cỡ mẫu", "Cỡ mẫu 8.2"],
            ["X1", "Xã Một", 80, "KAD", 150, None],
            ["X2", "Xã Hai", "85,5", "50%", 90, 40],
        ],
    )
    out, _ = call("import_survey", path, "--framework", "SV", "--as", "percent")
    assert stored() == {
        ("X1", "8.1"): (D("2.80"), None, 150),
        ("X1", "8.2"): (None, True, 150),
        ("X2", "8.1"): (D("2.99"), None, 90),
        ("X2", "8.2"): (D("1.00"), None, 40),
    }
    assert result("X1").max_points == D("8.5")  # 5 + 3,5: 8.2 (2) is not applicable; 1.1 counts 0 of 5
    assert "2 đơn vị" in out


def test_percentages_over_100_are_refused_by_cell(tmp_path, framework):
    path = write_xlsx(
        tmp_path / "bad.xlsx",
        [["Mã đơn vị", "8.1", "8.2", "Cỡ mẫu"], ["X1", 120, 50, "nhiều"], ["X2", "100,5", 50, 0]],
    )
    err, _ = call_failing("import_survey", path, "--framework", "SV", "--as", "percent")
    assert "bad.xlsx [Sheet1] B2 (tiêu chí 8.1): 120 không phải là tỷ lệ phần trăm từ 0 đến 100" in err
    assert "bad.xlsx [Sheet1] B3 (tiêu chí 8.1): 100,5 không phải là tỷ lệ phần trăm từ 0 đến 100" in err
    assert "bad.xlsx [Sheet1] D2: “nhiều” không phải là cỡ mẫu" in err
    assert "bad.xlsx [Sheet1] D3: “0” không phải là cỡ mẫu" in err
    assert not Score.objects.exists()
    # the same file as points: 120 is over the maximum 3,5
    err, _ = call_failing("import_survey", path, "--framework", "SV")
    assert "B2 (tiêu chí 8.1): 120 lớn hơn điểm tối đa 3,5" in err


def test_the_file_may_say_it_holds_percentages(tmp_path, framework):
    path = write_xlsx(
        tmp_path / "pt.xlsx",
        [["Cách nhập", "phần trăm"], [], ["Mã đơn vị", "8.1"], ["X1", 80]],
    )
    call("import_survey", path, "--framework", "SV")
    assert stored() == {("X1", "8.1"): (D("2.80"), None, None)}
    err, _ = call_failing("import_survey", path, "--framework", "SV", "--as", "points")
    assert "Tệp ghi giá trị là phần trăm, nhưng đang được nhập theo điểm." in err


# --- grid -------------------------------------------------------------------------------------------------


def cell(framework, unit, code):
    return cell_name(unit.pk, framework.criteria.get(code=code).pk)


def test_grid_takes_percentages_and_kad(client, framework, commune, other_commune, appraiser):
    survey_apply(framework=framework, entries={"X2": {"8.1": D("3")}})
    client.force_login(appraiser)
    url = reverse("scoring:survey_grid", args=[framework.code])
    body = client.get(url).content.decode()
    assert 'name="as" value="percent"' in body
    response = client.post(
        url,
        {
            "as": "percent",
            cell(framework, commune, "8.1"): "85,5",
            cell(framework, commune, "8.2"): "KAD",
            cell(framework, other_commune, "8.1"): "3",  # the stored points, untouched: kept as they are
            cell(framework, other_commune, "8.2"): "",
        },
    )
    assert response.status_code == 302
    assert stored() == {
        ("X1", "8.1"): (D("2.99"), None, None),
        ("X1", "8.2"): (None, True, None),
        ("X2", "8.1"): (D("3"), None, None),
    }
    body = client.get(url).content.decode()
    assert 'value="KAD"' in body and 'value="2,99"' in body
    response = client.post(url, {"as": "percent", cell(framework, commune, "8.1"): "101"})
    assert response.status_code == 200
    assert "Tỷ lệ phần trăm phải từ 0 đến 100." in response.content.decode()


def test_uploaded_file_of_percentages_previews_the_converted_points(client, framework, appraiser):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from scoring.models import ImportRecord, ImportStatus

    client.force_login(appraiser)
    csv = 'Cách nhập,phần trăm\n\nMã đơn vị,8.1,8.2,Cỡ mẫu\nX1,"85,5",KAD,200\n'.encode()
    response = client.post(
        reverse("scoring:survey_upload", args=[framework.code]), {"file": SimpleUploadedFile("pt.csv", csv)}
    )
    record = ImportRecord.objects.get()
    assert response.status_code == 302 and record.status == ImportStatus.PREVIEW, record.problems
    assert {(line["code"], line["new"]) for line in record.preview["lines"]} == {
        ("8.1", "2.99"),
        ("8.2", "KAD"),
    }
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    assert stored() == {("X1", "8.1"): (D("2.99"), None, 200), ("X1", "8.2"): (None, True, 200)}
    assert AuditEntry.objects.filter(action="survey", via=Via.IMPORT, actor=appraiser).exists()
