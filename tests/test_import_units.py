import pytest

from units.models import Unit, UnitKind

from .factories import make_unit
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_csv,
    write_xlsx,
)

HEADER = ["Mã đơn vị", "Tên đơn vị", "Loại", "Mã đơn vị cấp trên", "Mã đơn vị trước sắp xếp"]

pytestmark = pytest.mark.django_db


def test_imports_units_with_parents_later_in_file_vietnamese_kinds_and_predecessors(tmp_path):
    path = write_xlsx(
        tmp_path / "units.xlsx",
        [
            ["DANH SÁCH ĐƠN VỊ"],
            [],
            HEADER,
            ["X1", "Xã Một", "Xã", "H", ""],  # parent defined further down
            ["T", "Tỉnh Thử", "tỉnh", None, None],
            ["H", "Huyện Thử", "HUYỆN", "T"],
            [],
            ["P1", "Phường Một", "phường", "H"],
            ["TT", "Thị trấn", "Thị trấn", "H"],
            ["DK", "Đặc khu", "đặc khu", "T"],
            ["S1", "Sở Nội vụ", "sở", "T"],
            ["PNV", "Phòng Nội vụ", "Phòng", "H"],
            ["M", "Xã Mới", "commune", "H", "X1; P1"],
        ],
    )
    out, _err = call("import_units", path)
    assert "đã tạo 9 đơn vị" in out
    units = {u.code: u for u in Unit.objects.select_related("parent")}
    assert units["X1"].parent.code == "H" and units["H"].parent.code == "T" and units["T"].parent is None
    assert units["X1"].path == f"{units['T'].path}{units['H'].pk}/{units['X1'].pk}/"
    assert units["X1"].kind == units["M"].kind == UnitKind.COMMUNE
    assert (units["P1"].kind, units["TT"].kind, units["DK"].kind) == (
        UnitKind.WARD,
        UnitKind.TOWNSHIP,
        UnitKind.SPECIAL_ZONE,
    )
    assert units["S1"].kind == units["PNV"].kind == UnitKind.DEPARTMENT
    assert units["T"].kind == UnitKind.PROVINCE and units["H"].kind == UnitKind.DISTRICT
    assert sorted(units["M"].predecessors.values_list("code", flat=True)) == ["P1", "X1"]


def test_reimport_is_idempotent_and_updates(tmp_path):
    rows = [HEADER, ["T", "Tỉnh", "province"], ["H", "Huyện", "district", "T"], ["X1", "Xã", "commune", "H"]]
    path = write_xlsx(tmp_path / "u.xlsx", rows)
    call("import_units", path)
    first = {u.code: (u.pk, u.path) for u in Unit.objects.all()}
    out, _ = call("import_units", path)
    assert "đã tạo 0 đơn vị, cập nhật 3 đơn vị" in out
    assert {u.code: (u.pk, u.path) for u in Unit.objects.all()} == first
    rows[3] = ["X1", "Xã Một (mới)", "commune", "T"]
    call("import_units", write_xlsx(tmp_path / "u2.xlsx", rows))
    x1 = Unit.objects.get(code="X1")
    assert x1.name == "Xã Một (mới)" and x1.parent.code == "T"
    assert Unit.objects.count() == 3


def test_parent_and_predecessor_may_exist_already_and_active_years_are_kept(tmp_path, district):
    old = make_unit("OLD", parent=district, active_to=2024)
    path = write_csv(
        tmp_path / "u.csv",
        [["code", "name", "kind", "parent", "predecessors"], ["NEW", "Xã mới", "commune", "H", "OLD"]],
    )
    call("import_units", path)
    new = Unit.objects.get(code="NEW")
    assert new.parent == district and list(new.predecessors.all()) == [old]
    call("import_units", write_csv(tmp_path / "u2.csv", [["code", "name", "kind"], ["OLD", "Xã cũ", "xã"]]))
    old.refresh_from_db()
    assert old.active_to == 2024 and old.parent is None


def test_every_problem_is_reported_by_cell_and_nothing_is_saved(tmp_path):
    path = write_xlsx(
        tmp_path / "bad.xlsx",
        [
            HEADER,
            ["T", "Tỉnh", "tỉnh"],
            ["T", "Tỉnh lần hai", "tỉnh"],
            ["X 1", "Xã", "xã", "T"],
            ["X2", "", "xã", "T"],
            ["X3", "Xã Ba", "làng", "T"],
            ["X4", "Xã Bốn", "xã", "ZZ", "Q1;T"],
            ["", "Không mã", "xã", "T"],
            ["X5", "Xã Năm", "xã", "X5"],
        ],
    )
    err, error = call_failing("import_units", path)
    assert Unit.objects.count() == 0
    for expected in (
        "bad.xlsx [Sheet1] A3: Mã đơn vị T xuất hiện hai lần (lần đầu ở dòng 2).",
        "bad.xlsx [Sheet1] A4: X 1 không phải mã đơn vị hợp lệ",
        "bad.xlsx [Sheet1] B5: Thiếu tên đơn vị.",
        "bad.xlsx [Sheet1] C6: Loại đơn vị “làng” không hợp lệ",
        "bad.xlsx [Sheet1] D7: Đơn vị cấp trên ZZ không có trong tệp này",
        "bad.xlsx [Sheet1] E7: Đơn vị trước sắp xếp Q1 không có trong tệp này",
        "bad.xlsx [Sheet1] A8: Thiếu mã đơn vị.",
        "bad.xlsx [Sheet1] D9: Đơn vị không thể là cấp trên của chính nó.",
        "bad.xlsx [Sheet1] A3: Unit code T appears twice (first in row 2).",
        "bad.xlsx [Sheet1] C6: Unknown kind of unit “làng”",
    ):
        assert expected in err
    assert err.index("Thiếu tên đơn vị") < err.index("The unit name is missing")
    assert "8 lỗi" in str(error) and "8 problem(s)" in str(error)


def test_cycles_in_file_and_with_database_are_refused(tmp_path, district):
    path = write_xlsx(tmp_path / "cycle.xlsx", [HEADER, ["A", "A", "xã", "B"], ["B", "B", "xã", "A"]])
    err, _ = call_failing("import_units", path)
    assert "D2: Đơn vị A sẽ nằm dưới chính nó" in err and "D3: Đơn vị B sẽ nằm dưới chính nó" in err
    # T is above H in the database; putting T under H closes a loop through the database.
    path = write_xlsx(tmp_path / "cycle2.xlsx", [HEADER, ["T", "Tỉnh", "tỉnh", "H"]])
    err, _ = call_failing("import_units", path)
    assert "D2: Đơn vị T sẽ nằm dưới chính nó" in err
    assert Unit.objects.get(code="T").parent is None
    assert Unit.objects.count() == 2


def test_missing_columns_and_bad_files_are_refused(tmp_path):
    err, _ = call_failing("import_units", write_xlsx(tmp_path / "h.xlsx", [["Mã", "Tên"], ["A", "B"]]))
    assert "Không tìm thấy dòng tiêu đề có các cột 'Mã đơn vị', 'Tên đơn vị', 'Loại'" in err
    text = tmp_path / "renamed.xlsx"
    text.write_text("Mã đơn vị,Tên đơn vị,Loại\n")
    err, _ = call_failing("import_units", text)
    assert "renamed.xlsx: Đây không phải bảng tính Excel" in err
    assert Unit.objects.count() == 0
