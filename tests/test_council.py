"""The appraisal council (issue 13, deliverable 3): members from other offices assigned to areas, each
appraising only the leaves of their areas for every unit (service, per-unit page and its htmx row,
cross-unit grid, upload command); the chair alone marks the council's appraisal done; minutes recorded
and audited; the cross-unit grid reads every unit's row of one criterion in a fixed number of queries."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    appraisal_accept_self,
    assessment_get_or_create,
    assessment_submit,
    evidence_add,
    not_applicable_decide,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.council.models import CouncilMember, CouncilMinutes, CouncilRole, CouncilSignOff
from scoring.council.services import (
    council_assign_areas,
    council_mark_done,
    council_member_add,
    council_member_remove,
    minutes_record,
)
from scoring.models import Score, Via
from tests.publishing import walk_and_publish
from units.models import UnitKind

from .factories import UserFactory, make_framework, make_unit, rows_from_spec
from .sheet_files import call, call_failing, write_csv

TREE = [
    ("1", 30),
    ("1.1", 10),
    ("1.2", 20),
    ("2", 40),
    ("2.1", 15),
    ("2.2", 25),
    ("3", 30, "score", "survey"),
    ("3.1", 30, "score", "survey"),
]
SELF = {"1.1": D("10"), "1.2": D("18"), "2.1": D("12.5"), "2.2": D("20")}
HTMX = {"HTTP_HX_REQUEST": "true"}
OUTSIDE_VI = "nằm ngoài các lĩnh vực được phân công"


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def office(province):
    """Another office of the province (a department), where the council's members come from."""
    return make_unit("STP", kind=UnitKind.DEPARTMENT, parent=province, name="Sở Tư pháp")


def _area(framework, code):
    return framework.criteria.get(code=code)


def _submitted(framework, unit, officer=None, points=SELF, evidence=None):
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={code: SelfEntry(value, evidence_reference=f"QĐ {code}") for code, value in points.items()},
        actor=officer,
    )
    for code, document in (evidence or {}).items():
        evidence_add(assessment=assessment, code=code, document_number=document, actor=officer)
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    return assessment


@pytest.fixture
def council(framework, office, appraiser):
    """Chair A appraises area 1, member B area 2; both from another office (no role in district H)."""
    a = UserFactory(username="member_a", first_name="An")
    b = UserFactory(username="member_b", first_name="Bình")
    chair = council_member_add(
        framework=framework,
        user=a,
        unit=office,
        role=CouncilRole.CHAIR,
        areas=[_area(framework, "1")],
        actor=appraiser,
    )
    member = council_member_add(
        framework=framework, user=b, unit=office, areas=[_area(framework, "2")], actor=appraiser
    )
    return {"a": a, "b": b, "chair": chair, "member": member}


@pytest.fixture
def units(framework, commune, other_commune, officer, other_officer):
    return [_submitted(framework, commune, officer), _submitted(framework, other_commune, other_officer)]


def _score(assessment, code) -> Score | None:
    return Score.objects.filter(assessment=assessment, criterion__code=code).first()


def _grid_url(framework, code=None):
    url = reverse("scoring:council_grid", args=[framework.code])
    return f"{url}?criterion={_area(framework, code).pk}" if code else url


def _grid_row_url(framework, code, assessment):
    return reverse(
        "scoring:council_grid_row", args=[framework.code, _area(framework, code).pk, assessment.pk]
    )


# --- assignments ---------------------------------------------------------------------------------------


