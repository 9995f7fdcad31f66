"""Optimistic concurrency (issue 15, deliverable 1): every row a person edits sends the version it read,
and a save made after another person changed the row is refused (scoring.concurrency.StaleEdit) with
the other person's value, who and when, nothing written; entry paths only translate it (409 + reload
for htmx rows, the admin form's error, the import's problems). The PostgreSQL test with two real
transactions is tests/test_concurrency_postgres.py; the browser test with two sessions is
tests/browser/test_concurrency.py."""

import io
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_return,
    assessment_submit,
    not_applicable_decide,
    score_explain,
    scores_apply_appraisal,
    scores_apply_fields,
    scores_apply_self,
    survey_apply,
)
from scoring.concurrency import StaleEdit, stale_in
from scoring.frameworks.services import framework_set_deadlines, framework_update
from scoring.models import Framework, ImportRecord, ImportStatus, Score, Via
from units.models import Role

from .factories import make_framework, make_member, rows_from_spec

TREE = [
    ("1", 30),
    ("1.1", 10),
    ("1.2", 20),
    ("2", 40, "score", "survey"),
    ("2.1", 40, "score", "survey"),
]
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="XA-C")


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


@pytest.fixture
def second_appraiser(district):
    return make_member(district, Role.APPRAISER, "appraiser_b")


def score(assessment, code) -> Score:
    return Score.objects.get(assessment=assessment, criterion__code=code)


def version(assessment, code) -> int:
    row = Score.objects.filter(assessment=assessment, criterion__code=code).first()
    return row.version if row else 0


def leaf_pk(framework, code) -> int:
    return framework.criteria.get(code=code).pk


def submitted(assessment, officer):
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("8"), note="Nghị quyết 1"), "1.2": SelfEntry(D("15"), note="Kế hoạch 2")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


# --- the services: one version, one refusal -------------------------------------------------------------


def test_every_write_adds_one_to_the_version_and_an_unchanged_save_none(assessment, officer):
    assert version(assessment, "1.1") == 0
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("5"))}, actor=officer)
    assert version(assessment, "1.1") == 1
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("5"))}, actor=officer)
    assert version(assessment, "1.1") == 1  # nothing changed, nothing to refuse anybody
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("6"))}, actor=officer, versions={"1.1": 1}
    )
    assert version(assessment, "1.1") == 2


def test_an_officer_saving_a_stale_row_after_the_appraiser_is_refused_and_loses_nothing(
    assessment, officer, appraiser
):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("5"))}, actor=officer)
    read = version(assessment, "1.1")
    # The appraiser, on the unit's behalf, saves the row meanwhile.
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("9"), note="Theo biên bản kiểm tra")},
        actor=appraiser,
        on_behalf=True,
        versions={"1.1": read},
    )
    with pytest.raises(StaleEdit) as refused:
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(D("7"), note="")},
            actor=officer,
            versions={"1.1": read},
        )
    row = score(assessment, "1.1")
    assert (row.self_points, row.note, row.updated_by) == (D("9"), "Theo biên bản kiểm tra", appraiser)
    error = refused.value
    assert error.error_code == "conflict" and error.criterion == "1.1" and error.status == 409
    assert error.current["self_points"] == D("9") and error.current["note"] == "Theo biên bản kiểm tra"
    vi, en = error.text("vi"), error.text("en")
    assert "9" in vi and "Theo biên bản kiểm tra" in vi and "appraiser" in vi and "đã được" in vi
    assert "was changed by appraiser" in en and "not saved" in en
    assert row.updated_at.astimezone().strftime("%H:%M") in en


def test_two_appraisers_the_second_stale_save_is_refused(assessment, officer, appraiser, second_appraiser):
    submitted(assessment, officer)
    read = version(assessment, "1.1")
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("6"), "Thiếu hồ sơ")},
        actor=appraiser,
        versions={"1.1": read},
    )
    with pytest.raises(StaleEdit) as refused:
        scores_apply_appraisal(
            assessment=assessment,
            entries={"1.1": AppraisalEntry(D("7"), "Khác")},
            actor=second_appraiser,
            versions={"1.1": read},
        )
    row = score(assessment, "1.1")
    assert (row.appraised_points, row.appraisal_reason) == (D("6"), "Thiếu hồ sơ")
    assert "Thiếu hồ sơ" in refused.value.text("en") and "6" in refused.value.text("en")


