"""What each phase of a framework allows (DESIGN §2.3): the one place that says so.

A framework moves draft → open → appraisal → preliminary → appeals → final → published. Every
service that changes something of a framework asks `phase_error(framework, act)` first and raises
the answer; pages ask the same function to decide which buttons to show. A unit's own deadline is
judged on top of the phase by `self_assessment_error` (one rule for pages, uploads and services).
The steps themselves (with their checks) are services in scoring.frameworks.services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from parindex.numbers import when_text
from scoring.models import Assessment, AssessmentStatus, Framework, FrameworkStatus


class FrameworkLocked(ServiceError):
    """The framework is published: nothing of it may change until it is reopened."""

    def __init__(self, framework: Framework) -> None:
        super().__init__(
            N_("Framework %(code)s is published (decision %(decision)s); it can no longer be changed."),
            code=ErrorCode.LOCKED,
            obj=framework,
            params={"code": framework.code, "decision": framework.decision_number},
        )


class Act(models.TextChoices):
    """Something a user does to a framework's data."""

    DEFINE = "define", _("change the criteria, bands and groups")
    SELF_ASSESS = "self_assess", _("enter or change a self-assessment")
    SUBMIT = "submit", _("submit a self-assessment")
    ANSWER_RETURN = "answer_return", _("answer a return for explanation")
    SURVEY = "survey", _("enter survey results")
    APPRAISE = "appraise", _("appraise scores")
    RETURN = "return", _("return a self-assessment for explanation")
    EXTEND = "extend", _("extend a unit's self-assessment deadline")
    LODGE_APPEAL = "lodge_appeal", _("lodge an appeal")
    ANSWER_APPEAL = "answer_appeal", _("answer an appeal")
    PUBLISH = "publish", _("publish the results")


P = FrameworkStatus

# Which acts each phase allows. Publication is a step of its own (framework_publish), allowed from
# the final phase; a published framework allows nothing until it is reopened. In the appraisal
# phase a unit whose own extended deadline still runs may also self-assess and submit
# (self_assessment_error).
ALLOWED: dict[str, frozenset[str]] = {
    P.DRAFT: frozenset({Act.DEFINE}),
    P.OPEN: frozenset(
        {
            Act.DEFINE,
            Act.SELF_ASSESS,
            Act.SUBMIT,
            Act.ANSWER_RETURN,
            Act.SURVEY,
            Act.APPRAISE,
            Act.RETURN,
            Act.EXTEND,
        }
    ),
    P.APPRAISAL: frozenset({Act.ANSWER_RETURN, Act.SURVEY, Act.APPRAISE, Act.RETURN, Act.EXTEND}),
    P.PRELIMINARY: frozenset({Act.LODGE_APPEAL, Act.ANSWER_APPEAL}),
    P.APPEALS: frozenset({Act.ANSWER_APPEAL}),
    P.FINAL: frozenset({Act.PUBLISH}),
    P.PUBLISHED: frozenset(),
}

# The order of the phases: each step goes one forward, stepping back (and reopening) one back.
ORDER: list[str] = [P.DRAFT, P.OPEN, P.APPRAISAL, P.PRELIMINARY, P.APPEALS, P.FINAL, P.PUBLISHED]


@dataclass(frozen=True)
class Step:
    """A step forward from one phase to the next: the service that takes it, and its button."""

    source: str
    target: str
    service: str  # the name of the service in scoring.frameworks.services
    label: str


STEPS: list[Step] = [
    Step(P.DRAFT, P.OPEN, "framework_open", _("Open for self-assessment")),
    Step(P.OPEN, P.APPRAISAL, "framework_start_appraisal", _("Close self-assessment, start appraisal")),
    Step(P.APPRAISAL, P.PRELIMINARY, "framework_notify_preliminary", _("Notify preliminary results")),
    Step(P.PRELIMINARY, P.APPEALS, "framework_close_appeals", _("Close the appeal window")),
    Step(P.APPEALS, P.FINAL, "framework_finalise", _("Make the results final")),
    Step(P.FINAL, P.PUBLISHED, "framework_publish", _("Publish…")),
]


def next_step(framework: Framework) -> Step | None:
    return next((step for step in STEPS if step.source == framework.status), None)


def previous_phase(framework: Framework) -> str | None:
    index = ORDER.index(framework.status)
    return ORDER[index - 1] if index > 0 else None


def phase_allows(framework: Framework, act: str) -> bool:
    return act in ALLOWED.get(framework.status, frozenset())


def phase_label(status: str) -> str:
    return str(FrameworkStatus(status).label)


def phase_error(framework: Framework, act: str) -> ServiceError | None:
    """The refusal of `act` in the framework's current phase, or None when the phase allows it."""
    if phase_allows(framework, act):
        return None
    if framework.status == P.PUBLISHED:
        return FrameworkLocked(framework)
    return ServiceError(
        N_("Framework %(code)s is in the phase “%(phase)s”: you cannot %(act)s now."),
        code=ErrorCode.WORKFLOW,
        obj=framework,
        params={
            "code": framework.code,
            "phase": FrameworkStatus(framework.status).label,
            "act": Act(act).label,
        },
    )


def phase_ensure(framework: Framework, act: str) -> None:
    error = phase_error(framework, act)
    if error is not None:
        raise error


# --- a unit's own deadline ------------------------------------------------------------------------


def extension_runs(assessment: Assessment, now: datetime | None = None) -> bool:
    """The unit was given more time (an extension) and it has not run out."""
    until = assessment.self_deadline_extended_to
    return until is not None and (now or timezone.now()) <= until


def self_deadline_error(assessment: Assessment, now: datetime | None = None) -> ServiceError | None:
    """The refusal of a late unit's own self-assessment: a draft locks at the unit's own deadline
    (its extension, else the framework's). A returned unit answers whatever the deadline."""
    deadline = assessment.self_deadline
    if assessment.status != AssessmentStatus.DRAFT or deadline is None or (now or timezone.now()) <= deadline:
        return None
    return ServiceError(
        N_("The self-assessment deadline (%(deadline)s) has passed; ask %(office)s for an extension."),
        code=ErrorCode.WORKFLOW,
        obj=assessment,
        field="status",
        params={
            "deadline": when_text(deadline),
            "office": assessment.framework.authority.home_affairs_office,
        },
    )


def self_assessment_error(
    assessment: Assessment, act: str = Act.SELF_ASSESS, *, by_unit: bool, now: datetime | None = None
) -> ServiceError | None:
    """The one rule of whether a unit's self-assessment may change (or be submitted: act SUBMIT) now.

    A returned unit answers its return (ANSWER_RETURN) while the phase allows it. Otherwise the phase
    must allow the act, or be the appraisal phase with the unit's extension still running; and the
    unit itself (`by_unit`: its officer, not the office entering on its behalf) is refused after its
    own deadline (self_deadline_error)."""
    framework = assessment.framework
    if assessment.status == AssessmentStatus.RETURNED:
        return phase_error(framework, Act.ANSWER_RETURN)
    error = phase_error(framework, act)
    if error is not None and not (framework.status == P.APPRAISAL and extension_runs(assessment, now)):
        return error
    return self_deadline_error(assessment, now) if by_unit else None
