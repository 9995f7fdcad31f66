"""The framework's phases (DESIGN §2.3): each step a service with its checks, audited; what each phase
allows, asked by every service; a unit's own (extended) deadline; stepping back with a reason; the
board showing the phase, its steps, the next step with its checks, and who is late."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from parindex.audit.models import AuditEntry
from parindex.errors import ErrorCode, ServiceError
from scoring.access import self_edit_refusal
from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    assessment_extend_deadline,
    assessment_get_or_create,
    assessment_return,
    assessment_submit,
    evidence_add,
    scores_apply_appraisal,
    scores_apply_self,
    survey_apply,
)
from scoring.frameworks import phases
from scoring.frameworks.services import (
    Band,
    criterion_update,
    framework_advance_to,
    framework_close_appeals,
    framework_finalise,
    framework_notify_preliminary,
    framework_open,
    framework_set_deadlines,
    framework_start_appraisal,
    framework_step_back,
    framework_update,
    grade_bands_set,
)
from scoring.models import Assessment, AssessmentStatus, Framework, FrameworkStatus, Via

from .factories import make_framework, rows_from_spec

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30, "score", "survey"), ("2.1", 30, "score", "survey")]
P = FrameworkStatus


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def assessment(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


def proof(points):
    return SelfEntry(D(points), evidence_reference="QĐ số 12/QĐ-UBND, tr.3")


def submitted(assessment, officer):
    scores_apply_self(assessment=assessment, entries={"1.1": proof("20"), "1.2": proof("30")}, actor=officer)
    return assessment_submit(assessment=assessment, actor=officer)


def status_of(framework) -> str:
    return Framework.objects.get(pk=framework.pk).status


def phase_entries(framework):
    return list(
        AuditEntry.objects.filter(framework_id=framework.pk, action="framework_phase")
        .order_by("id")
        .values_list("old_value", "new_value")
    )


# --- the steps ---------------------------------------------------------------------------------------------


def test_each_step_goes_one_phase_forward_through_its_service_and_is_audited(framework, appraiser):
    Framework.objects.filter(pk=framework.pk).update(status=P.DRAFT)
    now = timezone.now()
    framework_open(framework=framework, actor=appraiser)
    framework_start_appraisal(framework=framework, actor=appraiser)
    framework_notify_preliminary(
        framework=framework, appeal_deadline=now + timedelta(days=10), actor=appraiser
    )
    framework_close_appeals(framework=framework, actor=appraiser, now=now + timedelta(days=11))
    framework_finalise(framework=framework, actor=appraiser)
    assert status_of(framework) == P.FINAL
    assert phase_entries(framework) == [
        ("draft", "open"),
        ("open", "appraisal"),
        ("appraisal", "preliminary"),
        ("preliminary", "appeals"),
        ("appeals", "final"),
    ]
    assert set(
        AuditEntry.objects.filter(framework_id=framework.pk, action="framework_phase").values_list(
            "actor", "via"
        )
    ) == {(appraiser.pk, Via.WEB)}
    deadline = AuditEntry.objects.get(framework_id=framework.pk, action="deadline", field="appeal_deadline")
    assert deadline.new_value


def test_a_step_is_refused_from_any_other_phase(framework):
    for step in (framework_open, framework_close_appeals, framework_finalise):
        with pytest.raises(ServiceError) as refused:
            step(framework=framework)
        assert refused.value.error_code == ErrorCode.WORKFLOW
    assert status_of(framework) == P.OPEN and not phase_entries(framework)


def test_a_framework_without_criteria_does_not_open(framework):
    Framework.objects.filter(pk=framework.pk).update(status=P.DRAFT)
    framework.criteria.all().delete()
    with pytest.raises(ServiceError, match=framework.code):
        framework_open(framework=framework)
    assert status_of(framework) == P.DRAFT


def test_appraisal_starts_only_after_the_self_assessment_deadline(framework):
    framework_set_deadlines(
        framework=framework, self_deadline=timezone.now() + timedelta(days=2), appraisal_deadline=None
    )
    with pytest.raises(ServiceError) as refused:
        framework_start_appraisal(framework=framework)
    assert refused.value.field == "self_deadline"
    assert status_of(framework) == P.OPEN
    framework_start_appraisal(framework=framework, now=timezone.now() + timedelta(days=3))
    assert status_of(framework) == P.APPRAISAL


def test_preliminary_results_need_an_appeal_deadline_in_the_future_and_notify_every_unit(
    framework, django_capture_on_commit_callbacks, monkeypatch
):
    framework_advance_to(framework=framework, phase=P.APPRAISAL)
    for deadline in (None, timezone.now() - timedelta(minutes=1)):
        with pytest.raises(ServiceError) as refused:
            framework_notify_preliminary(framework=framework, appeal_deadline=deadline)
        assert refused.value.field == "appeal_deadline"
    assert status_of(framework) == P.APPRAISAL
    sent = []
    monkeypatch.setattr("scoring.frameworks.services.enqueue_on_commit", lambda *args: sent.append(args))
    deadline = timezone.now() + timedelta(days=7)
    framework_notify_preliminary(framework=framework, appeal_deadline=deadline)
    framework.refresh_from_db()
    assert (framework.status, framework.appeal_deadline) == (P.PRELIMINARY, deadline)
    assert sent == [("scoring.tasks.send_notification", "preliminary_results", framework.pk)]


def test_the_appeal_window_closes_only_after_its_deadline(framework):
    framework_advance_to(framework=framework, phase=P.APPRAISAL)
    deadline = timezone.now() + timedelta(days=7)
    framework_notify_preliminary(framework=framework, appeal_deadline=deadline)
    with pytest.raises(ServiceError) as refused:
        framework_close_appeals(framework=framework)
    assert refused.value.field == "appeal_deadline"
    assert status_of(framework) == P.PRELIMINARY
    framework_close_appeals(framework=framework, now=deadline + timedelta(seconds=1))
    assert status_of(framework) == P.APPEALS


def test_results_are_final_only_when_no_appeal_waits_for_an_answer(framework, monkeypatch):
    framework_advance_to(framework=framework, phase=P.APPEALS)
    monkeypatch.setattr("scoring.frameworks.services.appeals_open_count", lambda framework: 2)
    with pytest.raises(ServiceError, match="2"):
        framework_finalise(framework=framework)
    assert status_of(framework) == P.APPEALS
    monkeypatch.setattr("scoring.frameworks.services.appeals_open_count", lambda framework: 0)
    framework_finalise(framework=framework)
    assert status_of(framework) == P.FINAL


def test_stepping_back_needs_a_reason_goes_one_phase_and_is_audited(framework, appraiser):
    framework_advance_to(framework=framework, phase=P.PRELIMINARY)
    with pytest.raises(ServiceError) as refused:
        framework_step_back(framework=framework, reason="  ")
    assert refused.value.field == "reason" and status_of(framework) == P.PRELIMINARY
    framework_step_back(framework=framework, reason="Thiếu biên bản thẩm định", actor=appraiser)
    assert status_of(framework) == P.APPRAISAL
    entry = AuditEntry.objects.get(framework_id=framework.pk, action="framework_step_back")
    assert (entry.old_value, entry.new_value, entry.reason) == (
        "preliminary",
        "appraisal",
        "Thiếu biên bản thẩm định",
    )
    Framework.objects.filter(pk=framework.pk).update(status=P.DRAFT)
    with pytest.raises(ServiceError):
        framework_step_back(framework=framework, reason="x")


def test_advance_to_walks_every_step_but_never_publishes(framework):
    framework_advance_to(framework=framework, phase=P.FINAL)
    assert [new for _old, new in phase_entries(framework)] == ["appraisal", "preliminary", "appeals", "final"]
    with pytest.raises(ServiceError):
        framework_advance_to(framework=framework, phase=P.PUBLISHED)
    assert status_of(framework) == P.FINAL


# --- what each phase allows, asked by every service ------------------------------------------------------


def test_self_assessment_closes_with_the_open_phase_but_a_returned_unit_answers(
    framework, assessment, other_commune, officer, appraiser
):
    other = assessment_get_or_create(unit=other_commune, framework=framework)
    submitted(assessment, officer)
    assessment_return(assessment=assessment, message="Bổ sung", criteria={"1.1": "Thiếu"}, actor=appraiser)
    framework_advance_to(framework=framework, phase=P.APPRAISAL)
    with pytest.raises(ServiceError, match="Thẩm định"):  # the phase, named
        scores_apply_self(assessment=other, entries={"1.1": proof("10")})
    with pytest.raises(ServiceError):
        assessment_submit(assessment=other)
    scores_apply_self(assessment=assessment, entries={"1.1": proof("25")}, actor=officer)  # ANSWER_RETURN
    assessment_submit(assessment=assessment, actor=officer)
    assert Assessment.objects.get(pk=assessment.pk).status == AssessmentStatus.SUBMITTED


def test_a_unit_whose_extension_runs_still_self_assesses_in_the_appraisal_phase(
    framework, assessment, officer, appraiser
):
    past = timezone.now() - timedelta(days=1)
    framework_set_deadlines(framework=framework, self_deadline=past, appraisal_deadline=None)
    assessment_extend_deadline(
        assessment=assessment, until=timezone.now() + timedelta(days=3), reason="Sáp nhập", actor=appraiser
    )
    framework_advance_to(framework=framework, phase=P.APPRAISAL)
    submitted(assessment, officer)
    assert Assessment.objects.get(pk=assessment.pk).status == AssessmentStatus.SUBMITTED


def test_appraisal_return_and_survey_stop_at_the_preliminary_results(
    framework, assessment, officer, appraiser
):
    submitted(assessment, officer)
    framework_advance_to(framework=framework, phase=P.PRELIMINARY)
    before = AuditEntry.objects.count()
    for act in (
        lambda: scores_apply_appraisal(
            assessment=assessment, entries={"1.1": AppraisalEntry(D("10"), "Thiếu")}, actor=appraiser
        ),
        lambda: assessment_return(assessment=assessment, message="x", actor=appraiser),
        lambda: survey_apply(framework=framework, entries={"X1": {"2.1": D("20")}}),
        lambda: assessment_extend_deadline(
            assessment=assessment, until=timezone.now() + timedelta(days=3), reason="x"
        ),
    ):
        with pytest.raises(ServiceError) as refused:
            act()
        assert refused.value.error_code == ErrorCode.WORKFLOW
    assert AuditEntry.objects.count() == before


def test_the_definition_changes_only_while_draft_or_open(framework):
    leaf = framework.criteria.get(code="1.1")
    criterion_update(criterion=leaf, changes={"title": "Đổi tên"})  # open: allowed
    framework_advance_to(framework=framework, phase=P.APPRAISAL)
    for change in (
        lambda: criterion_update(criterion=leaf, changes={"title": "Lần hai"}),
        lambda: grade_bands_set(framework=framework, bands=[Band("Đạt", D("0"))]),
        lambda: framework_update(framework=framework, changes={"index_decimals": 3}),
    ):
        with pytest.raises(ServiceError, match="Thẩm định"):
            change()
    framework_update(framework=framework, changes={"name": "Bộ chỉ số (sửa tên)"})  # wording: until published
    assert Framework.objects.get(pk=framework.pk).name == "Bộ chỉ số (sửa tên)"


def test_the_phase_is_not_a_setting(framework):
    with pytest.raises(ServiceError):
        framework_update(framework=framework, changes={"status": P.FINAL})
    assert status_of(framework) == P.OPEN


# --- a unit's own deadline: one rule -----------------------------------------------------------------------


def test_a_late_unit_is_locked_at_its_own_deadline_by_the_services_and_the_pages(
    framework, assessment, officer, appraiser
):
    past = timezone.now() - timedelta(hours=1)
    framework_set_deadlines(framework=framework, self_deadline=past, appraisal_deadline=None)
    assessment.refresh_from_db()
    with pytest.raises(ServiceError, match="gia hạn"):
        scores_apply_self(assessment=assessment, entries={"1.1": proof("20")}, actor=officer)
    with pytest.raises(ServiceError, match="gia hạn"):
        evidence_add(assessment=assessment, code="1.1", document_number="12/QĐ", actor=officer)
    refusal = self_edit_refusal(officer, assessment)
    assert refusal == phases.self_deadline_error(assessment).text()
    # The office entering on the unit's behalf is not bound by the unit's deadline.
    scores_apply_self(assessment=assessment, entries={"1.1": proof("20")}, actor=appraiser, on_behalf=True)
    # An extension moves the unit's own deadline: the officer works again.
    assessment_extend_deadline(
        assessment=assessment, until=timezone.now() + timedelta(days=2), reason="Sáp nhập", actor=appraiser
    )
    assessment.refresh_from_db()
    assert self_edit_refusal(officer, assessment) is None
    submitted(assessment, officer)


def test_the_board_shows_the_phase_the_steps_the_checks_and_who_is_late(
    client, framework, assessment, other_commune, appraiser
):
    framework_set_deadlines(
        framework=framework, self_deadline=timezone.now() + timedelta(days=2), appraisal_deadline=None
    )
    Assessment.objects.filter(pk=assessment.pk).update(
        self_deadline_extended_to=timezone.now() - timedelta(hours=1)
    )
    client.force_login(appraiser)
    page = client.get(reverse("scoring:framework_board", args=[framework.code]))
    body = page.content.decode()
    assert [p.state for p in page.context["phases"]] == ["done", "current"] + ["todo"] * 5
    assert 'aria-current="step"' in body and "Đóng tự đánh giá, bắt đầu thẩm định" in body
    assert page.context["step_problems"] and "disabled" in body  # the self-assessment deadline runs
    assert [row.unit.code for row in page.context["rows"] if row.overdue] == [
        "X1"
    ]  # late by its own deadline
    # The step refused by its service from the board: nothing changes, the reason is shown.
    response = client.post(
        reverse("scoring:framework_step", args=[framework.code]), {"from": "open"}, follow=True
    )
    assert status_of(framework) == P.OPEN
    assert "chưa qua" in response.content.decode() or response.context["step_problems"]


def test_the_board_takes_the_steps_and_steps_back(client, framework, appraiser):
    client.force_login(appraiser)
    step = reverse("scoring:framework_step", args=[framework.code])
    assert client.post(step, {"from": "open"}).status_code == 302
    assert status_of(framework) == P.APPRAISAL
    page = client.get(reverse("scoring:framework_board", args=[framework.code]))
    assert page.context["appeal_form"] is not None
    deadline = (timezone.localtime() + timedelta(days=5)).strftime("%d/%m/%Y %H:%M")
    client.post(step, {"from": "appraisal", "appeal_deadline": deadline})
    assert status_of(framework) == P.PRELIMINARY
    client.post(step, {"from": "preliminary"})  # the appeal window still runs: refused
    assert status_of(framework) == P.PRELIMINARY
    back = reverse("scoring:framework_step_back", args=[framework.code])
    client.post(back, {"from": "preliminary", "reason": ""})
    assert status_of(framework) == P.PRELIMINARY
    client.post(back, {"from": "preliminary", "reason": "Sai hạn kiến nghị"})
    assert status_of(framework) == P.APPRAISAL