def test_several_stale_rows_are_refused_together(assessment, officer, appraiser):
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("5")), "1.2": SelfEntry(D("5"))}, actor=officer
    )
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("6")), "1.2": SelfEntry(D("6"))},
        actor=appraiser,
        on_behalf=True,
    )
    with pytest.raises(Exception) as refused:
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(D("7")), "1.2": SelfEntry(D("7"))},
            actor=officer,
            versions={"1.1": 1, "1.2": 1},
        )
    assert sorted(e.criterion for e in stale_in(refused.value)) == ["1.1", "1.2"]
    assert score(assessment, "1.2").self_points == D("6")


def test_the_explanation_the_decision_on_not_applicable_and_the_admin_path_check_versions(
    assessment, officer, appraiser
):
    submitted(assessment, officer)
    assessment_return(
        assessment=assessment, message="Giải trình", criteria={"1.1": "Vì sao 8?"}, actor=appraiser
    )
    read = version(assessment, "1.1")
    score_explain(
        assessment=assessment, code="1.1", explanation="Đã có biên bản", actor=officer, version=read
    )
    with pytest.raises(StaleEdit):
        score_explain(assessment=assessment, code="1.1", explanation="Khác", actor=officer, version=read)
    assert score(assessment, "1.1").explanation == "Đã có biên bản"
    with pytest.raises(StaleEdit):
        scores_apply_fields(
            assessment=assessment,
            changes={"1.1": {"note": "ghi đè"}},
            actor=appraiser,
            versions={"1.1": read},
        )
    assert score(assessment, "1.1").note == "Nghị quyết 1"
    assessment_submit(assessment=assessment, actor=officer)
    with pytest.raises(StaleEdit):
        not_applicable_decide(
            assessment=assessment,
            code="1.2",
            decision="impose",
            reason="Không có nhiệm vụ",
            actor=appraiser,
            version=version(assessment, "1.2") - 1,
        )
    assert score(assessment, "1.2").appraised_not_applicable is None


def test_survey_cells_check_versions(framework, assessment, appraiser):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("10")}}, actor=appraiser)
    read = version(assessment, "2.1")
    survey_apply(framework=framework, entries={"X1": {"2.1": D("12")}}, versions={"X1": {"2.1": read}})
    with pytest.raises(StaleEdit) as refused:
        survey_apply(framework=framework, entries={"X1": {"2.1": D("30")}}, versions={"X1": {"2.1": read}})
    assert score(assessment, "2.1").appraised_points == D("12")
    assert "X1 · 2.1" in refused.value.text("en")


def test_framework_settings_check_their_version(framework, appraiser):
    read = framework.version
    framework_update(framework=framework, changes={"name": "Bộ chỉ số mới"}, actor=appraiser, version=read)
    framework.refresh_from_db()
    assert framework.version == read + 1
    with pytest.raises(StaleEdit) as refused:
        framework_update(framework=framework, changes={"name": "Cũ"}, version=read)
    assert "XA-C" in refused.value.text("en")
    with pytest.raises(StaleEdit):
        framework_set_deadlines(
            framework=framework, self_deadline=None, appraisal_deadline=None, version=read
        )
    assert Framework.objects.get(pk=framework.pk).name == "Bộ chỉ số mới"


# --- the pages: a stale row answers 409 with the other person's values and a reload link -------------------


