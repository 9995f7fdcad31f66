"""How a framework is defined: sources mixed at any level, scoring rules stored on the leaves,
official codes with a parent column, the index cap and optional survey options, and the two
realistic sets in scoring/demo_data imported, exported and imported again unchanged."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from scoring.frameworks.services import (
    CriterionRow,
    criterion_update,
    framework_copy,
    framework_create,
    framework_update,
    tree_problems,
)
from scoring.models import Criterion, CriterionSource, Framework, Via

from .factories import SHARED_DATA, make_framework
from .sheet_files import (
    call,
    call_failing,
    vietnamese,  # noqa: F401 (autouse fixture)
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db

D = Decimal
HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Loại", "Nguồn", "Cách chấm", "Mã cấp trên"]
COMMUNE_2025 = SHARED_DATA / "framework-commune-2025.csv"
DEPARTMENT_CODES = SHARED_DATA / "framework-department-codes.csv"


def options(code="FW", **extra):
    args = {
        "--code": code,
        "--authority": "H",
        "--unit-kind": "commune",
        "--year": "2025",
        "--name": "Bộ chỉ số cấp xã 2025",
    }
    args.update(extra)
    return [item for pair in args.items() for item in pair]


def snapshot(code):
    """Every field of every criterion of a framework, in order, and the framework's options."""
    framework = Framework.objects.get(code=code)
    criteria = [
        (
            c.order,
            c.code,
            c.parent.code if c.parent else None,
            c.area.code,
            c.depth,
            c.is_leaf,
            c.title,
            c.max_points,
            c.kind,
            c.source,
            c.rule,
            c.guidance,
            c.allows_not_applicable,
        )
        for c in framework.criteria.select_related("parent", "area").order_by("order")
    ]
    return criteria, (framework.index_capped, framework.survey_optional)


# --- the 2025 commune-level set ---------------------------------------------------------------------------


def test_commune_2025_set_mixes_sources_inside_areas_and_uses_every_rule(district):
    out, _ = call("import_framework", COMMUNE_2025, *options(**{"--survey": "optional"}))
    assert "FW" in out
    framework = Framework.objects.get(code="FW")
    assert (framework.index_capped, framework.survey_optional) == (True, True)
    criteria = {c.code: c for c in framework.criteria.all()}
    areas = [c for c in framework.criteria.order_by("order") if c.parent_id is None]
    assert [a.code for a in areas] == [str(n) for n in range(1, 11)]  # 8 contents, bonus, penalty
    assert [a.kind for a in areas[-2:]] == ["bonus", "penalty"]
    assert sum(a.max_points for a in areas if a.kind == "score") == D("100")
    assert (criteria["9"].max_points, criteria["10"].max_points) == (D("3"), D("4"))
    leaves = [c for c in criteria.values() if c.is_leaf and c.kind == "score"]
    by_source = {s: sum(c.max_points for c in leaves if c.source == s) for s in CriterionSource.values}
    assert by_source == {"self": D("59"), "survey": D("30"), "office": D("11")}
    # Survey and office criteria sit inside areas, beside self criteria.
    area_3 = {c.source for c in leaves if c.area_id == criteria["3"].pk}
    assert area_3 == {"self", "survey", "office"}
    assert (criteria["3.5"].source, criteria["3.5"].parent.code) == ("survey", "3")
    assert criteria["3.4"].source == "office" and criteria["3.4"].rule == "bands:90=3;80=2;70=1;0=0"
    # Every rule is used; rules are stored in their canonical text.
    kinds = {c.rule.partition(":")[0] or "points" for c in criteria.values() if c.is_leaf}
    assert kinds == {"points", "steps", "yesno", "percent", "bands", "deduct"}
    assert criteria["1.1.1"].rule == "steps:0;0,5;1"
    assert criteria["1.2"].rule == "deduct:0,25"
    assert criteria["2.4"].rule == ""  # points, the default
    assert criteria["1.1"].rule == "" and not criteria["1.1"].is_leaf
    assert (criteria["3.2.1"].depth, criteria["3.2.1"].parent.code, criteria["3.2.1"].area.code) == (
        2,
        "3.2",
        "3",
    )


