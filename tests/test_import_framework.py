import datetime
from decimal import Decimal

import pytest

from scoring.models import Criterion, Framework, GradeBand
from tests.publishing import walk_and_publish

from .factories import SHARED_DATA, make_framework, rows_from_csv, rows_from_spec
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db

HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Loại", "Nguồn", "Hướng dẫn"]


def options(code="FW", **extra):
    args = {
        "--code": code,
        "--authority": "H",
        "--unit-kind": "commune",
        "--year": "2024",
        "--name": "Bộ chỉ số cấp xã 2024",
    }
    args.update(extra)
    return [item for pair in args.items() for item in pair]


def tree(code):
    return [
        (
            c.code,
            c.title,
            c.max_points,
            c.kind,
            c.source,
            c.guidance,
            c.depth,
            c.is_leaf,
            c.parent.code if c.parent else None,
        )
        for c in Criterion.objects.filter(framework__code=code).select_related("parent").order_by("order")
    ]


def test_imports_the_shared_commune_framework_csv(district):
    out, _ = call(
        "import_framework",
        SHARED_DATA / "framework-commune.csv",
        *options(
            **{
                "--bands": "Tốt:90,Khá:70,Trung bình:50,Kém:0",
                "--decimals": "3",
                "--legal-basis": "QĐ 1/QĐ-UBND",
            }
        ),
    )
    framework = Framework.objects.get(code="FW")
    expected = rows_from_csv("framework-commune.csv")
    assert [(c[0], c[1], c[2], c[3], c[4], c[5]) for c in tree("FW")] == [
        (r.code, r.title, r.max_points, r.kind, r.source, r.guidance) for r in expected
    ]
    assert framework.index_decimals == 3 and framework.legal_basis == "QĐ 1/QĐ-UBND"
    assert list(GradeBand.objects.filter(framework=framework).values_list("name", flat=True)) == [
        "Tốt",
        "Khá",
        "Trung bình",
        "Kém",
    ]
    assert f"Đã tạo bộ chỉ số FW: {len(expected)} tiêu chí" in out


def test_xlsx_with_title_rows_decimal_commas_blank_parent_max_and_english_words(tmp_path, district):
    path = write_xlsx(
        tmp_path / "fw.xlsx",
        [
            ["BỘ CHỈ SỐ CẢI CÁCH HÀNH CHÍNH CẤP XÃ"],
            ["(Kèm theo Quyết định số 1/QĐ-UBND)"],
            [],
            ["mã", "TIÊU CHÍ", "điểm tối đa", "loại", "nguồn", "hướng dẫn"],
            ["1", "Chỉ đạo, điều hành", None, "", ""],
            ["1.1", "Kế hoạch", "13,5", "điểm", "tự đánh giá", "Ban hành đúng hạn"],
            [1.2, "Báo cáo", 1.5],
            [],
            ["2", "Điều tra xã hội học", "20", "score", "Điều tra XHH"],
            ["2.1", "Người dân", "20", "", "survey"],
            ["3", "Điểm thưởng", "2", "Điểm thưởng"],
            ["3.1", "Khen thưởng", "2,0", "thưởng"],
            ["4", "Điểm trừ", "1", "penalty"],
            ["4.1", "Vi phạm", "1", "trừ"],
        ],
    )
    call("import_framework", path, *options())
    assert [c[:5] for c in tree("FW")] == [
        ("1", "Chỉ đạo, điều hành", Decimal("15"), "score", "self"),
        ("1.1", "Kế hoạch", Decimal("13.5"), "score", "self"),
        ("1.2", "Báo cáo", Decimal("1.5"), "score", "self"),
        ("2", "Điều tra xã hội học", Decimal("20"), "score", "survey"),
        ("2.1", "Người dân", Decimal("20"), "score", "survey"),
        ("3", "Điểm thưởng", Decimal("2"), "bonus", "self"),
        ("3.1", "Khen thưởng", Decimal("2"), "bonus", "self"),
        ("4", "Điểm trừ", Decimal("1"), "penalty", "self"),
        ("4.1", "Vi phạm", Decimal("1"), "penalty", "self"),
    ]