def test_self_row_posted_stale_is_refused_with_409_and_the_other_persons_values(
    client, assessment, officer, appraiser
):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("5"))}, actor=officer)
    client.force_login(officer)
    page = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    pk = leaf_pk(assessment.framework, "1.1")
    assert f'name="version" id="version-{pk}" value="1"' in page
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("9"), note="Ghi chú của thẩm định")},
        actor=appraiser,
        on_behalf=True,
    )
    url = reverse("scoring:self_row_save", args=[assessment.pk, pk])
    response = client.post(url, {"points": "7", "note": "", "version": "1"}, **HX)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Ghi chú của thẩm định" in body and "appraiser" in body and "9" in body
    assert 'class="button reload"' in body and "#c-1.1" in body
    assert 'value="1"' in body  # the version read stays: only a reload brings the new one
    row = score(assessment, "1.1")
    assert (row.self_points, row.note) == (D("9"), "Ghi chú của thẩm định")
    # Reloaded, the row carries the new version and saves.
    response = client.post(url, {"points": "7", "note": "x", "version": str(row.version)}, **HX)
    assert response.status_code == 200 and score(assessment, "1.1").self_points == D("7")
    assert f'value="{row.version + 1}"' in response.content.decode()
    # Without JavaScript the page comes back with the refusal as a message.
    response = client.post(url, {"points": "6", "note": "", "version": "1"}, follow=True)
    assert any("officer_x1" in str(m) for m in response.context["messages"])
    assert score(assessment, "1.1").self_points == D("7")


def test_appraisal_row_and_council_grid_row_refuse_a_stale_post(
    client, assessment, officer, appraiser, second_appraiser
):
    submitted(assessment, officer)
    framework, pk = assessment.framework, leaf_pk(assessment.framework, "1.1")
    client.force_login(appraiser)
    page = client.get(reverse("scoring:assessment_appraise", args=[assessment.pk])).content.decode()
    read = version(assessment, "1.1")
    assert f'name="version" value="{read}"' in page
    scores_apply_appraisal(
        assessment=assessment, entries={"1.1": AppraisalEntry(D("6"), "Thiếu hồ sơ")}, actor=second_appraiser
    )
    url = reverse("scoring:appraisal_row_save", args=[assessment.pk, pk])
    response = client.post(url, {"points": "5", "reason": "Của tôi", "version": str(read)}, **HX)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Thiếu hồ sơ" in body and "appraiser_b" in body and 'class="button reload"' in body
    assert (score(assessment, "1.1").appraised_points, score(assessment, "1.1").appraisal_reason) == (
        D("6"),
        "Thiếu hồ sơ",
    )
    grid = reverse("scoring:council_grid_row", args=[framework.code, pk, assessment.pk])
    response = client.post(grid, {"points": "5", "reason": "Của tôi", "version": str(read)}, **HX)
    assert response.status_code == 409 and "Thiếu hồ sơ" in response.content.decode()
    assert score(assessment, "1.1").appraised_points == D("6")
    current = version(assessment, "1.1")
    response = client.post(grid, {"points": "5", "reason": "Của tôi", "version": str(current)}, **HX)
    assert response.status_code == 200 and score(assessment, "1.1").appraised_points == D("5")


def test_decision_on_not_applicable_refuses_a_stale_post(client, assessment, officer, appraiser):
    submitted(assessment, officer)
    pk = leaf_pk(assessment.framework, "1.2")
    read = version(assessment, "1.2")
    scores_apply_appraisal(assessment=assessment, entries={"1.2": AppraisalEntry(D("15"))}, actor=appraiser)
    client.force_login(appraiser)
    url = reverse("scoring:appraisal_not_applicable", args=[assessment.pk, pk])
    response = client.post(url, {"decision": "impose", "reason": "Không có", "version": str(read)}, **HX)
    assert response.status_code == 409 and 'class="button reload"' in response.content.decode()
    assert score(assessment, "1.2").appraised_not_applicable is None