def test_department_set_keeps_official_codes_parents_and_file_order(district):
    call("import_framework", DEPARTMENT_CODES, *options(code="SO", **{"--unit-kind": "department"}))
    criteria = list(Criterion.objects.filter(framework__code="SO").select_related("parent", "area"))
    codes = [c.code for c in criteria]
    assert codes[:11] == ["I", "1", "a1", "b1", "2", "3", "a3", "b3", "4", "5", "6"]
    assert codes[-4:] == ["IX", "28", "X", "29"]
    by_code = {c.code: c for c in criteria}
    assert [(c.parent.code if c.parent else None) for c in criteria[:4]] == [None, "I", "1", "1"]
    assert (by_code["a1"].depth, by_code["a1"].area.code, by_code["1"].depth) == (2, "I", 1)
    assert [c.code for c in criteria if c.depth == 0] == [
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
        "IX",
        "X",
    ]
    assert sum(c.max_points for c in criteria if c.depth == 0 and c.kind == "score") == D("100")
    assert by_code["I"].max_points == D("13") and by_code["12"].max_points == D("6")
    assert (by_code["13"].source, by_code["13"].rule) == ("office", "bands:90=4;80=3;70=2;0=0")
    assert (by_code["a12"].rule, by_code["b12"].rule) == ("bands:100=4;98=3;95=2;0=0", "deduct:0,5")
    assert by_code["16"].rule == "steps:0;1,5;3"
    assert {c.source for c in criteria if c.parent and c.parent.code == "VIII"} == {"survey"}
    assert [c.order for c in criteria] == sorted(c.order for c in criteria)


@pytest.mark.parametrize("data_file", [COMMUNE_2025, DEPARTMENT_CODES])
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("cap,survey", [("none", "optional"), ("100", "required")])
def test_export_then_import_gives_the_identical_set(tmp_path, district, data_file, suffix, cap, survey):
    call("import_framework", data_file, *options(code="A", **{"--index-cap": cap, "--survey": survey}))
    out = tmp_path / f"export{suffix}"
    call("export_framework", "--framework", "A", "--out", out)
    # The workbook carries the options in its hidden sheet; a CSV file has only the criteria.
    given = {} if suffix == ".xlsx" else {"--index-cap": cap, "--survey": survey}
    call("import_framework", out, *options(code="B", **{"--year": "2026", **given}))
    first, second = snapshot("A"), snapshot("B")
    assert first == second
    assert first[1] == (cap == "100", survey == "optional")
    assert len(first[0]) == Criterion.objects.filter(framework__code="A").count() > 40


def test_the_command_line_overrides_the_options_of_an_exported_workbook(tmp_path, district):
    call(
        "import_framework",
        DEPARTMENT_CODES,
        *options(code="A", **{"--index-cap": "none", "--survey": "optional"}),
    )
    out = tmp_path / "export.xlsx"
    call("export_framework", "--framework", "A", "--out", out)
    call(
        "import_framework",
        out,
        *options(code="B", **{"--year": "2026", "--index-cap": "100", "--survey": "required"}),
    )
    assert snapshot("B")[1] == (True, False) and snapshot("A")[0] == snapshot("B")[0]


def test_options_default_to_capped_and_required(tmp_path, district):
    path = write_csv(tmp_path / "fw.csv", [HEADER, ["1", "A", "1"]])
    call("import_framework", path, *options())
    assert snapshot("FW")[1] == (True, False)
    _, error = call_failing("import_framework", path, *options(code="X", **{"--index-cap": "150"}))
    assert "150" in str(error) and not Framework.objects.filter(code="X").exists()


# --- the framework file: sources, rules and parents, problems by cell --------------------------------------


def test_sources_in_vietnamese_words_and_office(tmp_path, district):
    path = write_csv(
        tmp_path / "fw.csv",
        [
            HEADER,
            ["1", "Khu vực", "6", "", "điều tra"],
            ["1.1", "Tự chấm", "1", "", "Tự đánh giá"],
            ["1.2", "Khảo sát", "1", "", "Điều tra xã hội học"],
            ["1.3", "Cơ quan chấm", "1", "", "cơ quan"],
            ["1.4", "Thẩm định chấm", "1", "", "Thẩm định"],
            ["1.5", "Office", "1", "", "OFFICE"],
            ["1.6", "Survey", "1", "", "survey"],
        ],
    )
    call("import_framework", path, *options())
    assert list(Criterion.objects.filter(framework__code="FW").values_list("code", "source")) == [
        ("1", "survey"),
        ("1.1", "self"),
        ("1.2", "survey"),
        ("1.3", "office"),
        ("1.4", "office"),
        ("1.5", "office"),
        ("1.6", "survey"),
    ]


