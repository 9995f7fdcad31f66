"""The Django admin as an administrator uses it: every page opens, search works, a published
framework is read-only, reopening needs a reason, score edits go through the services (audited,
results recomputed), and list pages run a fixed number of queries whatever the number of rows."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.models import (
    Assessment,
    AssessmentResult,
    Criterion,
    DeadlineReminder,
    Evidence,
    Framework,
    FrameworkStatus,
    GradeBand,
    Score,
    Via,
)
from tests.publishing import walk_and_publish
from units.models import Membership, Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

SMALL_TREE = [("1", 60), ("1.1", 30), ("1.2", 30), ("2", 40, "score", "survey"), ("3", 2, "bonus")]


def url(model, view="changelist", *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def self_leaves(framework):
    return list(Criterion.objects.filter(framework=framework, is_leaf=True, source="self").order_by("order"))


def fill_self(assessment, framework, points=None):
    entries = {
        leaf.code: SelfEntry(
            leaf.max_points if points is None else min(points, leaf.max_points),
            evidence_reference="QĐ số 12/QĐ-UBND",
        )
        for leaf in self_leaves(framework)
    }
    scores_apply_self(assessment=assessment, entries=entries)


@pytest.fixture
def data(district, commune, other_commune, officer):
    """An open commune framework (one submitted, one draft assessment) and a published department one."""
    open_fw = make_framework(district, code="XA-OPEN", year=2024)
    submitted = assessment_get_or_create(unit=commune, framework=open_fw)
    fill_self(submitted, open_fw)
    assessment_submit(assessment=submitted)
    draft = assessment_get_or_create(unit=other_commune, framework=open_fw)
    scores_apply_self(assessment=draft, entries={"1.1.1": SelfEntry(Decimal("0.5"))})
    score = Score.objects.get(assessment=submitted, criterion__code="1.1.1")
    Evidence.objects.create(score=score, document_number="12/KH-UBND", description="Kế hoạch CCHC")
    DeadlineReminder.objects.create(assessment=draft, phase="self", deadline=timezone.now())

    department = make_unit("PNV", kind=UnitKind.DEPARTMENT, parent=district, name="Phòng Nội vụ")
    published = make_framework(
        district, code="PB-PUB", csv_name="framework-department.csv", unit_kind=UnitKind.DEPARTMENT, year=2024
    )
    done = assessment_get_or_create(unit=department, framework=published)
    fill_self(done, published)
    assessment_submit(assessment=done)
    scores_apply_appraisal(
        assessment=done,
        entries={leaf.code: AppraisalEntry(leaf.max_points) for leaf in self_leaves(published)},
    )
    pub_score = Score.objects.get(assessment=done, criterion__code="1.2")
    Evidence.objects.create(score=pub_score, document_number="5/BC-PNV")
    published = walk_and_publish(
        framework=published, decision_number="Quyết định số 4769/QĐ-UBND", decision_date=date(2024, 12, 21)
    )
    return {"open": open_fw, "submitted": submitted, "draft": draft, "published": published, "done": done}


def _superuser_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_registered_model_has_working_pages(admin_client, admin_user, data):
    request = _superuser_request(admin_user)
    assert len(admin.site._registry) >= 12
    for model, model_admin in admin.site._registry.items():
        response = admin_client.get(url(model))
        assert response.status_code == 200, f"{model.__name__} changelist"
        response = admin_client.get(url(model), {"q": "X1"})
        assert response.status_code == 200, f"{model.__name__} search"
        add = admin_client.get(url(model, "add"))
        expected = 200 if model_admin.has_add_permission(request) else 403
        assert add.status_code == expected, f"{model.__name__} add page"
        for obj in model._default_manager.all()[:3]:
            response = admin_client.get(url(model, "change", obj.pk))
            assert response.status_code == 200, f"{model.__name__} change page of {obj.pk}"


def test_pages_for_objects_of_both_frameworks_open(admin_client, data):
    for framework in (data["open"], data["published"]):
        assessment = framework.assessments.first()
        score = assessment.scores.first()
        for model, obj in [
            (Framework, framework),
            (Assessment, assessment),
            (Score, score),
            (Criterion, framework.criteria.first()),
            (GradeBand, framework.grade_bands.first()),
            (AssessmentResult, assessment.result),
            (Evidence, Evidence.objects.filter(score__assessment__framework=framework).first()),
        ]:
            assert admin_client.get(url(model, "change", obj.pk)).status_code == 200, model.__name__


def test_searching(admin_client, data):
    def found(model, q):
        response = admin_client.get(url(model), {"q": q})
        assert response.status_code == 200
        return response.context["cl"].result_count

    assert found(Unit, "X1") == 1
    assert found(Unit, "Xã") == 2
    assert found(Unit, "Phòng Nội vụ") == 1
    assert found(Assessment, "X2") == 1
    assert found(Framework, "PB-PUB") == 1
    assert found(Score, "1.1.1") >= 2
    assert found(Membership, "officer_x1") == 1
    assert found(AuditEntry, "X1") > 0
    assert found(AssessmentResult, "PNV") == 1
    assert found(get_user_model(), "officer_x1") == 1


def test_filters_of_lists(admin_client, data):
    assert admin_client.get(url(Unit), {"kind__exact": "commune"}).context["cl"].result_count == 2
    assert admin_client.get(url(Framework), {"status__exact": "published"}).context["cl"].result_count == 1
    response = admin_client.get(
        url(Assessment), {"framework__id__exact": data["open"].pk, "status__exact": "draft"}
    )
    assert response.context["cl"].result_count == 1
    assert admin_client.get(url(AuditEntry), {"via__exact": "admin"}).context["cl"].result_count == 0


# --- read-only once published ---------------------------------------------------------------------------


def test_published_framework_change_page_has_no_save_and_refuses_post(admin_client, data):
    framework = data["published"]
    response = admin_client.get(url(Framework, "change", framework.pk))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert response.context["has_change_permission"] is False
    assert "Reopen" in response.content.decode() or "Mở lại" in response.content.decode()

    response = admin_client.post(
        url(Framework, "change", framework.pk), {"name": "Đổi tên", "index_decimals": 3}
    )
    assert response.status_code == 403
    framework.refresh_from_db()
    assert framework.name != "Đổi tên" and framework.index_decimals == 2
    assert admin_client.post(url(Framework, "delete", framework.pk), {"post": "yes"}).status_code == 403
    assert Framework.objects.filter(pk=framework.pk).exists()


def test_children_of_a_published_framework_are_read_only(admin_client, data):
    framework, assessment = data["published"], data["done"]
    score = Score.objects.get(assessment=assessment, criterion__code="1.2")
    criterion, band = score.criterion, framework.grade_bands.first()
    evidence = Evidence.objects.get(score=score)
    for model, obj, payload in [
        (Score, score, {"appraised_points": "0", "appraisal_reason": "x"}),
        (Criterion, criterion, {"title": "Đổi"}),
        (GradeBand, band, {"name": "Đổi", "min_index": "1"}),
        (Assessment, assessment, {}),
        (Evidence, evidence, {"document_number": "Đổi"}),
    ]:
        page = admin_client.get(url(model, "change", obj.pk))
        assert page.status_code == 200 and b'name="_save"' not in page.content, model.__name__
        assert admin_client.post(url(model, "change", obj.pk), payload).status_code == 403, model.__name__
    score.refresh_from_db()
    assert score.appraised_points == criterion.max_points
    criterion.refresh_from_db()
    assert criterion.title != "Đổi"
    # Inlines of the published framework offer no new rows and no deletion.
    response = admin_client.get(url(Framework, "change", framework.pk))
    for inline in response.context["inline_admin_formsets"]:
        assert not inline.has_add_permission and not inline.has_change_permission
        assert not inline.has_delete_permission
    # A grade band cannot be added to it from the band page either.
    response = admin_client.post(
        url(GradeBand, "add"), {"framework": framework.pk, "name": "Mới", "min_index": "95"}
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not GradeBand.objects.filter(framework=framework, name="Mới").exists()
    # Nor a score or evidence.
    leaf = Criterion.objects.get(framework=framework, code="9.1")
    response = admin_client.post(
        url(Score, "add"), {"assessment": assessment.pk, "criterion": leaf.pk, "self_points": "1"}
    )
    assert (
        response.status_code == 200
        and not Score.objects.filter(assessment=assessment, criterion=leaf).exists()
    )


def test_bulk_delete_of_a_published_framework_is_refused(admin_client, data):
    framework = data["published"]
    response = admin_client.post(
        url(Framework), {"action": "delete_selected", "_selected_action": [framework.pk], "post": "yes"}
    )
    assert response.status_code == 403
    assert Framework.objects.filter(pk=framework.pk).exists()


def test_an_open_framework_can_be_deleted_with_its_records(admin_client, data):
    framework = data["open"]
    response = admin_client.post(url(Framework, "delete", framework.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Framework.objects.filter(pk=framework.pk).exists()


# --- reopening ---------------------------------------------------------------------------------------------


def test_reopen_action_requires_a_reason_and_is_audited(admin_client, admin_user, data):
    framework = data["published"]
    action = {"action": "reopen_published", "_selected_action": [framework.pk]}
    response = admin_client.post(url(Framework), action)
    assert response.status_code == 200
    assert "form" in response.context and "reason" in response.context["form"].fields

    response = admin_client.post(url(Framework), {**action, "reason": "   "})
    assert response.status_code == 200 and response.context["form"].errors
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.PUBLISHED
    assert not AuditEntry.objects.filter(action="framework_reopen").exists()

    reason = "Quyết định số 12/QĐ-UBND: điều chỉnh điểm điều tra xã hội học"
    response = admin_client.post(url(Framework), {**action, "reason": reason})
    assert response.status_code == 302
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.FINAL  # one step back
    entry = AuditEntry.objects.get(framework_id=framework.pk, action="framework_reopen")
    assert entry.reason == reason and entry.via == Via.ADMIN and entry.actor == admin_user
    # Reopened: the change page takes edits again.
    assert b'name="_save"' in admin_client.get(url(Framework, "change", framework.pk)).content


def test_reopen_page_of_one_framework(admin_client, data):
    framework = data["published"]
    reopen_url = reverse("admin:scoring_framework_reopen", args=[framework.pk])
    assert admin_client.get(reopen_url).status_code == 200
    assert admin_client.post(reopen_url, {"reason": ""}).status_code == 200
    framework.refresh_from_db()
    assert framework.is_published
    response = admin_client.post(reopen_url, {"reason": "Sai sót khi nhập điểm"})
    assert response.status_code == 302
    framework.refresh_from_db()
    assert framework.status == FrameworkStatus.FINAL
    assert (
        AuditEntry.objects.filter(framework_id=framework.pk, action="framework_reopen", via=Via.ADMIN).count()
        == 1
    )


def test_reopen_is_not_offered_to_users_without_change_permission(client, data, district):
    staff = make_member(district, Role.LEADER, "staff_viewer")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    reopen_url = reverse("admin:scoring_framework_reopen", args=[data["published"].pk])
    assert client.post(reopen_url, {"reason": "x"}).status_code == 403
    assert data["published"].status == FrameworkStatus.PUBLISHED


# --- score edits go through the services -------------------------------------------------------------------


def test_score_appraisal_in_admin_is_audited_and_recomputed(admin_client, admin_user, data):
    assessment = data["submitted"]
    score = Score.objects.get(assessment=assessment, criterion__code="1.1.2")
    before = AssessmentResult.objects.get(assessment=assessment).points
    change = url(Score, "change", score.pk)
    payload = {
        "self_points": "2",
        "appraised_points": "1",
        "appraisal_reason": "",
        "note": "",
        "evidence_reference": "QĐ số 12/QĐ-UBND",
        **_empty_inline("evidence"),
    }

    response = admin_client.post(change, payload)  # differs from self without a reason: refused
    assert response.status_code == 200
    # The service names the field it refuses: the message stands beside the reason box.
    assert "lý do" in " ".join(response.context["adminform"].form.errors["appraisal_reason"]).lower()
    score.refresh_from_db()
    assert score.appraised_points is None

    response = admin_client.post(change, {**payload, "appraisal_reason": "Chỉ hoàn thành 80% kế hoạch"})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    score.refresh_from_db()
    assert score.appraised_points == Decimal("1")
    entry = AuditEntry.objects.get(
        assessment_id=assessment.pk, criterion_id=score.criterion.pk, field="appraised_points"
    )
    assert (entry.via, entry.actor, entry.old_value, entry.new_value) == (Via.ADMIN, admin_user, "", "1")
    assert entry.reason == "Chỉ hoàn thành 80% kế hoạch"
    assert AssessmentResult.objects.get(assessment=assessment).points == before - 1


def test_self_score_cannot_change_after_submission(admin_client, data):
    score = Score.objects.get(assessment=data["submitted"], criterion__code="1.2")
    response = admin_client.post(
        url(Score, "change", score.pk),
        {
            "self_points": "0",
            "appraisal_reason": "",
            "note": "",
            "evidence_reference": "",
            **_empty_inline("evidence"),
        },
    )
    assert response.status_code == 200 and response.context["adminform"].form.non_field_errors()
    score.refresh_from_db()
    assert score.self_points == score.criterion.max_points


def _empty_inline(prefix):
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_assessment_page_runs_no_query_per_score(admin_client, data):
    def queries(assessment):
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(url(Assessment, "change", assessment.pk)).status_code == 200
        return len(context)

    assert data["submitted"].scores.count() > 10 * data["draft"].scores.count()
    assert queries(data["submitted"]) == queries(data["draft"])


def _post_data(response):
    """The change form as the browser would send it back, inlines included."""
    data = {}

    def put(name, value):
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)

    form = response.context["adminform"].form
    for name in form.fields:
        put(form.add_prefix(name), form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            put(management.add_prefix(name), management[name].value())
        for item in formset.forms:
            for name in item.fields:
                put(item.add_prefix(name), item[name].value())
    return data


def test_score_inline_on_assessment_page_goes_through_the_services(admin_client, admin_user, data):
    assessment = data["draft"]
    change = url(Assessment, "change", assessment.pk)
    response = admin_client.get(change)
    assert response.status_code == 200
    payload = _post_data(response)
    score = Score.objects.get(assessment=assessment, criterion__code="1.1.1")
    index = next(
        i
        for i, form in enumerate(response.context["inline_admin_formsets"][0].formset.forms)
        if form.instance.pk == score.pk
    )
    assert payload[f"scores-{index}-self_points"] == "0,5"  # shown the Vietnamese way
    payload[f"scores-{index}-self_points"] = "1"

    response = admin_client.post(change, payload)
    assert response.status_code == 302
    score.refresh_from_db()
    assert score.self_points == Decimal("1")
    entry = AuditEntry.objects.get(
        assessment_id=assessment.pk, criterion_id=score.criterion.pk, field="self_points", via=Via.ADMIN
    )
    assert (entry.action, entry.old_value, entry.new_value, entry.actor) == (
        "self_on_behalf",
        "0.50",
        "1",
        admin_user,
    )
    assert AssessmentResult.objects.get(assessment=assessment).self_points == Decimal("1")

    # A value above the maximum is refused with the form shown again, nothing saved.
    payload[f"scores-{index}-self_points"] = "5"
    response = admin_client.post(change, payload)
    assert response.status_code == 200
    score.refresh_from_db()
    assert score.self_points == Decimal("1")


def test_survey_points_in_admin_use_the_survey_service(admin_client, data):
    framework, assessment = data["open"], data["submitted"]
    survey_apply(framework=framework, entries={assessment.unit.code: {"8.1": Decimal("8")}})
    score = Score.objects.get(assessment=assessment, criterion__code="8.1")
    response = admin_client.post(
        url(Score, "change", score.pk),
        {
            "appraised_points": "9,5",
            "appraisal_reason": "",
            "note": "",
            "evidence_reference": "",
            **_empty_inline("evidence"),
        },
    )
    assert response.status_code == 302
    score.refresh_from_db()
    assert score.appraised_points == Decimal("9.5")
    assert (
        AuditEntry.objects.filter(criterion_id=score.criterion.pk, action="survey", via=Via.ADMIN).count()
        == 1
    )


def test_adding_an_assessment_checks_the_unit_kind(admin_client, data, district):
    department = Unit.objects.get(code="PNV")
    response = admin_client.post(
        url(Assessment, "add"), {"unit": department.pk, "framework": data["open"].pk}
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    new_commune = make_unit("X9", parent=district)
    response = admin_client.post(
        url(Assessment, "add"), {"unit": new_commune.pk, "framework": data["open"].pk}
    )
    assert response.status_code == 302
    assessment = Assessment.objects.get(unit=new_commune, framework=data["open"])
    assert AuditEntry.objects.filter(
        assessment_id=assessment.pk, action="assessment_create", via=Via.ADMIN
    ).exists()
    assert AssessmentResult.objects.filter(assessment=assessment).exists()


def test_grade_band_change_is_audited_and_regrades(admin_client, data):
    framework, assessment = data["open"], data["submitted"]
    result = AssessmentResult.objects.get(assessment=assessment)
    band = GradeBand.objects.get(framework=framework, name="Yếu")
    response = admin_client.post(url(GradeBand, "change", band.pk), {"name": "Kém", "min_index": "0"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(framework_id=framework.pk, action="grade_bands", via=Via.ADMIN)
    assert entry.old_value.endswith("Trung bình:50, Yếu:0") and entry.new_value.endswith(
        "Trung bình:50, Kém:0"
    )
    top = GradeBand.objects.get(framework=framework, name="Xuất sắc")
    response = admin_client.post(
        url(GradeBand, "change", top.pk),
        {"name": "Xuất sắc", "min_index": f"{result.index:.2f}".replace(".", ",")},
    )
    assert response.status_code == 302
    result.refresh_from_db()
    assert result.grade == "Xuất sắc"


def test_framework_add_copies_the_criteria_tree(admin_client, data, district):
    response = admin_client.post(
        url(Framework, "add"),
        {
            "code": "XA-2025",
            "name": "Bộ chỉ số 2025",
            "authority": district.pk,
            "unit_kind": "commune",
            "year": "2025",
            "copy_from": data["open"].pk,
            "bands": "Tốt:90,Khá:70,Trung bình:50,Kém:0",
            "index_decimals": "3",
            "legal_basis": "",
            "self_deadline_0": "2025-11-30",
            "self_deadline_1": "17:00:00",
            "appraisal_deadline_0": "",
            "appraisal_deadline_1": "",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    framework = Framework.objects.get(code="XA-2025")
    assert framework.criteria.count() == data["open"].criteria.count()
    assert list(framework.grade_bands.values_list("name", flat=True)) == ["Tốt", "Khá", "Trung bình", "Kém"]
    assert framework.self_deadline is not None and framework.index_decimals == 3
    assert AuditEntry.objects.filter(
        framework_id=framework.pk, action="framework_create", via=Via.ADMIN
    ).exists()


def test_the_phase_is_not_changed_from_the_framework_form(admin_client, data):
    # Neither published nor any other phase: each step has its service and checks (the board).
    framework = data["open"]
    response = admin_client.get(url(Framework, "change", framework.pk))
    assert "status" not in response.context["adminform"].form.fields


def test_unit_admin_keeps_paths_through_the_service(admin_client, district):
    response = admin_client.post(
        url(Unit, "add"),
        {
            "code": "X50",
            "name": "Xã Năm Mươi",
            "kind": "commune",
            "parent": district.pk,
            "active_from": "",
            "active_to": "",
            **_empty_inline("memberships"),
        },
    )
    assert response.status_code == 302
    unit = Unit.objects.get(code="X50")
    assert unit.path == f"{district.path}{unit.pk}/"
    response = admin_client.post(
        url(Unit, "change", unit.pk),
        {
            "name": "Xã Năm Mươi",
            "kind": "commune",
            "parent": district.parent_id,
            "active_from": "",
            "active_to": "",
            "predecessors": [],
            **_empty_inline("memberships"),
        },
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.path == f"{district.parent.path}{unit.pk}/"


def test_user_page_shows_memberships(admin_client, officer, commune):
    response = admin_client.get(url(get_user_model(), "change", officer.pk))
    assert response.status_code == 200
    formsets = response.context["inline_admin_formsets"]
    assert [f.formset.model for f in formsets] == [Membership]
    assert formsets[0].formset.forms[0].instance.unit == commune


def test_audit_trail_is_read_only(admin_client, data):
    entry = AuditEntry.objects.first()
    response = admin_client.get(url(AuditEntry, "change", entry.pk))
    assert response.status_code == 200 and b'name="_save"' not in response.content
    assert admin_client.post(url(AuditEntry, "change", entry.pk), {"reason": "x"}).status_code == 403
    assert admin_client.post(url(AuditEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert admin_client.get(url(AuditEntry, "add")).status_code == 403
    assert admin_client.get(url(AuditEntry), {"created_at__year": "2024"}).status_code == 200


# --- query counts of list pages ------------------------------------------------------------------------


def _grow(district, framework, start, count):
    """`count` more communes, each with a member, an assessment with scores and evidence, and a
    framework of its own year (so every list grows)."""
    for number in range(start, start + count):
        unit = make_unit(f"Q{number:03d}", parent=district, name=f"Xã Thử {number}")
        make_member(unit, Role.OFFICER, f"q{number:03d}")
        assessment = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(
            assessment=assessment, entries={"1.1": SelfEntry(Decimal("20")), "1.2": SelfEntry(Decimal("25"))}
        )
        Evidence.objects.create(score=assessment.scores.first(), document_number=f"{number}/KH")
        make_framework(unit, rows=rows_from_spec(SMALL_TREE), year=2000 + number, code=f"FW-Q{number}")


LISTS = [
    Unit,
    Membership,
    get_user_model(),
    Framework,
    Criterion,
    GradeBand,
    Assessment,
    Score,
    Evidence,
    AuditEntry,
    AssessmentResult,
]


def _count_queries(client, model):
    with CaptureQueriesContext(connection) as context:
        response = client.get(url(model))
    assert response.status_code == 200
    return len(context), response.context["cl"].result_count


def test_list_pages_do_not_run_a_query_per_row(admin_client, district):
    framework = make_framework(district, rows=rows_from_spec(SMALL_TREE), code="Q-FW", year=2024)
    _grow(district, framework, 1, 3)
    few = {model: _count_queries(admin_client, model) for model in LISTS}
    _grow(district, framework, 4, 27)
    many = {model: _count_queries(admin_client, model) for model in LISTS}
    for model in LISTS:
        (queries_few, rows_few), (queries_many, rows_many) = few[model], many[model]
        assert rows_many > rows_few, model.__name__
        assert queries_many == queries_few, f"{model.__name__}: {queries_few} queries → {queries_many}"


def test_adding_a_score_goes_through_the_services(admin_client, admin_user, data, district):
    assessment = data["draft"]
    leaf = Criterion.objects.get(framework=data["open"], code="1.2")
    add = url(Score, "add")
    base = {
        "assessment": assessment.pk,
        "criterion": leaf.pk,
        "note": "",
        "evidence_reference": "",
        "appraisal_reason": "",
        **_empty_inline("evidence"),
    }
    response = admin_client.post(add, base)  # nothing entered: refused
    assert response.status_code == 200 and response.context["adminform"].form.non_field_errors()
    parent = Criterion.objects.get(framework=data["open"], code="1")
    response = admin_client.post(add, {**base, "criterion": parent.pk, "self_points": "1"})
    assert response.status_code == 200 and not Score.objects.filter(criterion=parent).exists()

    response = admin_client.post(
        add, {**base, "self_points": "1,5", "evidence_reference": "Báo cáo số 7/BC-UBND"}
    )
    assert response.status_code == 302
    score = Score.objects.get(assessment=assessment, criterion=leaf)
    assert score.self_points == Decimal("1.5") and score.evidence_reference == "Báo cáo số 7/BC-UBND"
    assert AuditEntry.objects.filter(
        assessment_id=assessment.pk,
        criterion_id=leaf.pk,
        via=Via.ADMIN,
        actor=admin_user,
        field="self_points",
    ).exists()
    assert AssessmentResult.objects.get(assessment=assessment).self_points == Decimal("2.0")


def test_deleting_an_assessment_of_an_open_framework_is_recorded_and_reranks(admin_client, data):
    assessment, other = data["submitted"], data["draft"]
    response = admin_client.post(url(Assessment, "delete", assessment.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Assessment.objects.filter(pk=assessment.pk).exists()
    entry = AuditEntry.objects.get(framework_id=data["open"].pk, action="assessment_delete")
    assert entry.old_value == "X1" and entry.via == Via.ADMIN
    assert AssessmentResult.objects.get(assessment=other).rank == 1


def test_evidence_in_admin_is_audited_and_refused_on_published(admin_client, admin_user, data):
    score = Score.objects.get(assessment=data["draft"], criterion__code="1.1.1")
    payload = {
        "score": score.pk,
        "document_number": "45/BC-UBND",
        "document_date": "2024-06-15",
        "page": "3",
        "description": "Báo cáo 6 tháng",
    }
    response = admin_client.post(url(Evidence, "add"), payload)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    evidence = Evidence.objects.get(score=score, document_number="45/BC-UBND")
    assert evidence.uploaded_by == admin_user and evidence.document_date == date(2024, 6, 15)
    assert AuditEntry.objects.filter(
        assessment_id=data["draft"].pk, criterion_id=score.criterion.pk, action="evidence_add", via=Via.ADMIN
    ).exists()

    published_score = Score.objects.get(assessment=data["done"], criterion__code="1.1.1")
    response = admin_client.post(url(Evidence, "add"), {**payload, "score": published_score.pk})
    assert response.status_code == 200 and "score" in response.context["adminform"].form.errors
    assert not Evidence.objects.filter(score=published_score).exists()


# --- every admin write goes through a service; a refusal is shown on the form ----------------------------


def test_evidence_on_a_submitted_assessment_is_refused_on_the_form(admin_client, data):
    score = Score.objects.get(assessment=data["submitted"], criterion__code="1.2")
    before = AuditEntry.objects.count()
    response = admin_client.post(
        url(Evidence, "add"),
        {
            "score": score.pk,
            "document_number": "45/BC-UBND",
            "document_date": "",
            "page": "",
            "description": "",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["score"]
    assert any("giải trình" in text or "explanation" in text for text in errors)
    assert errors[0] in response.content.decode()
    assert not Evidence.objects.filter(score=score, document_number="45/BC-UBND").exists()
    assert AuditEntry.objects.count() == before

    # Nor from the score's page (the evidence inline).
    change = url(Score, "change", score.pk)
    payload = _post_data(admin_client.get(change))
    payload.update({"evidence-TOTAL_FORMS": str(int(payload["evidence-TOTAL_FORMS"]) + 1)})
    index = int(payload["evidence-TOTAL_FORMS"]) - 1
    payload.update(
        {f"evidence-{index}-document_number": "46/BC-UBND", f"evidence-{index}-score": str(score.pk)}
    )
    response = admin_client.post(change, payload)
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not Evidence.objects.filter(document_number="46/BC-UBND").exists()


def test_evidence_deletion_on_a_submitted_assessment_is_refused_with_a_message(admin_client, data):
    evidence = Evidence.objects.get(score__assessment=data["submitted"])
    response = admin_client.post(url(Evidence, "delete", evidence.pk), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])
    assert Evidence.objects.filter(pk=evidence.pk).exists()
    assert not AuditEntry.objects.filter(action="evidence_delete").exists()


def test_an_html_evidence_file_is_refused(admin_client, data, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    score = Score.objects.get(assessment=data["draft"], criterion__code="1.1.1")
    upload = SimpleUploadedFile("bao-cao.html", b"<script>alert(1)</script>", content_type="text/html")
    response = admin_client.post(
        url(Evidence, "add"),
        {
            "score": score.pk,
            "document_number": "",
            "file": upload,
            "document_date": "",
            "page": "",
            "description": "",
        },
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not Evidence.objects.filter(score=score).exists()
    assert not list(tmp_path.rglob("*.html"))

    upload = SimpleUploadedFile("bao-cao.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = admin_client.post(
        url(Evidence, "add"),
        {
            "score": score.pk,
            "document_number": "",
            "file": upload,
            "document_date": "",
            "page": "",
            "description": "",
        },
    )
    assert response.status_code == 302
    assert Evidence.objects.get(score=score).file.name.endswith(".pdf")


def _framework_change(admin_client, framework, **changes):
    change = url(Framework, "change", framework.pk)
    payload = _post_data(admin_client.get(change))
    payload.update(changes)
    return admin_client.post(change, payload)


def test_framework_settings_and_deadlines_in_admin_are_audited(admin_client, admin_user, data):
    framework = data["open"]
    response = _framework_change(
        admin_client,
        framework,
        name="Bộ chỉ số xã 2024 (sửa)",
        index_decimals="3",
        self_deadline_0="2024-11-30",
        self_deadline_1="17:00:00",
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    framework.refresh_from_db()
    assert framework.name == "Bộ chỉ số xã 2024 (sửa)" and framework.index_decimals == 3
    assert framework.self_deadline is not None
    entries = AuditEntry.objects.filter(framework_id=framework.pk, via=Via.ADMIN, actor=admin_user)
    assert entries.filter(
        action="framework_change", field="name", new_value="Bộ chỉ số xã 2024 (sửa)"
    ).exists()
    assert entries.filter(
        action="framework_change", field="index_decimals", old_value="2", new_value="3"
    ).exists()
    deadline = entries.get(action="deadline", field="self_deadline")
    assert deadline.old_value == "" and deadline.new_value.startswith("30/11/2024")
    # The results follow the new number of decimals.
    result = AssessmentResult.objects.get(assessment=data["submitted"])
    assert result.index == result.index.quantize(Decimal("0.001"))


def test_grade_bands_and_criteria_on_the_framework_page_are_audited(admin_client, data):
    framework = data["open"]
    response = admin_client.get(url(Framework, "change", framework.pk))
    payload = _post_data(response)
    formsets = {inline.formset.prefix: inline.formset for inline in response.context["inline_admin_formsets"]}
    bands = formsets["grade_bands"]
    weak = next(i for i, form in enumerate(bands.forms) if form.instance.name == "Yếu")
    payload[f"grade_bands-{weak}-name"] = "Kém"
    criteria = formsets["criteria"]
    first = next(i for i, form in enumerate(criteria.forms) if form.instance.code == "1.1.1")
    payload[f"criteria-{first}-title"] = "Ban hành kế hoạch CCHC (sửa)"
    response = admin_client.post(url(Framework, "change", framework.pk), payload)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert list(framework.grade_bands.values_list("name", flat=True))[-1] == "Kém"
    assert AuditEntry.objects.get(
        framework_id=framework.pk, action="grade_bands", via=Via.ADMIN
    ).new_value.endswith("Kém:0")
    entry = AuditEntry.objects.get(framework_id=framework.pk, action="criterion_change", via=Via.ADMIN)
    assert (entry.criterion_code, entry.field, entry.new_value) == (
        "1.1.1",
        "title",
        "Ban hành kế hoạch CCHC (sửa)",
    )


def test_criterion_page_edit_is_audited(admin_client, data):
    criterion = Criterion.objects.get(framework=data["open"], code="1.1.1")
    response = admin_client.post(
        url(Criterion, "change", criterion.pk),
        {"title": "Tiêu đề mới", "guidance": "Hướng dẫn mới", "allows_not_applicable": ""},
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    criterion.refresh_from_db()
    assert criterion.title == "Tiêu đề mới" and not criterion.allows_not_applicable
    fields = set(
        AuditEntry.objects.filter(
            criterion_id=criterion.pk, action="criterion_change", via=Via.ADMIN
        ).values_list("field", flat=True)
    )
    assert fields == {"title", "guidance", "allows_not_applicable"}


def test_framework_services_refuse_a_published_framework(admin_user, data):
    from django.core.exceptions import ValidationError

    from scoring.frameworks.services import Band, criterion_update, framework_update, grade_bands_set

    framework = data["published"]
    criterion = framework.criteria.first()
    before = AuditEntry.objects.count()
    for write in (
        lambda: framework_update(
            framework=framework, changes={"name": "Đổi"}, actor=admin_user, via=Via.ADMIN
        ),
        lambda: criterion_update(
            criterion=criterion, changes={"title": "Đổi"}, actor=admin_user, via=Via.ADMIN
        ),
        lambda: grade_bands_set(
            framework=framework, bands=[Band("Đạt", Decimal("0"))], actor=admin_user, via=Via.ADMIN
        ),
    ):
        with pytest.raises(ValidationError, match="PB-PUB"):
            write()
    framework.refresh_from_db()
    criterion.refresh_from_db()
    assert framework.name != "Đổi" and criterion.title != "Đổi" and framework.grade_bands.count() > 1
    assert AuditEntry.objects.count() == before


def test_admin_refusals_of_a_published_framework_leave_no_trace(admin_client, data):
    framework = data["published"]
    criterion = framework.criteria.first()
    band = framework.grade_bands.first()
    before = AuditEntry.objects.count()
    assert _framework_change(admin_client, framework, name="Đổi").status_code == 403
    assert admin_client.post(url(Criterion, "change", criterion.pk), {"title": "Đổi"}).status_code == 403
    assert (
        admin_client.post(url(GradeBand, "change", band.pk), {"name": "Đổi", "min_index": "1"}).status_code
        == 403
    )
    assert AuditEntry.objects.count() == before


def test_score_refusal_is_applied_once_and_shown(admin_client, data, monkeypatch):
    """A refused score change runs the services once (no rehearsal in a rolled-back savepoint)."""
    import scoring.assessments.services

    calls = []
    real = scoring.assessments.services.scores_apply_appraisal

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(scoring.assessments.services, "scores_apply_appraisal", counting)
    score = Score.objects.get(assessment=data["submitted"], criterion__code="1.1.2")
    payload = {
        "self_points": "2",
        "appraised_points": "1",
        "appraisal_reason": "Thiếu minh chứng",
        "note": "",
        "evidence_reference": "QĐ số 12/QĐ-UBND",
        **_empty_inline("evidence"),
    }
    assert admin_client.post(url(Score, "change", score.pk), payload).status_code == 302
    assert len(calls) == 1
    calls.clear()
    response = admin_client.post(
        url(Score, "change", score.pk), {**payload, "appraised_points": "0,5", "appraisal_reason": ""}
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert len(calls) == 1
    score.refresh_from_db()
    assert score.appraised_points == Decimal("1")


def test_remediation_item_in_admin_goes_through_the_service(admin_client, admin_user, data):
    from reports.models import RemediationItem
    from reports.remediation import remediation_suggest

    assert remediation_suggest(framework=data["published"]) > 0
    item = RemediationItem.objects.filter(assessment=data["done"]).first()
    change = reverse("admin:reports_remediationitem_change", args=[item.pk])
    response = admin_client.post(
        change,
        {
            "action": "Bổ sung kế hoạch",
            "responsible": "Chánh văn phòng",
            "due_date": "2025-03-31",
            "status": item.status,
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    item.refresh_from_db()
    assert item.action == "Bổ sung kế hoạch" and item.updated_by == admin_user
    fields = set(
        AuditEntry.objects.filter(action="remediation_update", via=Via.ADMIN, actor=admin_user).values_list(
            "field", flat=True
        )
    )
    assert fields == {"action", "responsible", "due_date"}
    assert admin_client.get(reverse("admin:reports_remediationitem_add")).status_code == 403


def test_an_html_evidence_file_is_refused_on_the_score_page_too(admin_client, data, settings, tmp_path):
    """The evidence inline of a score goes through the same check as the page (evidence_file_error)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    score = Score.objects.get(assessment=data["draft"], criterion__code="1.1.1")
    change = url(Score, "change", score.pk)
    payload = _post_data(admin_client.get(change))
    index = int(payload["evidence-TOTAL_FORMS"])
    payload.update(
        {
            "evidence-TOTAL_FORMS": str(index + 1),
            f"evidence-{index}-score": str(score.pk),
            f"evidence-{index}-file": SimpleUploadedFile(
                "bao-cao.html", b"<script>alert(1)</script>", content_type="text/html"
            ),
        }
    )
    response = admin_client.post(change, payload)
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert "PDF" in str(response.context["adminform"].form.errors)
    assert not Evidence.objects.filter(score=score).exists()
    assert not list(tmp_path.rglob("*.html"))