def test_survey_grid_refuses_a_stale_cell_and_never_writes_over_a_cell_left_alone(
    client, framework, assessment, other_commune, appraiser, second_appraiser
):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("10")}})
    client.force_login(appraiser)
    url = reverse("scoring:survey_grid", args=[framework.code])
    page = client.get(url).content.decode()
    x1 = f"c-{assessment.unit.pk}-{leaf_pk(framework, '2.1')}"
    x2 = f"c-{other_commune.pk}-{leaf_pk(framework, '2.1')}"
    assert f'name="{x1}-v" value="1"' in page and f'name="{x1}-o" value="10"' in page
    # Another appraiser changes X1's cell after the page was read.
    survey_apply(framework=framework, entries={"X1": {"2.1": D("12")}}, actor=second_appraiser)
    # Typing only X2's cell leaves X1 (shown 10, now 12) alone: no refusal, nothing written over.
    left_alone = {x1: "10", f"{x1}-v": "1", f"{x1}-o": "10", x2: "20", f"{x2}-v": "0", f"{x2}-o": ""}
    assert client.post(url, left_alone).status_code == 302
    assert score(assessment, "2.1").appraised_points == D("12")
    # Typing over X1's cell on the stale read is refused, named with the other appraiser's value.
    stale = {x1: "15", f"{x1}-v": "1", f"{x1}-o": "10", x2: "20", f"{x2}-v": "1", f"{x2}-o": "20"}
    response = client.post(url, stale)
    assert response.status_code == 409
    body = response.content.decode()
    assert "appraiser_b" in body and "12" in body and 'class="button reload"' in body
    assert score(assessment, "2.1").appraised_points == D("12")


def test_explanation_form_sends_its_version_and_refuses_a_stale_one(client, assessment, officer, appraiser):
    submitted(assessment, officer)
    assessment_return(
        assessment=assessment, message="Giải trình", criteria={"1.1": "Vì sao 8?"}, actor=appraiser
    )
    client.force_login(officer)
    pk = leaf_pk(assessment.framework, "1.1")
    read = version(assessment, "1.1")
    page = client.get(reverse("scoring:assessment_self", args=[assessment.pk])).content.decode()
    assert f'id="explain-version-{pk}" value="{read}"' in page
    url = reverse("scoring:explain_save", args=[assessment.pk, pk])
    response = client.post(url, {"explanation": "Lần một", "version": str(read)}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    # The row's other form (the points) gets the new version too, out of band.
    assert f'id="version-{pk}" value="{read + 1}" hx-swap-oob="true"' in body
    response = client.post(url, {"explanation": "Lần hai", "version": str(read)}, **HX)
    assert response.status_code == 409 and "Lần một" in response.content.decode()
    assert score(assessment, "1.1").explanation == "Lần một"


# --- the admin: every change form sends the version it read -----------------------------------------------


def test_admin_score_form_refuses_a_stale_version(admin_client, assessment, officer, appraiser):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("5"), note="Một")}, actor=officer)
    row = score(assessment, "1.1")
    url = reverse("admin:scoring_score_change", args=[row.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="read_version" value="1"' in page
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("9"), note="Hai")}, actor=appraiser, on_behalf=True
    )
    data = {
        "self_points": "7",
        "self_raw": "",
        "not_applicable_reason": "",
        "note": "Một",
        "evidence_reference": "",
        "appraised_points": "",
        "appraised_raw": "",
        "appraised_not_applicable": "unknown",
        "appraisal_reason": "",
        "read_version": "1",
        "evidence-TOTAL_FORMS": "0",
        "evidence-INITIAL_FORMS": "0",
        "evidence-MIN_NUM_FORMS": "0",
        "evidence-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200, response.get("Location")
    assert "appraiser" in response.content.decode() and "Hai" in response.content.decode()
    row.refresh_from_db()
    assert (row.self_points, row.note) == (D("9"), "Hai")
    response = admin_client.post(url, {**data, "read_version": str(row.version)})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.self_points, row.note) == (D("7"), "Một")


