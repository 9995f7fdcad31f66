import datetime
from decimal import Decimal

import pytest

from scoring.models import Assessment, Score
from tests.publishing import walk_and_publish

from .factories import make_framework, make_unit, rows_from_spec
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db

SPEC = [
    ("1", 5),
    ("1.1", 5),
    ("8", 31.5, "score", "survey"),
    ("8.1", 10, "score", "survey"),
    ("8.2", 6, "score", "survey"),
    ("8.3", 15.5, "score", "survey"),
]


@pytest.fixture
def framework(district, commune, other_commune):
    return make_framework(district, rows=rows_from_spec(SPEC), code="FW")


def survey_points():
    return {
        (s.assessment.unit.code, s.criterion.code): s.appraised_points
        for s in Score.objects.select_related("assessment__unit", "criterion")
    }


def test_survey_points_for_all_units_with_decimal_commas(tmp_path, framework):
    path = write_xlsx(
        tmp_path / "dtxhh.xlsx",
        [
            ["KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC"],
            [],
            ["Mã đơn vị", "Tên đơn vị", "8.1", "8.2. Cán bộ, công chức", 8.3],
            ["X1", "Xã Một", 9.5, "5,25", "14,75"],
            [],
            ["X2", "Xã Hai", "8", 4, None],
        ],
    )
    out, _ = call("import_survey", path, "--framework", "FW")
    assert survey_points() == {
        ("X1", "8.1"): Decimal("9.5"),
        ("X1", "8.2"): Decimal("5.25"),
        ("X1", "8.3"): Decimal("14.75"),
        ("X2", "8.1"): Decimal("8"),
        ("X2", "8.2"): Decimal("4"),  # an empty cell stores nothing
    }
    assert Assessment.objects.count() == 2  # created for units that had none
    assert "2 đơn vị" in out


def test_csv_with_semicolons(tmp_path, framework):
    path = write_csv(tmp_path / "s.csv", [["Mã đơn vị", "8.1"], ["X1", "7,5"]], delimiter=";", bom=True)
    call("import_survey", path, "--framework", "FW")
    assert survey_points() == {("X1", "8.1"): Decimal("7.5")}


def test_every_bad_cell_is_reported_and_nothing_is_saved(tmp_path, framework, district):
    make_unit("PB", kind="department", parent=district)
    path = write_xlsx(
        tmp_path / "bad.xlsx",
        [
            ["Mã đơn vị", "8.1", "1.1", "9.9", "8", "Điểm lạ", "8.2"],
            ["X1", 11, None, None, None, None, "-1"],
            ["NOPE", 1],
            ["X2", "năm", None, None, None, None, "KAD"],  # KAD: not applicable to X2
            ["PB", 1],
            ["X1", 1],
        ],
    )
    err, error = call_failing("import_survey", path, "--framework", "FW")
    assert Score.objects.count() == 0 and Assessment.objects.count() == 0
    for expected in (
        "bad.xlsx [Sheet1] C1: Tiêu chí 1.1 không phải tiêu chí điều tra xã hội học.",
        "bad.xlsx [Sheet1] D1: Tiêu chí 9.9 không có trong bộ chỉ số FW.",
        "bad.xlsx [Sheet1] E1: Tiêu chí 8 không phải tiêu chí điều tra xã hội học.",
        "bad.xlsx [Sheet1] F1: Cột “Điểm lạ” không phải mã tiêu chí điều tra xã hội học",
        "bad.xlsx [Sheet1] B2 (tiêu chí 8.1): 11 lớn hơn điểm tối đa 10",
        "bad.xlsx [Sheet1] G2 (tiêu chí 8.2): -1 là số âm",
        "bad.xlsx [Sheet1] A3: Không có đơn vị mã NOPE.",
        "bad.xlsx [Sheet1] B4: “năm” không phải là số.",
        "bad.xlsx [Sheet1] A5: Đơn vị PB thuộc loại",
        "bad.xlsx [Sheet1] A6: Đơn vị X1 xuất hiện hai lần (lần đầu ở dòng 2).",
        "bad.xlsx [Sheet1] B2 (criterion 8.1): 11 is more than the maximum 10",
    ):
        assert expected in err
    assert "10 lỗi" in str(error)  # KAD is no longer a problem: it marks the leaf not applicable


def test_published_framework_refuses_survey(tmp_path, framework):
    walk_and_publish(
        framework=framework, decision_number="1/QĐ-UBND", decision_date=datetime.date(2024, 12, 1)
    )
    err, _ = call_failing(
        "import_survey",
        write_xlsx(tmp_path / "s.xlsx", [["Mã đơn vị", "8.1"], ["X1", 1]]),
        "--framework",
        "FW",
    )
    assert "đã được công bố" in err and "is published" in err
    assert Score.objects.count() == 0


def test_missing_unit_column_or_survey_columns(tmp_path, framework):
    err, _ = call_failing(
        "import_survey", write_xlsx(tmp_path / "a.xlsx", [["Đơn vị", "8.1"], ["X1", 1]]), "--framework", "FW"
    )
    assert "'Mã đơn vị'" in err
    err, _ = call_failing(
        "import_survey",
        write_xlsx(tmp_path / "b.xlsx", [["Mã đơn vị", "Tên đơn vị"], ["X1", "a"]]),
        "--framework",
        "FW",
    )
    assert "Tệp không có cột tiêu chí điều tra xã hội học nào." in err


def test_survey_formula_cells_are_refused(tmp_path, district, commune):
    framework = make_framework(
        district,
        rows=rows_from_spec([("8", 10, "score", "survey"), ("8.1", 10, "score", "survey")]),
        code="S1",
    )
    path = write_xlsx(tmp_path / "s.xlsx", [["Mã đơn vị", "8.1", "Tổng"], ["X1", "=5+4", "=B2"]])
    err, _ = call_failing("import_survey", path, "--framework", framework.code)
    assert "B2: Ô này chứa công thức" in err and "C2" not in err