def test_appraisers_form_the_council_and_every_change_is_audited(framework, office, appraiser, officer):
    user = UserFactory(username="member_c")
    member = council_member_add(
        framework=framework, user=user, unit=office, areas=[_area(framework, "1")], actor=appraiser
    )
    assert [a.code for a in member.areas.all()] == ["1"]
    council_assign_areas(
        member=member,
        areas=[_area(framework, "1"), _area(framework, "2")],
        role=CouncilRole.CHAIR,
        actor=appraiser,
    )
    member.refresh_from_db()
    assert member.role == CouncilRole.CHAIR
    assert sorted(a.code for a in member.areas.all()) == ["1", "2"]
    entries = AuditEntry.objects.filter(framework_id=framework.pk, action__startswith="council_")
    assert {(e.action, e.field) for e in entries} >= {
        ("council_member_add", "council"),
        ("council_assign_areas", "areas:member_c"),
        ("council_assign_areas", "role:member_c"),
    }
    areas_entry = entries.get(field="areas:member_c")
    assert (areas_entry.old_value, areas_entry.new_value) == ("1", "1, 2")
    assert areas_entry.actor == appraiser

    # Only the framework's appraisers form the council; areas are top-level criteria; one chair, once each.
    with pytest.raises(ServiceError) as refused:
        council_member_add(framework=framework, user=UserFactory(), unit=office, actor=officer)
    assert refused.value.error_code == ErrorCode.FORBIDDEN
    with pytest.raises(ServiceError) as refused:
        council_member_add(
            framework=framework,
            user=UserFactory(),
            unit=office,
            areas=[_area(framework, "1.1")],
            actor=appraiser,
        )
    assert "1.1" in str(refused.value)
    with pytest.raises(ServiceError) as refused:
        council_member_add(
            framework=framework, user=UserFactory(), unit=office, role=CouncilRole.CHAIR, actor=appraiser
        )
    assert refused.value.error_code == ErrorCode.CONFLICT
    with pytest.raises(ServiceError) as refused:
        council_member_add(framework=framework, user=user, unit=office, actor=appraiser)
    assert refused.value.error_code == ErrorCode.CONFLICT
    assert CouncilMember.objects.filter(framework=framework).count() == 1

    council_member_remove(member=member, actor=appraiser)
    assert not CouncilMember.objects.filter(framework=framework).exists()
    assert AuditEntry.objects.filter(
        action="council_member_remove", old_value__startswith="member_c"
    ).exists()