def test_admin_framework_form_refuses_a_stale_version(admin_client, framework, appraiser):
    url = reverse("admin:scoring_framework_change", args=[framework.pk])
    page = admin_client.get(url)
    assert 'name="read_version" value="0"' in page.content.decode()
    framework_update(framework=framework, changes={"name": "Tên của người khác"}, actor=appraiser)
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in ((n, form[n].value()) for n in form.fields)
        if not isinstance(value, list | bool) or value
    }
    data.update({"name": "Tên của tôi", "read_version": "0"})
    for prefix in ("grade_bands", "ranking_groups", "criteria"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "appraiser" in response.content.decode() and "XA-C" in response.content.decode()
    assert Framework.objects.get(pk=framework.pk).name == "Tên của người khác"
    # Reloaded (the version now read), the same form saves.
    response = admin_client.post(url, {**data, "read_version": "1"})
    assert response.status_code == 302
    assert Framework.objects.get(pk=framework.pk).name == "Tên của tôi"


# --- uploads: confirm re-checks what the preview showed --------------------------------------------------


def _template(client, assessment) -> openpyxl.Workbook:
    response = client.get(reverse("scoring:assessment_template", args=[assessment.pk]))
    return openpyxl.load_workbook(io.BytesIO(response.content))


def _filled(workbook, values: dict) -> SimpleUploadedFile:
    sheet = workbook.worksheets[0]
    header_row, column = None, None
    for row in sheet.iter_rows(min_row=1, max_row=25):
        for cell in row:
            if cell.value == "Điểm tự đánh giá":
                header_row, column = cell.row, cell.column
    for row in range(header_row + 1, sheet.max_row + 1):
        code = str(sheet.cell(row, 1).value or "").strip()
        if code in values:
            sheet.cell(row, column).value = values[code]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("tu-danh-gia.xlsx", buffer.getvalue())


def test_an_upload_confirmed_after_another_change_is_refused_and_clears_no_note(
    client, assessment, officer, appraiser
):
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("0.75"))}, actor=officer)
    client.force_login(officer)
    file = _filled(_template(client, assessment), {"1.1": "1,25"})
    client.post(reverse("scoring:assessment_upload", args=[assessment.pk]), {"file": file, "stage": "self"})
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.PREVIEW
    assert [(line["code"], line["old"], line["new"]) for line in record.preview["lines"]] == [
        ("1.1", "0.75", "1.25")
    ]
    # Someone else changes the row (points and a note the preview never showed) before the confirm.
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("1"), note="Bổ sung biên bản")},
        actor=appraiser,
        on_behalf=True,
    )
    response = client.post(reverse("scoring:import_confirm", args=[record.pk]))
    assert response.status_code in (302, 400)
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    problems = " ".join(problem["vi"] + problem["en"] for problem in record.problems)
    assert "1.1" in problems and "appraiser" in problems and "Bổ sung biên bản" in problems
    row = score(assessment, "1.1")
    assert (row.self_points, row.note) == (D("1"), "Bổ sung biên bản")


def test_an_upload_confirm_writes_only_the_rows_its_preview_showed(client, assessment, officer, appraiser):
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("0.75")), "1.2": SelfEntry(D("3"))}, actor=officer
    )
    client.force_login(officer)
    file = _filled(_template(client, assessment), {"1.1": "1,25"})  # 1.2 stays 3 in the file
    client.post(reverse("scoring:assessment_upload", args=[assessment.pk]), {"file": file, "stage": "self"})
    record = ImportRecord.objects.get()
    assert {line["code"] for line in record.preview["lines"]} == {"1.1"}
    # Another person changes 1.2, which the preview did not list: the confirm leaves it alone.
    scores_apply_self(
        assessment=assessment, entries={"1.2": SelfEntry(D("4"))}, actor=appraiser, on_behalf=True
    )
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED
    assert (score(assessment, "1.1").self_points, score(assessment, "1.2").self_points) == (D("1.25"), D("4"))


def test_the_services_refuse_on_the_version_whatever_the_entry_path(assessment, officer):
    """An entry path that sends no version (a command) is not checked; a garbage one never matches."""
    from scoring.concurrency import version_of

    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("5"))}, actor=officer, via=Via.COMMAND
    )
    assert version_of("") is None and version_of(None) is None and version_of("x") == -1
    with pytest.raises(StaleEdit):
        scores_apply_self(
            assessment=assessment, entries={"1.1": SelfEntry(D("6"))}, actor=officer, versions={"1.1": -1}
        )


