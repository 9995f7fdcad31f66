"""Audited units and memberships: every change through units.services writes one audit row (who, via
which path, old → new), whether it comes from code, the units file, the admin or its import; refusals
name their field; the trail outlives what it describes; the unit activity page shows it to appraisers."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parindex.audit.models import AuditEntry, Subject, Via
from parindex.audit.services import audit_entry
from parindex.errors import ErrorCode, ServiceError
from scoring.assessments.services import assessment_get_or_create
from scoring.frameworks.services import framework_set_deadlines
from scoring.models import Framework
from units.models import Membership, Role, Unit, UnitKind
from units.services import (
    membership_grant,
    membership_revoke,
    unit_create,
    unit_deactivate,
    unit_delete,
    unit_move,
    unit_rename,
    unit_save,
    unit_set_predecessors,
)

from .factories import UserFactory, make_framework, make_member, make_unit
from .sheet_files import call, write_xlsx

pytestmark = pytest.mark.django_db


def trail(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def new_rows(before: int):
    return list(AuditEntry.objects.filter(pk__gt=before).order_by("id"))


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- services -------------------------------------------------------------------------------------------


def test_unit_create_writes_one_row_with_actor_and_values(district, appraiser):
    before = last_id()
    unit = unit_create(
        code="X7", name="Xã Bảy", kind=UnitKind.COMMUNE, parent=district, actor=appraiser, via=Via.WEB
    )
    [row] = new_rows(before)
    assert (row.action, row.subject_type, row.unit_id, row.unit_code) == (
        "unit_create",
        Subject.UNIT,
        unit.pk,
        "X7",
    )
    assert (row.actor, row.actor_name, row.via) == (appraiser, appraiser.username, Via.WEB)
    assert row.old_value == "" and row.new_value == "Xã Bảy · commune · H"


def test_rename_writes_old_and_new_name(commune, appraiser):
    before = last_id()
    unit_rename(unit=commune, name="Xã Một Mới", actor=appraiser, via=Via.WEB)
    [row] = new_rows(before)
    assert (row.action, row.field, row.old_value, row.new_value) == (
        "unit_rename",
        "name",
        "Xã Một",
        "Xã Một Mới",
    )
    assert row.actor == appraiser and Unit.objects.get(pk=commune.pk).name == "Xã Một Mới"


def test_unchanged_values_write_nothing(commune, appraiser):
    before = last_id()
    unit_rename(unit=commune, name=commune.name, actor=appraiser)
    unit_move(unit=commune, parent=commune.parent, actor=appraiser)
    unit_save(code="X1", name=commune.name, kind=commune.kind, parent=commune.parent, actor=appraiser)
    assert new_rows(before) == []


def test_move_writes_parent_codes_and_keeps_the_subtree_paths(province, district, commune, appraiser):
    child = make_unit("X1A", parent=commune)
    other = make_unit("H2", kind=UnitKind.DISTRICT, parent=province)
    before = last_id()
    unit_move(unit=commune, parent=other, actor=appraiser, via=Via.ADMIN)
    [row] = new_rows(before)
    assert (row.action, row.field, row.old_value, row.new_value, row.via) == (
        "unit_move",
        "parent",
        "H",
        "H2",
        Via.ADMIN,
    )
    commune.refresh_from_db()
    child.refresh_from_db()
    assert commune.path == f"{other.path}{commune.pk}/" and child.path == f"{commune.path}{child.pk}/"


def test_merge_writes_old_and_new_predecessors(district, appraiser):
    a, b, c = (make_unit(code, parent=district) for code in ("XA", "XB", "XC"))
    merged = make_unit("XM", parent=district, predecessors=[a])
    before = last_id()
    unit_set_predecessors(unit=merged, predecessors=[c, b], actor=appraiser, via=Via.WEB)
    [row] = new_rows(before)
    assert (row.action, row.field, row.old_value, row.new_value) == (
        "unit_merge",
        "predecessors",
        "XA",
        "XB;XC",
    )
    assert sorted(merged.predecessors.values_list("code", flat=True)) == ["XB", "XC"]


def test_deactivate_writes_the_last_year(commune, appraiser):
    before = last_id()
    unit_deactivate(unit=commune, last_year=2024, actor=appraiser)
    [row] = new_rows(before)
    assert (row.action, row.field, row.old_value, row.new_value) == (
        "unit_deactivate",
        "active_to",
        "",
        "2024",
    )


def test_membership_grant_and_revoke_say_who_made_whom_what(district, appraiser):
    user = UserFactory(username="nguyenvana")
    before = last_id()
    membership = membership_grant(user=user, unit=district, role=Role.APPRAISER, actor=appraiser, via=Via.WEB)
    membership_grant(user=user, unit=district, role=Role.APPRAISER, actor=appraiser)  # held already: no row
    [grant] = new_rows(before)
    assert (grant.action, grant.subject_type, grant.subject_id, grant.subject_label) == (
        "membership_grant",
        Subject.MEMBERSHIP,
        membership.pk,
        "nguyenvana",
    )
    assert (grant.unit_code, grant.field, grant.old_value, grant.new_value, grant.actor) == (
        "H",
        "role",
        "",
        "appraiser",
        appraiser,
    )
    before = last_id()
    membership_revoke(membership=membership, actor=appraiser, via=Via.WEB)
    [revoke] = new_rows(before)
    assert (revoke.action, revoke.subject_label, revoke.old_value, revoke.new_value) == (
        "membership_revoke",
        "nguyenvana",
        "appraiser",
        "",
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()


@pytest.mark.parametrize(
    ("call_service", "field", "code"),
    [
        (lambda d, c: unit_move(unit=d, parent=c), "parent", ErrorCode.INVALID),
        (lambda d, c: unit_move(unit=d, parent=d), "parent", ErrorCode.INVALID),
        (lambda d, c: unit_set_predecessors(unit=c, predecessors=[c]), "predecessors", ErrorCode.INVALID),
        (
            lambda d, c: unit_create(code="X1", name="Trùng", kind=UnitKind.COMMUNE),
            "code",
            ErrorCode.CONFLICT,
        ),
        (
            lambda d, c: unit_create(code="X 9", name="Sai mã", kind=UnitKind.COMMUNE),
            "code",
            ErrorCode.INVALID,
        ),
        (lambda d, c: unit_create(code="X9", name="Xã", kind="hamlet"), "kind", ErrorCode.INVALID),
        (lambda d, c: unit_create(code="X9", name=" ", kind=UnitKind.COMMUNE), "name", ErrorCode.INVALID),
        (
            lambda d, c: unit_save(
                code="X1", name="Xã", kind=UnitKind.COMMUNE, parent=d, active_from=2025, active_to=2024
            ),
            "active_to",
            ErrorCode.INVALID,
        ),
        (lambda d, c: membership_grant(user=UserFactory(), unit=c, role="mayor"), "role", ErrorCode.INVALID),
    ],
)
def test_refusals_name_the_field_and_change_nothing(district, commune, call_service, field, code):
    before = (last_id(), list(Unit.objects.order_by("pk").values()))
    with pytest.raises(ServiceError) as refused:
        call_service(district, commune)
    assert [e.field for e in refused.value.all()] == [field] and refused.value.error_code == code
    vi, en = refused.value.texts("vi"), refused.value.texts("en")
    assert vi != en, "the refusal has a Vietnamese translation"
    assert (last_id(), list(Unit.objects.order_by("pk").values())) == before


# --- the units file (import_units) -----------------------------------------------------------------------


def test_import_units_audits_creations_renames_moves_and_merges(tmp_path):
    header = ["Mã đơn vị", "Tên đơn vị", "Loại", "Mã đơn vị cấp trên", "Mã đơn vị trước sắp xếp"]
    call(
        "import_units",
        write_xlsx(
            tmp_path / "a.xlsx",
            [
                header,
                ["T", "Tỉnh", "tỉnh"],
                ["H", "Huyện", "huyện", "T"],
                ["X1", "Xã Một", "xã", "H"],
                ["X2", "Xã Hai", "xã", "H"],
            ],
        ),
    )
    created = trail(action="unit_create")
    assert [r.unit_code for r in created] == ["T", "H", "X1", "X2"] and {r.via for r in created} == {
        Via.COMMAND
    }
    before = last_id()
    call(
        "import_units",
        write_xlsx(
            tmp_path / "b.xlsx",
            [
                header,
                ["T", "Tỉnh", "tỉnh"],
                ["X1", "Xã Một Mới", "xã", "T"],
                ["XM", "Xã Mới", "xã", "T", "X1; X2"],
            ],
        ),
    )
    got = {(r.action, r.unit_code, r.field, r.old_value, r.new_value) for r in new_rows(before)}
    assert got == {
        ("unit_rename", "X1", "name", "Xã Một", "Xã Một Mới"),
        ("unit_move", "X1", "parent", "H", "T"),
        ("unit_create", "XM", "", "", "Xã Mới · commune · T"),
        ("unit_merge", "XM", "predecessors", "", "X1;X2"),
    }


# --- the admin and its import ----------------------------------------------------------------------------


def _inline(prefix, rows=(), initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data |= {f"{prefix}-{i}-{key}": value for key, value in row.items()}
    return data


def test_admin_unit_add_with_a_member_and_rename_are_audited(admin_client, admin_user, district):
    user = UserFactory(username="canbo")
    before = last_id()
    response = admin_client.post(
        reverse("admin:units_unit_add"),
        {
            "code": "X9",
            "name": "Xã Chín",
            "kind": "commune",
            "parent": district.pk,
            "active_from": "",
            "active_to": "",
            **_inline("memberships", [{"user": user.pk, "role": "officer"}]),
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    unit = Unit.objects.get(code="X9")
    rows = {
        (r.action, r.unit_code, r.subject_label, r.new_value, r.via, r.actor_id) for r in new_rows(before)
    }
    assert rows == {
        ("unit_create", "X9", "", "Xã Chín · commune · H", Via.ADMIN, admin_user.pk),
        ("membership_grant", "X9", "canbo", "officer", Via.ADMIN, admin_user.pk),
    }
    membership = Membership.objects.get(user=user, unit=unit)
    before = last_id()
    response = admin_client.post(
        reverse("admin:units_unit_change", args=[unit.pk]),
        {
            "name": "Xã Chín Mới",
            "kind": "commune",
            "parent": district.pk,
            "active_from": "",
            "active_to": "",
            **_inline(
                "memberships",
                [{"id": membership.pk, "unit": unit.pk, "user": user.pk, "role": "officer", "DELETE": "on"}],
                initial=1,
            ),
        },
    )
    assert response.status_code == 302
    got = {(r.action, r.field, r.old_value, r.new_value) for r in new_rows(before)}
    assert got == {
        ("unit_rename", "name", "Xã Chín", "Xã Chín Mới"),
        ("membership_revoke", "role", "officer", ""),
    }
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_admin_refusal_of_the_service_lands_on_the_field(admin_client, district, commune):
    before = last_id()
    response = admin_client.post(
        reverse("admin:units_unit_change", args=[district.pk]),
        {
            "name": district.name,
            "kind": "district",
            "parent": commune.pk,
            "active_from": "",
            "active_to": "",
            **_inline("memberships"),
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["parent"]
    assert last_id() == before and Unit.objects.get(pk=district.pk).parent_id != commune.pk


def test_admin_memberships_audited_on_the_membership_and_user_pages(
    admin_client, admin_user, district, commune
):
    user = UserFactory(username="lanhdao")
    before = last_id()
    response = admin_client.post(
        reverse("admin:units_membership_add"), {"user": user.pk, "unit": district.pk, "role": "leader"}
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=user)
    response = admin_client.post(
        reverse("admin:units_membership_change", args=[membership.pk]),
        {"user": user.pk, "unit": district.pk, "role": "appraiser"},
    )
    assert response.status_code == 302
    got = [(r.action, r.subject_label, r.old_value, r.new_value, r.via) for r in new_rows(before)]
    assert got == [
        ("membership_grant", "lanhdao", "", "leader", Via.ADMIN),
        ("membership_revoke", "lanhdao", "leader", "", Via.ADMIN),
        ("membership_grant", "lanhdao", "", "appraiser", Via.ADMIN),
    ]

    # The user's own page, with the memberships inline.
    page = admin_client.get(reverse("admin:auth_user_change", args=[user.pk]))
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {k: v for k, v in data.items() if not isinstance(v, bool) or v}
    data["date_joined_0"], data["date_joined_1"] = user.date_joined.strftime("%Y-%m-%d"), "00:00:00"
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("password", None)
    current = Membership.objects.get(user=user)
    before = last_id()
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[user.pk]),
        {
            **data,
            **_inline(
                "memberships",
                [
                    {"id": current.pk, "user": user.pk, "unit": district.pk, "role": "appraiser"},
                    {"user": user.pk, "unit": commune.pk, "role": "officer"},
                ],
                initial=1,
            ),
        },
    )
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset
    ]
    got = [(r.action, r.unit_code, r.new_value, r.actor_id) for r in new_rows(before)]
    assert got == [("membership_grant", "X1", "officer", admin_user.pk)]


def test_admin_units_import_is_audited_as_the_admin(admin_client, admin_user, district):
    out = io.StringIO()
    csv.writer(out).writerows(
        [
            ["code", "name", "kind", "parent"],
            ["X8", "Xã Tám", "commune", "H"],
            ["H", "Huyện Mới", "district", "T"],
        ]
    )
    upload = SimpleUploadedFile("units.csv", out.getvalue().encode("utf-8"), content_type="text/csv")
    response = admin_client.post(
        reverse("admin:units_unit_import"), {"format": "1", "resource": "0", "import_file": upload}
    )  # 1: csv
    form = response.context["confirm_form"]
    payload = {
        name: form.initial[name] for name in ("import_file_name", "original_file_name", "format", "resource")
    }
    before = last_id()
    response = admin_client.post(reverse("admin:units_unit_process_import"), payload)
    assert response.status_code == 302
    got = {(r.action, r.unit_code, r.via, r.actor_id) for r in new_rows(before)}
    assert got == {
        ("unit_create", "X8", Via.ADMIN, admin_user.pk),
        ("unit_rename", "H", Via.ADMIN, admin_user.pk),
    }


def test_admin_lists_the_trail_read_only_with_filters(admin_client, district, appraiser):
    unit_rename(unit=district, name="Huyện Đổi Tên", actor=appraiser, via=Via.WEB)
    url = reverse("admin:audit_auditentry_changelist")
    units_only = admin_client.get(url, {"subject_type__exact": "unit"}).context["cl"]
    assert units_only.result_count == AuditEntry.objects.filter(subject_type="unit").count() > 0
    assert (
        admin_client.get(url, {"subject_type__exact": "membership", "via__exact": "web"})
        .context["cl"]
        .result_count
        == 0
    )
    assert (
        admin_client.get(url, {"action__exact": "unit_rename", "actor__id__exact": appraiser.pk})
        .context["cl"]
        .result_count
        == 1
    )
    entry = AuditEntry.objects.get(action="unit_rename")
    assert (
        admin_client.post(
            reverse("admin:audit_auditentry_change", args=[entry.pk]), {"reason": "x"}
        ).status_code
        == 403
    )


# --- the trail outlives what it describes -----------------------------------------------------------------


def test_trail_survives_deleting_a_framework_in_the_admin(admin_client, district, commune, appraiser):
    framework = make_framework(district, code="FW-DEL")
    assessment = assessment_get_or_create(unit=commune, framework=framework, actor=appraiser)
    framework_set_deadlines(framework=framework, self_deadline=None, appraisal_deadline=None, actor=appraiser)
    rows = AuditEntry.objects.filter(framework_id=framework.pk)
    count = rows.count()
    assert count >= 2
    response = admin_client.post(
        reverse("admin:scoring_framework_delete", args=[framework.pk]), {"post": "yes"}
    )
    assert response.status_code == 302 and not Framework.objects.filter(pk=framework.pk).exists()
    # Every earlier row is still there, and the deletion itself is one more (framework_delete).
    assert rows.count() == count + 1
    assert rows.filter(action="framework_delete", via="admin").count() == 1
    opened = AuditEntry.objects.get(action="assessment_create", framework_id=framework.pk)
    assert (opened.framework_code, opened.assessment_id, opened.unit_code) == ("FW-DEL", assessment.pk, "X1")


def test_trail_survives_deleting_a_unit_and_its_memberships(admin_client, admin_user, district):
    unit = make_unit("X5", parent=district)
    member = make_member(unit, Role.OFFICER, "officer_x5")
    response = admin_client.post(reverse("admin:units_unit_delete", args=[unit.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Unit.objects.filter(code="X5").exists()
    got = [(r.action, r.subject_label, r.via) for r in trail(unit_code="X5")]
    assert got == [
        ("unit_create", "", Via.SYSTEM),
        ("membership_grant", member.username, Via.SYSTEM),
        ("membership_revoke", member.username, Via.ADMIN),
        ("unit_delete", "", Via.ADMIN),
    ]


def test_deleting_a_user_in_the_admin_revokes_their_roles_on_the_trail(admin_client, admin_user, district):
    user = make_member(district, Role.LEADER, "lanhdao_cu")
    response = admin_client.post(reverse("admin:auth_user_delete", args=[user.pk]), {"post": "yes"})
    assert response.status_code == 302
    [row] = trail(action="membership_revoke")
    assert (row.subject_label, row.unit_code, row.old_value, row.actor, row.via) == (
        "lanhdao_cu",
        "H",
        "leader",
        admin_user,
        Via.ADMIN,
    )


def test_unit_delete_is_refused_while_units_depend_on_it(district, commune):
    before = last_id()
    with pytest.raises(ProtectedError):
        unit_delete(unit=district)
    assert last_id() == before


def test_trail_survives_deleting_the_actor(district):
    actor = UserFactory(username="tam", first_name="Tâm")
    unit_rename(unit=district, name="Huyện Mới", actor=actor)
    actor.delete()
    row = AuditEntry.objects.get(action="unit_rename")
    assert row.actor is None and row.who == "Tâm"


def test_builder_fills_codes_from_instances(district, commune):
    framework = make_framework(district, code="FW-B")
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    criterion = framework.criteria.get(code="1.1")
    row = audit_entry(action="x", assessment=assessment, criterion=criterion)
    assert (
        row.subject_type,
        row.framework_id,
        row.framework_code,
        row.unit_id,
        row.unit_code,
        row.criterion_code,
    ) == (Subject.SCORE, framework.pk, "FW-B", commune.pk, "X1", "1.1")
    by_id = audit_entry(action="x", framework=framework.pk, unit=commune.pk)
    assert (by_id.subject_type, by_id.framework_id, by_id.framework_code, by_id.unit_id) == (
        Subject.FRAMEWORK,
        framework.pk,
        "",
        commune.pk,
    )


# --- the unit activity page -------------------------------------------------------------------------------


@pytest.fixture
def unit_changes(province, district, commune, other_commune, appraiser):
    elsewhere = make_unit("H9", kind=UnitKind.DISTRICT, parent=province)
    unit_rename(unit=commune, name="Xã Một Mới", actor=appraiser, via=Via.WEB)
    membership_grant(
        user=UserFactory(username="canbo_x2"),
        unit=other_commune,
        role=Role.OFFICER,
        actor=appraiser,
        via=Via.ADMIN,
    )
    unit_rename(unit=elsewhere, name="Huyện Khác", actor=appraiser)
    return elsewhere


def test_activity_page_shows_appraisers_their_units_changes(client, unit_changes, appraiser):
    client.force_login(appraiser)
    response = client.get(reverse("scoring:unit_activity"))
    assert response.status_code == 200
    entries = [line.entry for line in response.context["lines"]]
    assert {e.unit_code for e in entries} <= {"H", "X1", "X2"} and "H9" not in {e.unit_code for e in entries}
    body = response.content.decode()
    assert "Xã Một Mới" in body and "canbo_x2" in body and "Cán bộ đơn vị" in body  # role by its name
    assert appraiser.username in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"unit": "X1"}, {("unit_create", "X1"), ("unit_rename", "X1")}),
        ({"unit": "H", "action": "unit_rename"}, {("unit_rename", "X1")}),  # a unit and everything under it
        ({"action": "membership_grant", "via": "admin"}, {("membership_grant", "X2")}),
        ({"unit": "H9"}, set()),  # outside the appraiser's authority
    ],
)
def test_activity_page_filters(client, unit_changes, appraiser, params, expected):
    client.force_login(appraiser)
    response = client.get(reverse("scoring:unit_activity"), params)
    assert {(line.entry.action, line.entry.unit_code) for line in response.context["lines"]} == expected


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("officer", 404),
        ("other_officer", 404),
        ("leader", 403),
        ("appraiser", 200),
    ],
)
def test_activity_page_per_persona(client, unit_changes, request, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("scoring:unit_activity")).status_code == status


def test_activity_page_query_count_does_not_grow(client, district, appraiser):
    client.force_login(appraiser)
    counts = []
    for n in (3, 30):
        for i in range(n):
            unit = make_unit(f"Q{n}-{i}", parent=district)
            membership_grant(user=UserFactory(), unit=unit, role=Role.OFFICER, actor=appraiser)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("scoring:unit_activity")).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_activity_page_sends_anonymous_to_login(client):
    response = client.get(reverse("scoring:unit_activity"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
