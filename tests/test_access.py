"""The access rules of DESIGN §1, at the level of the helpers every view, download, upload and command
calls first: one helper per object type, 404 for what a persona may not see, 403 for what they see but
may not do. Personas: the officer of X1 (this unit), the officer of X2 (another unit, also assessed in
the framework), an officer of X7 (a unit the framework does not assess), the appraiser and the leader of
district H, and anonymous."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from reports import access as reports_access
from reports.models import JobStatus, RemediationItem, ReportJob
from scoring import access
from scoring.assessments.services import (
    SelfEntry,
    assessment_extend_deadline,
    assessment_get_or_create,
    assessment_submit,
    evidence_add,
    scores_apply_self,
)
from scoring.models import Assessment, AssessmentStatus, Criterion, ImportKind, ImportRecord, ImportStatus
from tests.publishing import walk_and_publish
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .sheet_files import call, call_failing, write_csv

TREE = [("1", 100), ("1.1", 100)]
OK, HIDDEN, REFUSED = "ok", 404, 403
PERSONAS = ("officer", "other_officer", "lonely_officer", "appraiser", "leader", "anonymous")


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE), code="FW")


@pytest.fixture
def mine(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


@pytest.fixture
def theirs(framework, other_commune):
    return assessment_get_or_create(unit=other_commune, framework=framework)


@pytest.fixture
def users(officer, other_officer, appraiser, leader, district, theirs):
    return {
        "officer": officer,
        "other_officer": other_officer,
        "lonely_officer": make_member(make_unit("X7", parent=district), Role.OFFICER, "officer_x7"),
        "appraiser": appraiser,
        "leader": leader,
        "anonymous": AnonymousUser(),
    }


def outcome(helper, *args, **kwargs):
    try:
        helper(*args, **kwargs)
    except Http404:
        return HIDDEN
    except PermissionDenied:
        return REFUSED
    return OK


def outcomes(users, helper, *args, **kwargs) -> dict:
    return {persona: outcome(helper, users[persona], *args, **kwargs) for persona in PERSONAS}


def expect(default, **overrides) -> dict:
    """An expectation for every persona; anonymous and the officer of an unassessed unit see nothing
    unless said otherwise."""
    return {**dict.fromkeys(PERSONAS, default), "anonymous": HIDDEN, "lonely_officer": HIDDEN, **overrides}


def publish(framework):
    walk_and_publish(framework=framework, decision_number="4769/QĐ-UBND", decision_date=timezone.localdate())
    framework.refresh_from_db()


def leaf(framework, code="1.1"):
    return Criterion.objects.get(framework=framework, code=code)


# --- units ------------------------------------------------------------------------------------------


def test_unit_helpers(users, commune, mine):
    assert outcomes(users, access.get_unit_for_view, "X1") == expect(OK, other_officer=HIDDEN)
    assert outcomes(users, access.get_unit_for_oversight, "X1") == expect(
        OK, officer=REFUSED, other_officer=HIDDEN
    )
    assert outcomes(users, access.get_unit_for_change, "X1") == expect(
        REFUSED, other_officer=HIDDEN, appraiser=OK
    )
    assert outcomes(users, access.get_unit_for_view, "NOPE") == expect(HIDDEN)


def test_units_under_authority_is_the_subtree_of_appraiser_and_leader_memberships(
    province, district, commune, appraiser, leader, officer
):
    elsewhere = make_unit("H9", kind=UnitKind.DISTRICT, parent=province)
    make_unit("X9", parent=elsewhere)
    for user in (appraiser, leader):
        assert set(access.units_under_authority(user).values_list("code", flat=True)) == {"H", "X1"}
    assert not access.units_under_authority(leader, roles=(Role.APPRAISER,)).exists()
    assert not access.units_under_authority(officer).exists()
    # The queryset filter and the per-object check are the same rule.
    r = access.reach(appraiser)
    assert {u.code for u in access.Unit.objects.all() if r.oversees(u)} == {"H", "X1"}


def test_authority_condition_with_officer_units(district, commune, other_commune, officer, mine, theirs):
    r = access.reach(officer)
    assert list(access.assessments_visible_to(officer)) == [mine]
    assert not access.Unit.objects.filter(access.authority_condition(r, "path")).exists()
    assert list(
        access.Unit.objects.filter(access.authority_condition(r, "path", officer_unit_field="pk"))
    ) == [commune]


# --- frameworks -------------------------------------------------------------------------------------


def test_framework_helpers(users, framework, mine):
    code = framework.code
    assert outcomes(users, access.get_framework_for_view, code) == expect(OK)
    # Every page of the framework: 403 for whoever sees the framework but may not use the page.
    assert outcomes(users, access.get_framework_for_oversight, code) == expect(
        OK, officer=REFUSED, other_officer=REFUSED
    )
    for helper in (access.get_framework_for_management, access.get_framework_for_change):
        assert outcomes(users, helper, code) == expect(REFUSED, appraiser=OK)
    assert outcomes(users, access.get_framework_for_view, "NOPE") == expect(HIDDEN)


def test_a_published_framework_refuses_every_change_with_its_lock_message(users, framework, mine):
    publish(framework)
    assert outcomes(users, access.get_framework_for_change, framework.code) == expect(REFUSED)
    assert outcomes(users, access.get_framework_for_management, framework.code) == expect(
        REFUSED, appraiser=OK
    )
    with pytest.raises(PermissionDenied) as refused:
        access.get_framework_for_change(users["appraiser"], framework.code)
    assert str(refused.value) == access.lock_message(framework)
    assert "4769/QĐ-UBND" in str(refused.value)


def test_frameworks_visible_to_follows_can_view_framework(
    province, users, framework, mine, django_assert_num_queries
):
    stranger = make_framework(
        make_unit("H2", kind=UnitKind.DISTRICT, parent=province), rows=rows_from_spec(TREE)
    )
    for persona, user in users.items():
        if persona == "anonymous":
            continue
        access.reach(user)  # memberships are read once per request, before
        with django_assert_num_queries(1):
            visible = list(access.frameworks_visible_to(user))
        assert visible == [f for f in (framework, stranger) if access.can_view_framework(user, f)], persona
    assert list(access.frameworks_overseen_by(users["leader"])) == [framework]
    assert not access.frameworks_overseen_by(users["officer"]).exists()


def test_an_officer_of_two_assessed_units_sees_the_framework_once(district, framework, mine, officer):
    second = make_unit("X5", parent=district)
    make_member(second, Role.OFFICER, officer.username)
    officer = type(officer).objects.get(pk=officer.pk)  # memberships read afresh
    assessment_get_or_create(unit=second, framework=framework)
    assert list(access.frameworks_visible_to(officer)) == [framework]


def test_framework_import_authorities(users, district, province):
    assert [u.code for u in access.get_authorities_for_framework_import(users["appraiser"])] == ["H"]
    for persona in ("officer", "leader"):
        with pytest.raises(PermissionDenied):
            access.get_authorities_for_framework_import(users[persona])


# --- assessments, score rows, evidence --------------------------------------------------------------


def test_assessment_helpers(users, framework, mine):
    pk = mine.pk
    assert outcomes(users, access.get_assessment_for_view, pk) == expect(OK, other_officer=HIDDEN)
    assert outcomes(users, access.get_assessment_for_self_edit, pk) == expect(
        OK, other_officer=HIDDEN, leader=REFUSED
    )
    assert outcomes(users, access.get_assessment_for_appraisal, pk) == expect(
        REFUSED, other_officer=HIDDEN, appraiser=OK
    )
    assert outcomes(users, access.get_assessment_for_view, 0) == expect(HIDDEN)
    publish(framework)
    assert outcomes(users, access.get_assessment_for_self_edit, pk) == expect(REFUSED, other_officer=HIDDEN)
    assert outcomes(users, access.get_assessment_for_appraisal_change, pk) == expect(
        REFUSED, other_officer=HIDDEN
    )
    assert outcomes(users, access.get_assessment_for_view, pk) == expect(OK, other_officer=HIDDEN)


def test_refusals_carry_the_reason(users, mine):
    with pytest.raises(access.Refused) as refused:
        access.get_assessment_for_self_edit(users["leader"], mine.pk)
    assert refused.value.assessment == mine and refused.value.reason == str(refused.value)


def test_self_edit_closes_on_submission_deadline_and_publication(framework, officer, appraiser, leader, mine):
    assert access.self_edit_refusal(officer, mine) is None
    assert access.self_edit_refusal(appraiser, mine) is None  # on the unit's behalf
    assert access.acts_on_behalf(appraiser, mine) and not access.acts_on_behalf(officer, mine)
    assert access.self_edit_refusal(leader, mine) is not None
    framework.self_deadline = timezone.now() - timedelta(hours=1)
    framework.save()
    mine.refresh_from_db()
    assert "hạn" in access.self_edit_refusal(officer, mine)
    assessment_extend_deadline(assessment=mine, until=timezone.now() + timedelta(days=2), reason="Mất điện")
    mine.refresh_from_db()
    assert access.self_edit_refusal(officer, mine) is None
    scores_apply_self(assessment=mine, entries={"1.1": SelfEntry(D("50"), note="Báo cáo")}, actor=officer)
    assessment_submit(assessment=mine, actor=officer)
    mine.refresh_from_db()
    with pytest.raises(PermissionDenied):
        access.get_assessment_for_self_edit(officer, mine.pk)
    assert access.appraisal_lock(appraiser, mine) is None
    publish(framework)
    mine.refresh_from_db()
    assert access.self_edit_refusal(appraiser, mine) is not None
    assert access.appraisal_refusal(appraiser, mine) is not None
    assert access.appraisal_lock(appraiser, mine) is not None


def test_a_draft_is_not_appraised(appraiser, mine):
    assert access.appraisal_refusal(appraiser, mine) is None
    assert access.appraisal_lock(appraiser, mine) is not None  # the appraisal waits for the submission


def test_score_row_helpers(users, province, framework, mine):
    criterion = leaf(framework)
    assert outcomes(users, access.get_score_row_for_view, mine.pk, criterion.pk) == expect(
        OK, other_officer=HIDDEN
    )
    assert outcomes(users, access.get_score_row_for_self_edit, mine.pk, criterion.pk) == expect(
        OK, other_officer=HIDDEN, leader=REFUSED
    )
    assert outcomes(users, access.get_score_row_for_appraisal, mine.pk, criterion.pk) == expect(
        REFUSED, other_officer=HIDDEN, appraiser=OK
    )
    assert access.get_score_row_for_view(users["officer"], mine.pk, criterion.pk) == (mine, criterion)
    # A criterion of another framework, or a parent row where a leaf is needed: 404 for everybody.
    other = make_framework(province, rows=rows_from_spec(TREE))
    assert outcomes(users, access.get_score_row_for_view, mine.pk, leaf(other).pk)["appraiser"] == HIDDEN
    area = Criterion.objects.get(framework=framework, code="1")
    assert outcome(access.get_score_row_for_view, users["officer"], mine.pk, area.pk) == OK
    assert outcome(access.get_score_row_for_self_edit, users["officer"], mine.pk, area.pk) == HIDDEN


def test_evidence_helpers(users, framework, mine):
    evidence = evidence_add(assessment=mine, code="1.1", document_number="12/QĐ-UBND", actor=users["officer"])
    assert outcomes(users, access.get_evidence_for_view, evidence.pk) == expect(OK, other_officer=HIDDEN)
    assert outcomes(users, access.get_evidence_for_change, evidence.pk) == expect(
        OK, other_officer=HIDDEN, leader=REFUSED
    )
    assert access.get_evidence_for_view(users["officer"], evidence.pk).score.assessment == mine
    assert outcomes(users, access.get_evidence_for_view, 0) == expect(HIDDEN)
    publish(framework)
    assert outcomes(users, access.get_evidence_for_change, evidence.pk) == expect(
        REFUSED, other_officer=HIDDEN
    )
    assert outcomes(users, access.get_evidence_for_view, evidence.pk) == expect(OK, other_officer=HIDDEN)


# --- uploads ----------------------------------------------------------------------------------------


def _record(kind, users, **where):
    return ImportRecord.objects.create(
        kind=kind,
        status=ImportStatus.PREVIEW,
        original_name="x.xlsx",
        file="imports/x.xlsx",
        requested_by=users["appraiser"],
        **where,
    )


def test_upload_helpers(users, framework, mine):
    record = _record(ImportKind.SELF, users, framework=framework, assessment=mine)
    assert outcomes(users, access.get_upload_for_view, record.pk) == expect(OK, other_officer=HIDDEN)
    for helper in (access.get_upload_for_confirm, access.get_upload_for_cancel):
        assert outcomes(users, helper, record.pk) == expect(OK, other_officer=HIDDEN, leader=REFUSED)
    assert access.upload_stages(users["officer"], mine) == (ImportKind.SELF,)
    assert access.upload_stages(users["appraiser"], mine) == (ImportKind.SELF, ImportKind.APPRAISAL)
    with pytest.raises(PermissionDenied):
        access.ensure_upload(users["leader"], mine)
    publish(framework)
    for helper in (access.get_upload_for_confirm, access.get_upload_for_cancel):
        assert outcomes(users, helper, record.pk) == expect(REFUSED, other_officer=HIDDEN)


def test_a_survey_upload_is_for_the_framework_appraisers(users, framework, mine):
    record = _record(ImportKind.SURVEY, users, framework=framework)
    assert outcomes(users, access.get_upload_for_view, record.pk) == expect(REFUSED, appraiser=OK)
    assert outcomes(users, access.get_upload_for_confirm, record.pk) == expect(REFUSED, appraiser=OK)
    publish(framework)
    assert outcomes(users, access.get_upload_for_confirm, record.pk) == expect(REFUSED)


# --- report jobs and remediation items (reports.access) ---------------------------------------------


def test_report_job_helpers(users, province, framework, mine):
    job = ReportJob.objects.create(
        framework=framework, status=JobStatus.SUCCEEDED, requested_by=users["leader"]
    )
    for helper in (reports_access.get_report_job_for_view, reports_access.get_report_job_for_change):
        assert outcomes(users, helper, job.pk) == expect(OK, officer=REFUSED, other_officer=REFUSED)
    stranger = make_framework(
        make_unit("H2", kind=UnitKind.DISTRICT, parent=province), rows=rows_from_spec(TREE)
    )
    elsewhere = ReportJob.objects.create(framework=stranger, requested_by=users["leader"])
    assert outcomes(users, reports_access.get_report_job_for_view, elsewhere.pk) == expect(HIDDEN)
    with pytest.raises(Http404):
        reports_access.ensure_reporter(users["officer"])
    reports_access.ensure_reporter(users["leader"])


def test_remediation_item_helpers(users, framework, mine):
    publish(framework)
    item = RemediationItem.objects.create(assessment=mine, criterion=leaf(framework), points_lost=D("3"))
    assert outcomes(users, reports_access.get_remediation_item_for_view, item.pk) == expect(
        OK, other_officer=HIDDEN
    )
    # After publication is when the plan is filled in: the unit's officers, corrected by its appraisers.
    assert outcomes(users, reports_access.get_remediation_item_for_change, item.pk) == expect(
        OK, other_officer=HIDDEN, leader=REFUSED
    )


def test_membership_is_read_once_per_request(django_assert_num_queries, officer, mine):
    officer.refresh_from_db()
    with django_assert_num_queries(1):
        for _ in range(5):
            access.reach(officer)


# --- commands run with --user -----------------------------------------------------------------------


SELF_HEADER = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự đánh giá"]


def test_import_assessment_checks_the_user_like_the_upload_page(tmp_path, users, framework, mine):
    path = write_csv(tmp_path / "x1.csv", [SELF_HEADER, ["1.1", "", "", "40"]])
    for persona in ("other_officer", "leader"):
        _stderr, error = call_failing(
            "import_assessment", path, "--framework", "FW", "--unit", "X1", "--user", users[persona].username
        )
        assert users[persona].username in str(error)
    assert not mine.scores.exclude(self_points=None).exists()
    call("import_assessment", path, "--framework", "FW", "--unit", "X1", "--user", users["officer"].username)
    assert mine.scores.get(criterion__code="1.1").self_points == D("40")
    # The appraisal stage needs an appraiser: the unit's officer is refused (the assessment is submitted,
    # so the refusal is about who asks, not about the workflow).
    Assessment.objects.filter(pk=mine.pk).update(status=AssessmentStatus.SUBMITTED)
    appraisal = write_csv(
        tmp_path / "x1-tham-dinh.csv", [["Mã", "Điểm thẩm định", "Lý do"], ["1.1", "30", "Thiếu"]]
    )
    _stderr, error = call_failing(
        "import_assessment",
        appraisal,
        "--framework",
        "FW",
        "--unit",
        "X1",
        "--stage",
        "appraisal",
        "--user",
        users["officer"].username,
    )
    assert users["officer"].username in str(error)


def test_import_survey_and_framework_check_the_user(tmp_path, users, framework, mine):
    path = write_csv(tmp_path / "survey.csv", [["Mã đơn vị"], ["X1"]])
    _stderr, error = call_failing(
        "import_survey", path, "--framework", "FW", "--user", users["leader"].username
    )
    assert "leader" in str(error)
    framework_file = write_csv(
        tmp_path / "fw.csv", [["Mã", "Tiêu chí", "Điểm tối đa"], ["1", "A", "100"], ["1.1", "B", "100"]]
    )
    _stderr, error = call_failing(
        "import_framework",
        framework_file,
        "--code",
        "FW2",
        "--authority",
        "H",
        "--unit-kind",
        "commune",
        "--year",
        "2025",
        "--name",
        "Bộ chỉ số 2025",
        "--user",
        users["leader"].username,
    )
    assert "leader" in str(error)
    call(
        "import_framework",
        framework_file,
        "--code",
        "FW2",
        "--authority",
        "H",
        "--unit-kind",
        "commune",
        "--year",
        "2025",
        "--name",
        "Bộ chỉ số 2025",
        "--user",
        users["appraiser"].username,
    )