def test_english_header_csv_with_semicolons(tmp_path, district):
    path = write_csv(
        tmp_path / "fw.csv",
        [
            ["code", "title", "max_points", "kind", "source", "guidance"],
            ["1", "A", "3,5"],
            ["1.1", "B", "3,5"],
        ],
        delimiter=";",
        bom=True,
    )
    call("import_framework", path, *options())
    assert [c[:3] for c in tree("FW")] == [("1", "A", Decimal("3.5")), ("1.1", "B", Decimal("3.5"))]


def test_every_row_problem_is_reported_by_cell_and_nothing_is_saved(tmp_path, district):
    path = write_xlsx(
        tmp_path / "bad.xlsx",
        [
            ["Bộ chỉ số"],
            HEADER,
            ["1", "Khu vực", "10"],  # children add up to 5 + 1.5 (row 5 is broken) -> mismatch skipped
            ["1.1", "", "5"],  # missing title
            ["1.2", "Bad number", "năm"],  # not a number
            ["1.3", "No max", None],  # missing max on a leaf
            ["1.4", "Kind", "1", "thưởng lớn"],  # unknown kind
            ["1.5", "Source", "1", "", "hỏi dân"],  # unknown source
            ["1-a", "Bad code", "1"],
            ["2", "Khu vực 2", "13,5"],
            ["2.1", "Con", "12"],  # 12 != 13,5
            ["2.1", "Lặp", "1"],  # duplicate
            ["4.1", "Mồ côi", "1"],  # parent 4 missing
            ["5", "Âm", "-1"],
            ["6", "Ba số lẻ", "1,255"],
        ],
    )
    err, error = call_failing("import_framework", path, *options())
    assert Framework.objects.count() == 0 and Criterion.objects.count() == 0
    for expected in (
        "[Sheet1] B4: Thiếu tên tiêu chí.",
        "[Sheet1] C5: “năm” không phải là số.",
        "[Sheet1] C6 (tiêu chí 1.3): Thiếu điểm tối đa của tiêu chí chấm điểm.",
        "[Sheet1] D7: Loại “thưởng lớn” không hợp lệ",
        "[Sheet1] E8: Nguồn “hỏi dân” không hợp lệ",
        "[Sheet1] A9: “1-a” không phải mã tiêu chí",
        "[Sheet1] C10: Tiêu chí 2 có điểm tối đa 13,5 nhưng tổng điểm các tiêu chí con là 12.",
        "[Sheet1] A12: Mã 2.1 xuất hiện hai lần.",
        "[Sheet1] A13: Mã 4.1 đứng trước hoặc không có tiêu chí cha 4.",
        "[Sheet1] C14: -1 là số âm",
        "[Sheet1] C15: 1,255 có quá hai chữ số thập phân.",
        "[Sheet1] C10: Criterion 2 has max points 13.5 but its children add up to 12.",
        "[Sheet1] C15: 1.255 has more than two decimals.",
    ):
        assert expected in err
    assert "bad.xlsx" in err and "11 lỗi" in str(error)


def test_given_parent_max_is_checked_against_children_and_kind_mixes(tmp_path, district):
    path = write_csv(
        tmp_path / "fw.csv",
        [
            HEADER,
            ["1", "A", "3"],
            ["1.1", "B", "1"],
            ["1.2", "C", "1"],
            ["2", "Thưởng", "1", "bonus"],
            ["2.1", "Phạt", "1", "penalty"],
            ["3", "Khảo sát", "1", "", "survey"],
            ["3.1", "Tự chấm", "1", "", "self"],
        ],
    )
    err, _ = call_failing("import_framework", path, *options())
    assert "fw.csv C2: Tiêu chí 1 có điểm tối đa 3 nhưng tổng điểm các tiêu chí con là 2." in err
    assert "fw.csv D6: Tiêu chí 2.1 thuộc loại Điểm trừ nhưng nằm dưới 2 thuộc loại Điểm thưởng." in err
    # Sources mix freely at any level (a self criterion under a survey area is no problem).
    assert "E8" not in err and "3.1" not in err