def test_rule_and_parent_problems_are_placed_on_their_cells(tmp_path, district):
    path = write_xlsx(
        tmp_path / "bad.xlsx",
        [
            HEADER,
            ["I", "Khu vực", "4", "", "", "yesno"],  # a rule on a parent
            ["1", "Mức", "2", "", "", "steps:0;0,5;3", "I"],  # 3 > max 2
            ["2", "Lạ", "1", "", "", "tùy ý", "I"],  # unknown rule
            ["3", "Ngưỡng", "1", "", "", "bands:100=1;chín mươi=0,5", "I"],  # not a number
            ["a", "Mồ côi", "1", "", "", "", "Z"],  # unknown parent
            ["b", "Trước cha", "1", "", "", "", "c"],  # parent comes later
            ["c", "Sau con", "1", "", "", "", "b"],  # and b, c form a cycle
            ["d", "Nguồn lạ", "1", "", "hỏi dân"],
            ["e e", "Mã sai", "1"],
        ],
    )
    err, error = call_failing("import_framework", path, *options())
    assert Framework.objects.count() == 0 and Criterion.objects.count() == 0
    for expected in (
        "[Sheet1] F2: Tiêu chí I có tiêu chí con; cách chấm chỉ ghi cho tiêu chí không có tiêu chí con.",
        "[Sheet1] F3 (tiêu chí 1): ",
        "[Sheet1] F4 (tiêu chí 2): ",
        "[Sheet1] F5 (tiêu chí 3): ",
        "[Sheet1] G6: Mã a đứng trước hoặc không có tiêu chí cha Z.",
        "[Sheet1] G7: Mã b đứng trước hoặc không có tiêu chí cha c.",
        "[Sheet1] E9: Nguồn “hỏi dân” không hợp lệ",
        "[Sheet1] A10: “e e” không phải mã tiêu chí",
        # The English half names the same cells.
        "[Sheet1] F2: Criterion I has children; a scoring rule belongs on a leaf criterion.",
        "[Sheet1] G6: Code a comes before or without its parent Z.",
        "[Sheet1] E9: Unknown source “hỏi dân”; use self, survey or office.",
    ):
        assert expected in err, expected
    # The cycle b → c → b: b's parent comes later, so the file is refused on b.
    assert "G8" not in err
    lines = {line.strip() for line in err.splitlines()}
    f3 = next(line for line in lines if "F3 (tiêu chí 1)" in line)
    assert "3" in f3 and "2" in f3  # the value over the maximum and the maximum
    assert "F3 (criterion 1)" in err and "F4 (criterion 2)" in err
    assert "8 lỗi" in str(error)


def test_codes_without_dots_need_no_parent_for_areas_and_dotted_codes_take_a_given_parent(tmp_path, district):
    path = write_csv(
        tmp_path / "fw.csv",
        [
            HEADER,
            ["A", "Khu vực A", "", "", "", "", ""],
            ["1.1", "Con của A", "2", "", "", "percent", "A"],  # the given parent wins over the dots
            ["B", "Khu vực B", "1"],
        ],
    )
    call("import_framework", path, *options())
    criteria = {c.code: c for c in Criterion.objects.filter(framework__code="FW")}
    assert criteria["A"].max_points == D("2") and criteria["1.1"].parent == criteria["A"]
    assert (criteria["1.1"].depth, criteria["1.1"].rule, criteria["B"].is_leaf) == (1, "percent", True)


# --- services --------------------------------------------------------------------------------------------


def test_tree_rules_allow_mixed_sources_and_refuse_rules_that_do_not_fit(district):
    rows = [
        CriterionRow("1", "A", D("4")),
        CriterionRow("1.1", "B", D("1"), source="survey"),
        CriterionRow("1.2", "C", D("1"), source="office", rule="yesno"),
        CriterionRow("1.3", "D", D("2"), rule="bands:100=2;90=2,5"),  # 2,5 > 2
        CriterionRow("2", "E", D("1"), rule="percent"),
        CriterionRow("2.1", "F", D("1")),
        CriterionRow("x", "G", D("1"), parent="x"),  # its own parent
    ]
    problems = tree_problems(rows)
    assert sorted((e.criterion, e.field) for e in problems) == [
        ("1.3", "rule"),
        ("2", "rule"),
        ("x", "parent"),
    ]
    assert all(
        e.obj is rows[i] for e, i in zip(sorted(problems, key=lambda e: e.criterion), (3, 4, 6), strict=True)
    )
    with pytest.raises(ServiceError):
        framework_create(code="T", authority=district, unit_kind="commune", year=2030, name="T", rows=rows)
    assert not Framework.objects.filter(code="T").exists()
    framework = framework_create(
        code="T",
        authority=district,
        unit_kind="commune",
        year=2030,
        name="T",
        rows=[*rows[:3], CriterionRow("1.3", "D", D("2"), rule=" Bands : 90 = 2 ; 0=0 ")],
        index_capped=False,
        survey_optional=True,
    )
    assert (framework.index_capped, framework.survey_optional) == (False, True)
    stored = dict(framework.criteria.values_list("code", "rule"))
    assert stored == {"1": "", "1.1": "", "1.2": "yesno", "1.3": "bands:90=2;0=0"}