def test_the_council_page_edits_members_for_appraisers_only(
    client, framework, council, office, appraiser, leader
):
    client.force_login(appraiser)
    page = client.get(reverse("scoring:council_page", args=[framework.code]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "member_a" in html and "member_b" in html and "Sở Tư pháp" in html
    assert reverse("scoring:council_member_add", args=[framework.code]) in html
    # The board's header links to the council.
    board = client.get(reverse("scoring:framework_board", args=[framework.code])).content.decode()
    assert reverse("scoring:council_page", args=[framework.code]) in board

    UserFactory(username="member_d")
    response = client.post(
        reverse("scoring:council_member_add", args=[framework.code]),
        {"username": "member_d", "office": "STP", "role": "member", "areas": [_area(framework, "2").pk]},
    )
    assert response.status_code == 302
    added = CouncilMember.objects.get(user__username="member_d")
    assert [a.code for a in added.areas.all()] == ["2"] and added.unit == office
    response = client.post(
        reverse("scoring:council_member_change", args=[framework.code, added.pk]),
        {f"m{added.pk}-role": "member", f"m{added.pk}-areas": [_area(framework, "1").pk]},
    )
    assert response.status_code == 302
    assert [a.code for a in added.areas.all()] == ["1"]

    # A leader reads the council but changes nothing; a member reads it too.
    client.force_login(leader)
    html = client.get(reverse("scoring:council_page", args=[framework.code])).content.decode()
    assert "member_d" in html and reverse("scoring:council_member_add", args=[framework.code]) not in html
    response = client.post(
        reverse("scoring:council_member_remove", args=[framework.code, added.pk]),
    )
    assert response.status_code == 403
    client.force_login(council["b"])
    assert client.get(reverse("scoring:council_page", args=[framework.code])).status_code == 200
    assert client.post(
        reverse("scoring:council_member_remove", args=[framework.code, added.pk])
    ).status_code in (
        403,
        404,
    )
    assert CouncilMember.objects.filter(pk=added.pk).exists()


# --- a member appraises only the leaves of their areas --------------------------------------------------


def test_a_member_appraises_leaves_of_their_area_only_through_the_service(framework, council, units):
    x1 = units[0]
    scores_apply_appraisal(
        assessment=x1,
        entries={"1.2": AppraisalEntry(D("15"), "Thiếu kế hoạch")},
        actor=council["a"],
        via=Via.WEB,
    )
    assert _score(x1, "1.2").appraised_points == D("15")
    with pytest.raises(ServiceError) as refused:
        scores_apply_appraisal(
            assessment=x1,
            entries={"1.1": AppraisalEntry(D("10")), "2.1": AppraisalEntry(D("12.5"))},
            actor=council["a"],
        )
    assert [e.criterion for e in refused.value.all()] == ["2.1"]
    assert refused.value.all()[0].error_code == ErrorCode.FORBIDDEN
    # bilingual: the same refusal in Vietnamese and in English
    text = refused.value.bilingual()
    assert OUTSIDE_VI in text and "outside the areas assigned to you" in text
    # nothing of the batch was saved, not even the leaf in the area
    assert _score(x1, "1.1").appraised_points is None and _score(x1, "2.1").appraised_points is None
    # The other member the other way round; not-applicable decisions obey the same rule.
    scores_apply_appraisal(assessment=x1, entries={"2.1": AppraisalEntry(D("12.5"))}, actor=council["b"])
    with pytest.raises(ServiceError):
        scores_apply_appraisal(assessment=x1, entries={"1.1": AppraisalEntry(D("10"))}, actor=council["b"])
    with pytest.raises(ServiceError) as refused:
        not_applicable_decide(
            assessment=x1, code="1.1", decision="impose", reason="Không có", actor=council["b"]
        )
    assert refused.value.error_code == ErrorCode.FORBIDDEN
    # "Accept every leaf" of a member is every leaf of their areas.
    result = appraisal_accept_self(assessment=x1, actor=council["b"])
    assert result.changed == 1  # 2.2 (2.1 already appraised)
    assert _score(x1, "2.2").appraised_points == D("20") and _score(x1, "1.1").appraised_points is None


def test_the_authoritys_appraisers_keep_full_rights_even_on_the_council(
    framework, council, units, appraiser, office
):
    council_member_add(
        framework=framework, user=appraiser, unit=office, areas=[_area(framework, "1")], actor=appraiser
    )
    scores_apply_appraisal(
        assessment=units[0],
        entries={"2.1": AppraisalEntry(D("12.5")), "1.1": AppraisalEntry(D("10"))},
        actor=appraiser,
    )
    assert _score(units[0], "2.1").appraised_points == D("12.5")


def test_the_per_unit_page_and_its_htmx_row_obey_the_areas(client, framework, council, units):
    x1 = units[0]
    client.force_login(council["a"])
    page = client.get(reverse("scoring:assessment_appraise", args=[x1.pk]))
    assert page.status_code == 200
    # the leaves of area 1 take appraised points; those of area 2 are shown read-only
    html = page.content.decode()
    assert f'id="points-{_area(framework, "1.2").pk}"' in html
    assert f'id="points-{_area(framework, "2.1").pk}"' not in html
    # returning and marking appraised stay the office's
    assert reverse("scoring:assessment_return", args=[x1.pk]) not in page.content.decode()
    assert client.post(reverse("scoring:assessment_mark_appraised", args=[x1.pk])).status_code == 403

    inside = reverse("scoring:appraisal_row_save", args=[x1.pk, _area(framework, "1.2").pk])
    response = client.post(inside, {"points": "15", "reason": "Thiếu kế hoạch"}, **HTMX)
    assert response.status_code == 200 and _score(x1, "1.2").appraised_points == D("15")

    outside = reverse("scoring:appraisal_row_save", args=[x1.pk, _area(framework, "2.1").pk])
    response = client.post(outside, {"points": "5", "reason": "Sai"}, **HTMX)
    assert response.status_code == 403
    assert OUTSIDE_VI in response.content.decode()
    assert _score(x1, "2.1").appraised_points is None
    # without htmx: the same 403; in English: the English refusal
    client.post(reverse("set_language"), {"language": "en"})
    response = client.post(outside, {"points": "5", "reason": "Wrong"})
    assert response.status_code == 403 and "outside the areas assigned to you" in response.content.decode()
    response = client.post(
        reverse("scoring:appraisal_not_applicable", args=[x1.pk, _area(framework, "2.1").pk]),
        {"decision": "impose", "reason": "No market"},
        **HTMX,
    )
    assert response.status_code == 403
    assert _score(x1, "2.1").appraised_not_applicable is None


def test_an_upload_command_of_a_member_obeys_the_areas(tmp_path, framework, council, units):
    x1 = units[0]
    path = write_csv(
        tmp_path / "x1-tham-dinh.csv",
        [["Mã", "Điểm thẩm định", "Lý do"], ["1.1", "10", ""], ["2.1", "5", "Thiếu hồ sơ"]],
    )
    err, _error = call_failing(
        "import_assessment", path, "--framework", framework.code, "--unit", "X1", "--stage", "appraisal",
        "--user", "member_a",
    )  # fmt: skip
    assert "2.1" in err and OUTSIDE_VI in err
    assert _score(x1, "1.1").appraised_points is None and _score(x1, "2.1").appraised_points is None
    path = write_csv(tmp_path / "x1-tham-dinh.csv", [["Mã", "Điểm thẩm định", "Lý do"], ["1.1", "10", ""]])
    call(
        "import_assessment", path, "--framework", framework.code, "--unit", "X1", "--stage", "appraisal",
        "--user", "member_a",
    )  # fmt: skip
    assert _score(x1, "1.1").appraised_points == D("10")


# --- the cross-unit grid --------------------------------------------------------------------------------


def test_the_grid_shows_every_unit_of_one_leaf_and_only_the_members_leaves(client, framework, council, units):
    x1 = units[0]
    _submitted(
        framework, make_unit("X5", parent=x1.unit.parent, name="Xã Năm"), evidence={"1.2": "5/KH-UBND"}
    )
    client.force_login(council["a"])
    response = client.get(_grid_url(framework, "1.2"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Xã Một" in html and "Xã Hai" in html and "Xã Năm" in html
    assert 'name="points"' in html and _grid_row_url(framework, "1.2", x1) in html
    assert "1 tài liệu" in html or "1 evidence" in html
    picker = html[html.index('id="criterion-picker"') : html.index("</select>")]
    assert "1.1." in picker and "1.2." in picker and "2.1." not in picker and "3.1." not in picker
    # a leaf of another area: 403 with the council's refusal; the default leaf is the member's first
    response = client.get(_grid_url(framework, "2.1"))
    assert response.status_code == 403 and OUTSIDE_VI in response.content.decode()
    assert "Tiêu chí 1.1" in client.get(_grid_url(framework)).content.decode()
    client.force_login(council["b"])
    html = client.get(_grid_url(framework)).content.decode()
    picker = html[html.index('id="criterion-picker"') : html.index("</select>")]
    assert "2.1." in picker and "2.2." in picker and "1.1." not in picker


def _grid_queries(client, framework, code):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_grid_url(framework, code))
    assert response.status_code == 200
    return len(queries)


def test_the_grid_reads_in_a_fixed_number_of_queries(client, framework, council, units, district):
    client.force_login(council["a"])
    few = _grid_queries(client, framework, "1.2")
    for n in range(3, 9):
        unit = make_unit(f"X{n}", kind=UnitKind.COMMUNE, parent=district, name=f"Xã {n}")
        _submitted(framework, unit, evidence={"1.2": f"{n}/KH-UBND"})
    many = _grid_queries(client, framework, "1.2")
    assert many == few
    assert "Xã 8" in client.get(_grid_url(framework, "1.2")).content.decode()


def test_the_grid_saves_through_the_appraisal_service(client, framework, council, units):
    x1, x2 = units
    client.force_login(council["a"])
    # a difference without a reason: the service's refusal beside the row, nothing saved
    response = client.post(_grid_row_url(framework, "1.2", x1), {"points": "15", "reason": ""}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "cần ghi lý do" in html and 'value="15"' in html
    assert _score(x1, "1.2").appraised_points is None
    # with a reason: saved and audited as any appraisal, the row again
    response = client.post(
        _grid_row_url(framework, "1.2", x1), {"points": "15", "reason": "Thiếu kế hoạch"}, **HTMX
    )
    assert response.status_code == 200 and "Đã" in response.content.decode()
    score = _score(x1, "1.2")
    assert score.appraised_points == D("15") and score.appraisal_reason == "Thiếu kế hoạch"
    entry = AuditEntry.objects.get(assessment_id=x1.pk, action="appraise", field="appraised_points")
    assert entry.actor == council["a"] and entry.via == Via.WEB and entry.reason == "Thiếu kế hoạch"
    # accepting the unit's own points, row by row for the other unit
    response = client.post(_grid_row_url(framework, "1.2", x2), {"accept_self": "1"}, **HTMX)
    assert response.status_code == 200 and _score(x2, "1.2").appraised_points == D("18")
    # a leaf outside the member's areas, posted to the grid: 403, nothing saved
    response = client.post(_grid_row_url(framework, "2.1", x1), {"points": "15", "reason": "x"}, **HTMX)
    assert response.status_code == 403 and OUTSIDE_VI in response.content.decode()
    assert _score(x1, "2.1").appraised_points is None
    # without htmx: POST-redirect-GET back to the grid
    response = client.post(_grid_row_url(framework, "1.1", x1), {"points": "10", "reason": ""})
    assert response.status_code == 302 and _grid_url(framework, "1.1") in response["Location"]
    assert _score(x1, "1.1").appraised_points == D("10")


def test_a_unit_not_submitted_shows_in_the_grid_locked(client, framework, council, units, district):
    draft = assessment_get_or_create(
        unit=make_unit("X9", parent=district, name="Xã Chín"), framework=framework
    )
    client.force_login(council["a"])
    html = client.get(_grid_url(framework, "1.2")).content.decode()
    assert "Xã Chín" in html and _grid_row_url(framework, "1.2", draft) not in html
    response = client.post(_grid_row_url(framework, "1.2", draft), {"points": "1", "reason": "x"}, **HTMX)
    assert response.status_code == 403


def test_who_sees_the_grid(client, framework, council, units, officer, leader, appraiser, office, district):
    url = _grid_url(framework, "1.2")
    client.force_login(officer)
    assert client.get(url).status_code == 403
    assert client.post(_grid_row_url(framework, "1.2", units[0]), {"points": "1"}, **HTMX).status_code == 403
    client.force_login(leader)
    assert client.get(url).status_code == 403
    client.force_login(appraiser)  # every appraised leaf, every area
    html = client.get(url).content.decode()
    picker = html[html.index('id="criterion-picker"') : html.index("</select>")]
    assert "1.1." in picker and "2.2." in picker
    # a member of another framework's council sees nothing of this one
    other = make_framework(district, rows=rows_from_spec(TREE))
    stranger = UserFactory(username="stranger")
    council_member_add(
        framework=other, user=stranger, unit=office, areas=[_area(other, "1")], actor=appraiser
    )
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(reverse("scoring:council_page", args=[framework.code])).status_code == 404
    assert client.get(reverse("scoring:assessment_appraise", args=[units[0].pk])).status_code == 404
    response = client.post(_grid_row_url(framework, "1.2", units[0]), {"points": "1", "reason": "x"}, **HTMX)
    assert response.status_code == 404 and _score(units[0], "1.2").appraised_points is None
    assert client.get(_grid_url(other, "1.2")).status_code == 200


# --- the chair marks the council's appraisal done ------------------------------------------------------------


def test_only_the_chair_marks_done_once_every_leaf_of_the_areas_is_appraised(
    client, framework, council, units, appraiser
):
    for actor in (council["b"], appraiser):
        with pytest.raises(ServiceError) as refused:
            council_mark_done(framework=framework, actor=actor)
        assert refused.value.error_code == ErrorCode.FORBIDDEN
    with pytest.raises(ServiceError) as refused:
        council_mark_done(framework=framework, actor=council["a"])
    assert "X1 1.1" in str(refused.value) and "X2 2.2" in str(refused.value)
    for assessment in units:
        appraisal_accept_self(assessment=assessment, area_code="1", actor=council["a"])
    with pytest.raises(ServiceError) as refused:
        council_mark_done(framework=framework, actor=council["a"])
    assert "X1 1.1" not in str(refused.value) and "X1 2.1" in str(refused.value)
    for assessment in units:
        appraisal_accept_self(assessment=assessment, actor=council["b"])
    # a unit that never submitted is not the council's to appraise; the survey area is nobody's
    assessment_get_or_create(unit=make_unit("X7", parent=units[0].unit.parent), framework=framework)

    # a member (not the chair) posting "done": 403
    client.force_login(council["b"])
    assert client.post(reverse("scoring:council_done", args=[framework.code])).status_code == 403
    assert not CouncilSignOff.objects.filter(framework=framework).exists()
    client.force_login(council["a"])
    page = client.get(reverse("scoring:council_page", args=[framework.code])).content.decode()
    assert reverse("scoring:council_done", args=[framework.code]) in page
    response = client.post(reverse("scoring:council_done", args=[framework.code]))
    assert response.status_code == 302
    signoff = CouncilSignOff.objects.get(framework=framework)
    assert signoff.done_by == council["a"]
    assert AuditEntry.objects.filter(
        framework_id=framework.pk, action="council_done", actor=council["a"]
    ).exists()
    page = client.get(reverse("scoring:council_page", args=[framework.code])).content.decode()
    assert reverse("scoring:council_done", args=[framework.code]) not in page
    with pytest.raises(ServiceError) as refused:
        council_mark_done(framework=framework, actor=council["a"])
    assert refused.value.error_code == ErrorCode.CONFLICT


# --- minutes ----------------------------------------------------------------------------------------------


def test_minutes_are_recorded_and_audited(client, framework, council, appraiser):
    minutes = minutes_record(
        framework=framework,
        meeting_date=date(2024, 12, 5),
        present=[council["chair"], council["member"]],
        conclusions="Thống nhất điểm thẩm định của 2 xã.",
        actor=appraiser,
    )
    assert sorted(m.user.username for m in minutes.present.all()) == ["member_a", "member_b"]
    entry = AuditEntry.objects.get(framework_id=framework.pk, action="council_minutes")
    assert entry.actor == appraiser and entry.reason == "Thống nhất điểm thẩm định của 2 xã."
    assert "05/12/2024" in entry.new_value
    with pytest.raises(ServiceError) as refused:
        minutes_record(
            framework=framework,
            meeting_date=date(2024, 12, 6),
            present=[],
            conclusions="x",
            actor=council["b"],
        )
    assert refused.value.error_code == ErrorCode.FORBIDDEN
    with pytest.raises(ServiceError) as refused:
        minutes_record(
            framework=framework,
            meeting_date=timezone.localdate() + timedelta(days=1),
            present=[],
            conclusions=" ",
            actor=appraiser,
        )
    assert {e.field for e in refused.value.all()} == {"meeting_date", "conclusions"}

    # The chair records them on the page, with a file; everyone on the council reads and downloads them.
    client.force_login(council["a"])
    response = client.post(
        reverse("scoring:council_minutes", args=[framework.code]),
        {
            "meeting_date": "20/12/2024",
            "present": [council["chair"].pk],
            "conclusions": "Hoàn thành thẩm định.",
            "file": SimpleUploadedFile("bien-ban.pdf", b"%PDF-1.4 minutes"),
        },
    )
    assert response.status_code == 302
    recorded = CouncilMinutes.objects.get(conclusions="Hoàn thành thẩm định.")
    assert recorded.created_by == council["a"] and recorded.file
    client.force_login(council["b"])
    html = client.get(reverse("scoring:council_page", args=[framework.code])).content.decode()
    assert "Hoàn thành thẩm định." in html and "20/12/2024" in html
    assert 'id="minutes-form"' not in html  # B does not record them
    download = client.get(reverse("scoring:council_minutes_file", args=[framework.code, recorded.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 minutes"
    response = client.post(
        reverse("scoring:council_minutes", args=[framework.code]),
        {"meeting_date": "20/12/2024", "conclusions": "B"},
    )
    assert response.status_code == 403 and not CouncilMinutes.objects.filter(conclusions="B").exists()


def test_a_published_framework_refuses_every_council_change(framework, council, units, appraiser, office):
    for assessment in units:
        appraisal_accept_self(assessment=assessment, actor=appraiser)
    walk_and_publish(
        framework=framework, decision_number="1/QĐ", decision_date=date(2024, 12, 21), actor=appraiser
    )
    with pytest.raises(ServiceError) as refused:
        council_member_add(framework=framework, user=UserFactory(), unit=office, actor=appraiser)
    assert refused.value.error_code == ErrorCode.LOCKED
    with pytest.raises(ServiceError) as refused:
        council_mark_done(framework=framework, actor=council["a"])
    assert refused.value.error_code == ErrorCode.LOCKED


def test_a_member_from_another_office_is_not_an_appraiser_elsewhere(
    client, framework, council, units, district
):
    """Sitting on the council gives no role in units: the member's own unit pages stay closed."""
    client.force_login(council["a"])
    assert client.get(reverse("scoring:framework_board", args=[framework.code])).status_code == 403
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("scoring:framework_list")
    html = client.get(reverse("scoring:framework_list")).content.decode()
    assert framework.code in html and reverse("scoring:council_page", args=[framework.code]) in html


def test_the_grid_appraises_a_raw_figure_by_the_leafs_rule(
    client, district, office, appraiser, commune, officer
):
    """A leaf scored from a raw figure (percent): the grid shows the unit's figure and takes the appraised
    figure, the points following from the rule, as on the per-unit page."""
    framework = make_framework(
        district, rows=rows_from_spec([("1", 2), ("1.1", 2, "score", "self", "percent")])
    )
    member = UserFactory(username="member_p")
    council_member_add(
        framework=framework, user=member, unit=office, areas=[_area(framework, "1")], actor=appraiser
    )
    assessment = assessment_get_or_create(unit=commune, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={"1.1": SelfEntry(None, raw="95,5", evidence_reference="BC")},
        actor=officer,
    )
    assessment_submit(assessment=assessment, actor=officer)
    client.force_login(member)
    html = client.get(_grid_url(framework, "1.1")).content.decode()
    assert "95,5" in html and 'name="raw"' in html and "1,91" in html
    response = client.post(
        _grid_row_url(framework, "1.1", assessment), {"raw": "90", "reason": "Số liệu sai"}, **HTMX
    )
    assert response.status_code == 200
    score = _score(assessment, "1.1")
    assert score.appraised_raw == "90" and score.appraised_points == D("1.8")