def test_option_problems_are_reported_together(tmp_path, district):
    path = write_csv(tmp_path / "fw.csv", [HEADER, ["1", "A", "1"]])
    err, _ = call_failing(
        "import_framework",
        path,
        *options(**{"--authority": "NOPE", "--unit-kind": "village", "--bands": "Tốt"}),
    )
    assert "Không có cơ quan ban hành mã NOPE." in err
    assert "Loại đơn vị “village” không hợp lệ" in err
    assert "Tốt" in err
    assert Framework.objects.count() == 0


def test_existing_and_published_framework_codes_are_refused(tmp_path, district):
    path = write_csv(tmp_path / "fw.csv", [HEADER, ["1", "A", "1"]])
    framework = make_framework(district, rows=rows_from_spec([("1", 1)]), code="FW")
    err, _ = call_failing("import_framework", path, *options(**{"--year": "2025"}))
    assert "Mã FW đã được dùng cho bộ chỉ số Bộ chỉ số 2024 (năm 2024); hãy chọn mã khác." in err
    walk_and_publish(
        framework=framework, decision_number="4769/QĐ-UBND", decision_date=datetime.date(2024, 12, 21)
    )
    err, _ = call_failing("import_framework", path, *options(**{"--year": "2025"}))
    assert "Bộ chỉ số FW đã được công bố (quyết định 4769/QĐ-UBND); không thể thay đổi nữa." in err
    assert "Framework FW is published (decision 4769/QĐ-UBND); it can no longer be changed." in err
    assert Framework.objects.count() == 1


def test_same_authority_kind_and_year_twice_is_accepted_but_not_the_same_code(tmp_path, district):
    # Several frameworks may share authority, kind and year (DESIGN §5); codes stay unique.
    path = write_csv(tmp_path / "fw.csv", [HEADER, ["1", "A", "1"]])
    call("import_framework", path, *options("FW1"))
    call("import_framework", path, *options("FW2"))
    _err, _ = call_failing("import_framework", path, *options("FW2"))
    assert sorted(Framework.objects.values_list("code", flat=True)) == ["FW1", "FW2"]


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_export_then_import_gives_an_identical_tree(tmp_path, district, suffix):
    call(
        "import_framework",
        SHARED_DATA / "framework-department.csv",
        *options("DEP", **{"--unit-kind": "department"}),
    )
    out = tmp_path / f"export.{suffix}"
    printed, _ = call("export_framework", "--framework", "DEP", "--out", out)
    assert "Đã ghi" in printed
    call("import_framework", out, *options("DEP2", **{"--unit-kind": "department", "--year": "2025"}))
    assert tree("DEP2") == tree("DEP")
    assert len(tree("DEP")) == len(rows_from_csv("framework-department.csv"))


def test_formulas_in_a_framework_file_sum_parents_and_are_refused_elsewhere(tmp_path, district):
    # Area rows often hold =SUM(...): never trusted, they count as blank and the children's sum is used.
    rows = [HEADER, ["1", "Chỉ đạo", "=SUM(C3:C4)"], ["1.1", "Kế hoạch", 1.5], ["1.2", "Báo cáo", 12]]
    call(
        "import_framework",
        write_xlsx(tmp_path / "ok.xlsx", rows),
        "--code",
        "F1",
        "--authority",
        "H",
        "--unit-kind",
        "commune",
        "--year",
        "2024",
        "--name",
        "Bộ chỉ số",
    )
    assert Criterion.objects.get(framework__code="F1", code="1").max_points == Decimal("13.5")
    rows = [HEADER, ["1", "Chỉ đạo", 13.5], ["1.1", "=B2", 1.5], ["1.2", "Báo cáo", "=10+2"]]
    err, _ = call_failing(
        "import_framework",
        write_xlsx(tmp_path / "bad.xlsx", rows),
        "--code",
        "F2",
        "--authority",
        "H",
        "--unit-kind",
        "commune",
        "--year",
        "2025",
        "--name",
        "Bộ chỉ số",
    )
    assert "B3: Ô này chứa công thức" in err and "C4: Ô này chứa công thức" in err
    assert not Framework.objects.filter(code="F2").exists()