def test_copy_to_next_year_keeps_rules_parents_and_options(tmp_path, district, appraiser):
    call(
        "import_framework",
        DEPARTMENT_CODES,
        *options(
            code="SO-2025", **{"--unit-kind": "department", "--index-cap": "none", "--survey": "optional"}
        ),
    )
    source = Framework.objects.get(code="SO-2025")
    framework_copy(source=source, code="SO-2026", year=2026, name="Sở 2026", actor=appraiser)
    first, second = snapshot("SO-2025"), snapshot("SO-2026")
    assert first == second and second[1] == (False, True)


def test_framework_options_and_a_leaf_rule_are_corrected_through_the_services(district, appraiser):
    framework = make_framework(district, code="XA", year=2024)
    framework_update(
        framework=framework, changes={"index_capped": False, "survey_optional": True}, actor=appraiser
    )
    framework.refresh_from_db()
    assert (framework.index_capped, framework.survey_optional) == (False, True)
    leaf = framework.criteria.get(code="1.1.1")  # max 1
    criterion_update(criterion=leaf, changes={"rule": "steps: 0 ; 0.5 ; 1"}, actor=appraiser)
    leaf.refresh_from_db()
    assert leaf.rule == "steps:0;0,5;1"
    entry = AuditEntry.objects.get(criterion_id=leaf.pk, action="criterion_change", field="rule")
    assert (entry.old_value, entry.new_value) == ("", "steps:0;0,5;1")
    with pytest.raises(ServiceError) as refused:
        criterion_update(criterion=leaf, changes={"rule": "steps:0;1;2"}, actor=appraiser)
    assert (refused.value.field, refused.value.criterion, refused.value.error_code) == (
        "rule",
        "1.1.1",
        ErrorCode.INVALID,
    )
    with pytest.raises(ServiceError) as refused:
        criterion_update(
            criterion=framework.criteria.get(code="1"), changes={"rule": "yesno"}, actor=appraiser
        )
    assert refused.value.field == "rule"
    # Back to points: stored as "".
    criterion_update(criterion=leaf, changes={"rule": "points"}, actor=appraiser)
    leaf.refresh_from_db()
    assert leaf.rule == ""


# --- admin and pages -------------------------------------------------------------------------------------