def test_admin_score_import_refuses_a_row_changed_since_its_export(
    admin_client, assessment, officer, appraiser
):
    """The exported file carries each row's version; a row another person changed since is refused at
    the preview and at the confirm, nothing written."""
    import csv

    from scoring.exchange.resources import ScoreResource

    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("5"), note="Một")}, actor=officer)
    exported = ScoreResource().export(Score.objects.filter(assessment=assessment))
    rows = list(csv.reader(io.StringIO(exported.csv)))
    header = rows[0]
    assert header[-1] == "Phiên bản" and rows[1][-1] == "1"
    rows[1][header.index("Ghi chú")] = "Ghi chú trong tệp"
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("9"), note="Hai")}, actor=appraiser, on_behalf=True
    )
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    upload = SimpleUploadedFile("scores.csv", out.getvalue().encode(), content_type="text/csv")
    url = reverse("admin:scoring_score_import")
    response = admin_client.post(url, {"format": "1", "resource": "0", "import_file": upload})  # CSV
    result = response.context["result"]
    assert result.has_validation_errors() or result.has_errors()
    assert "appraiser" in response.content.decode() and "Hai" in response.content.decode()
    assert "confirm_form" not in response.context
    assert (score(assessment, "1.1").self_points, score(assessment, "1.1").note) == (D("9"), "Hai")
    # Exported again (the version now read), the same change previews and is confirmed.
    rows = list(
        csv.reader(io.StringIO(ScoreResource().export(Score.objects.filter(assessment=assessment)).csv))
    )
    rows[1][rows[0].index("Ghi chú")] = "Ghi chú trong tệp"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    upload = SimpleUploadedFile("scores.csv", out.getvalue().encode(), content_type="text/csv")
    response = admin_client.post(url, {"format": "1", "resource": "0", "import_file": upload})
    assert (
        not response.context["result"].has_validation_errors() and not response.context["result"].has_errors()
    )
    form = response.context["confirm_form"]
    names = ("import_file_name", "original_file_name", "format", "resource")
    admin_client.post(reverse("admin:scoring_score_process_import"), {n: form.initial[n] for n in names})
    assert score(assessment, "1.1").note == "Ghi chú trong tệp"


def test_a_survey_file_confirmed_after_another_change_is_refused(
    client, framework, assessment, other_commune, appraiser, second_appraiser
):
    survey_apply(framework=framework, entries={"X1": {"2.1": D("10")}})
    client.force_login(appraiser)
    csv_text = 'Mã đơn vị,2.1\nX1,"30,5"\nX2,20\n'.encode()
    client.post(
        reverse("scoring:survey_upload", args=[framework.code]),
        {"file": SimpleUploadedFile("dtxhh.csv", csv_text)},
    )
    record = ImportRecord.objects.get()
    assert record.status == ImportStatus.PREVIEW
    old = record.preview["old"]
    assert (old["X1|2.1"]["appraised_points"], old["X2|2.1"]["appraised_points"]) == ("10.00", None)
    survey_apply(framework=framework, entries={"X1": {"2.1": D("12")}}, actor=second_appraiser)
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    problems = " ".join(problem["en"] for problem in record.problems)
    assert "X1 · 2.1" in problems and "appraiser_b" in problems and "12" in problems
    points = dict(
        Score.objects.filter(criterion__code="2.1").values_list("assessment__unit__code", "appraised_points")
    )
    assert points == {"X1": D("12")}  # nothing of the file, X2 included


def test_an_upload_confirm_compares_the_fields_it_writes_not_the_row(client, assessment, officer, appraiser):
    """A change since the preview to a field the file does not write (here a note the file leaves as
    it was) refuses nothing and is kept; a change to a field it writes refuses, naming the row."""
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("0.75")), "1.2": SelfEntry(D("3"))}, actor=officer
    )
    client.force_login(officer)
    file = _filled(_template(client, assessment), {"1.1": "1,25", "1.2": "4"})
    client.post(reverse("scoring:assessment_upload", args=[assessment.pk]), {"file": file, "stage": "self"})
    record = ImportRecord.objects.get()
    assert {(line["code"], line["field"]) for line in record.preview["lines"]} == {
        ("1.1", "points"),
        ("1.2", "points"),
    }
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("0.75"), note="Biên bản bổ sung")},
        actor=appraiser,
        on_behalf=True,
    )
    assert version(assessment, "1.1") == 2  # the row moved, its points did not
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED
    row = score(assessment, "1.1")
    assert (row.self_points, row.note) == (D("1.25"), "Biên bản bổ sung")