def test_admin_criterion_rule_edit_is_checked_against_its_max(admin_client, district):
    framework = make_framework(district, code="XA", year=2024)
    leaf = framework.criteria.get(code="1.1.2")  # max 2
    change = reverse("admin:scoring_criterion_change", args=[leaf.pk])
    data = {"title": leaf.title, "guidance": leaf.guidance, "allows_not_applicable": "on"}
    response = admin_client.post(change, {**data, "rule": "bands:100=3;0=0"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "rule" in errors and "3" in errors["rule"][0]
    leaf.refresh_from_db()
    assert leaf.rule == ""
    response = admin_client.post(change, {**data, "rule": "bands:100=2;80=1;0=0"})
    assert response.status_code == 302
    leaf.refresh_from_db()
    assert leaf.rule == "bands:100=2;80=1;0=0"


def test_criteria_page_shows_sources_and_rules(client, district, appraiser):
    call("import_framework", COMMUNE_2025, *options())
    client.force_login(appraiser)
    page = client.get(reverse("scoring:framework_criteria", args=["FW"])).content.decode()
    assert "Cơ quan thẩm định chấm" in page
    assert "Tỷ lệ" in page or "%" in page
    row = page[page.index('id="criterion-3.4"') :]
    row = row[: row.index("</tr>")]
    assert "Cơ quan thẩm định chấm" in row and "90" in row
    translation.activate("en")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("scoring:framework_criteria", args=["FW"])).content.decode()
    row = page[page.index('id="criterion-1.2"') :]
    row = row[: row.index("</tr>")]
    assert "Occurrences: maximum − 0.25 per occurrence, not below 0" in row
    assert "Self-assessed by the unit" in row


def test_web_import_takes_the_options(client, district, appraiser, tmp_path):
    client.force_login(appraiser)
    with open(DEPARTMENT_CODES, "rb") as handle:
        response = client.post(
            reverse("scoring:framework_import"),
            {
                "file": handle,
                "code": "SO-WEB",
                "name": "Sở 2025",
                "authority": "H",
                "unit_kind": "department",
                "year": "2025",
                "bands": "Tốt:90,Khá:70,Trung bình:50,Kém:0",
                "decimals": "2",
                "index_cap": "none",
                "survey": "optional",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    framework = Framework.objects.get(code="SO-WEB")
    assert (framework.index_capped, framework.survey_optional) == (False, True)
    exported = client.get(
        reverse("scoring:framework_export", args=["SO-WEB"]) + "?format=csv&sep=,"
    ).content.decode()
    assert (
        exported.splitlines()[0].lstrip("\ufeff")
        == "Mã,Tiêu chí,Điểm tối đa,Loại,Nguồn,Cách chấm,Mã cấp trên,Hướng dẫn"
    )
    assert "a12,Tỷ lệ hồ sơ giải quyết đúng hạn,4,score,self,bands:100=4;98=3;95=2;0=0,12," in exported
    assert Via.IMPORT in AuditEntry.objects.filter(framework_id=framework.pk).values_list("via", flat=True)


def test_admin_add_copies_rules_parents_and_takes_the_options(admin_client, district):
    call("import_framework", DEPARTMENT_CODES, *options(code="SO-2025", **{"--unit-kind": "department"}))
    response = admin_client.post(
        reverse("admin:scoring_framework_add"),
        {
            "code": "SO-2026",
            "name": "Sở 2026",
            "authority": district.pk,
            "unit_kind": "department",
            "year": "2026",
            "copy_from": Framework.objects.get(code="SO-2025").pk,
            "bands": "",
            "index_decimals": "2",
            "survey_optional": "on",  # index_capped left unticked: no cap
            "legal_basis": "",
            "self_deadline_0": "",
            "self_deadline_1": "",
            "appraisal_deadline_0": "",
            "appraisal_deadline_1": "",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert snapshot("SO-2026")[0] == snapshot("SO-2025")[0]
    assert snapshot("SO-2026")[1] == (False, True)


def test_criteria_page_reads_a_fixed_number_of_queries(client, district, appraiser):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call("import_framework", COMMUNE_2025, *options(code="BIG"))
    small = make_framework(district, code="SMALL", year=2023, rows=[CriterionRow("1", "A", D("1"))])
    client.force_login(appraiser)
    counts = []
    for code in ("BIG", small.code):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("scoring:framework_criteria", args=[code])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_survey_leaves_take_no_rule_and_a_scored_leaf_keeps_its_rule(tmp_path, district, commune, appraiser):
    from scoring.assessments.services import assessment_get_or_create
    from scoring.models import Score

    path = write_csv(
        tmp_path / "fw.csv",
        [HEADER, ["1", "A", "2"], ["1.1", "Khảo sát", "1", "", "điều tra", "percent"], ["1.2", "B", "1"]],
    )
    err, _ = call_failing("import_framework", path, *options())
    assert "fw.csv F3: Tiêu chí 1.1 được chấm theo kết quả điều tra xã hội học (điểm hoặc tỷ lệ %)" in err
    assert "fw.csv F3: Criterion 1.1 is scored by the survey (points or a percentage)" in err
    framework = make_framework(district, code="XA", year=2024)
    survey_leaf = framework.criteria.filter(source="survey", is_leaf=True).first()
    with pytest.raises(ServiceError) as refused:
        criterion_update(criterion=survey_leaf, changes={"rule": "percent"}, actor=appraiser)
    assert (refused.value.field, refused.value.criterion) == ("rule", survey_leaf.code)
    leaf = framework.criteria.get(code="1.1.1")
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    Score.objects.create(assessment=assessment, criterion=leaf, self_points=D("1"))
    with pytest.raises(ServiceError) as refused:
        criterion_update(criterion=leaf, changes={"rule": "yesno"}, actor=appraiser)
    assert refused.value.error_code == ErrorCode.CONFLICT and refused.value.field == "rule"
    criterion_update(criterion=leaf, changes={"title": "Sửa tên"}, actor=appraiser)  # wording still may
    leaf.refresh_from_db()
    assert (leaf.rule, leaf.title) == ("", "Sửa tên")