def test_an_upload_confirm_lists_every_row_whose_written_fields_changed(
    client, assessment, officer, appraiser
):
    scores_apply_self(
        assessment=assessment, entries={"1.1": SelfEntry(D("0.75")), "1.2": SelfEntry(D("3"))}, actor=officer
    )
    client.force_login(officer)
    file = _filled(_template(client, assessment), {"1.1": "1,25", "1.2": "4"})
    client.post(reverse("scoring:assessment_upload", args=[assessment.pk]), {"file": file, "stage": "self"})
    record = ImportRecord.objects.get()
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("1")), "1.2": SelfEntry(D("5"))},
        actor=appraiser,
        on_behalf=True,
    )
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    problems = [problem["en"] for problem in record.problems]
    assert any("1.1" in p and "appraiser" in p and "self-assessed 1" in p for p in problems), problems
    assert any("1.2" in p and "appraiser" in p and "self-assessed 5" in p for p in problems), problems
    assert (score(assessment, "1.1").self_points, score(assessment, "1.2").self_points) == (D("1"), D("5"))


def test_the_services_compare_the_fields_an_import_previewed(
    assessment, officer, appraiser, second_appraiser
):
    """scores_apply_appraisal(expected=…): a write over a field changed since the preview is refused;
    a field changed since that the write leaves alone, or already holds the value written, is not."""
    from scoring.concurrency import row_snapshot

    submitted(assessment, officer)
    snapshot = {code: row_snapshot(score(assessment, code)) for code in ("1.1", "1.2")}
    score_explain_row = Score.objects.get(assessment=assessment, criterion__code="1.2")
    Score.objects.filter(pk=score_explain_row.pk).update(explanation="Giải trình khác")  # not written
    scores_apply_appraisal(
        assessment=assessment, entries={"1.1": AppraisalEntry(D("6"), "Thiếu hồ sơ")}, actor=second_appraiser
    )
    with pytest.raises(StaleEdit) as refused:
        scores_apply_appraisal(
            assessment=assessment,
            entries={"1.1": AppraisalEntry(D("7"), "Của tệp"), "1.2": AppraisalEntry(D("15"))},
            actor=appraiser,
            expected=snapshot,
        )
    assert [e.criterion for e in stale_in(refused.value)] == ["1.1"]
    assert score(assessment, "1.2").appraised_points is None
    # The same value as the other person's is no overwrite: saved.
    scores_apply_appraisal(
        assessment=assessment,
        entries={"1.1": AppraisalEntry(D("6"), "Thiếu hồ sơ"), "1.2": AppraisalEntry(D("15"))},
        actor=appraiser,
        expected=snapshot,
    )
    assert score(assessment, "1.2").appraised_points == D("15")


def test_a_preview_stored_with_versions_only_is_still_confirmed_by_them(
    client, assessment, officer, appraiser
):
    """A preview kept before the fields were (its rows' versions): confirmed as before, on the versions."""
    scores_apply_self(assessment=assessment, entries={"1.1": SelfEntry(D("0.75"))}, actor=officer)
    client.force_login(officer)
    file = _filled(_template(client, assessment), {"1.1": "1,25"})
    client.post(reverse("scoring:assessment_upload", args=[assessment.pk]), {"file": file, "stage": "self"})
    record = ImportRecord.objects.get()
    preview = dict(record.preview)
    del preview["old"]
    preview["versions"] = {"|1.1": version(assessment, "1.1")}
    ImportRecord.objects.filter(pk=record.pk).update(preview=preview)
    survey_apply(
        framework=assessment.framework, entries={"X1": {"2.1": D("10")}}, versions={"X1": {"2.1": 0}}
    )
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(D("0.75"), note="Mới")},
        actor=appraiser,
        on_behalf=True,
    )
    client.post(reverse("scoring:import_confirm", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED  # the version moved (the old, stricter rule)
    assert score(assessment, "1.1").note == "Mới"
