"""What each phase of a framework allows (DESIGN §2.3): the one place that says so.

A framework moves draft → open → appraisal → preliminary → appeals → final → published. Every
service that changes something of a framework asks `phase_error(framework, act)` first and raises
the answer; pages ask the same function to decide which buttons to show. Units' own deadlines and
statuses (a returned unit answering, a late unit) are judged by the services on top of this.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from parindex.errors import ErrorCode, ServiceError
from scoring.models import Framework, FrameworkStatus


class Act(models.TextChoices):
    """Something a user does to a framework's data."""

    DEFINE = "define", _("change the criteria, bands and groups")
    SELF_ASSESS = "self_assess", _("enter or change a self-assessment")
    SUBMIT = "submit", _("submit a self-assessment")
    ANSWER_RETURN = "answer_return", _("answer a return for explanation")
    SURVEY = "survey", _("enter survey results")
    APPRAISE = "appraise", _("appraise scores")
    RETURN = "return", _("return a self-assessment for explanation")
    LODGE_APPEAL = "lodge_appeal", _("lodge an appeal")
    ANSWER_APPEAL = "answer_appeal", _("answer an appeal")
    PUBLISH = "publish", _("publish the results")


P = FrameworkStatus

# Which acts each phase allows. Publication is a step of its own (framework_publish), allowed from
# the final phase; a published framework allows nothing until it is reopened.
ALLOWED: dict[str, frozenset[str]] = {
    P.DRAFT: frozenset({Act.DEFINE}),
    P.OPEN: frozenset(
        {Act.DEFINE, Act.SELF_ASSESS, Act.SUBMIT, Act.ANSWER_RETURN, Act.SURVEY, Act.APPRAISE, Act.RETURN}
    ),
    P.APPRAISAL: frozenset({Act.ANSWER_RETURN, Act.SURVEY, Act.APPRAISE, Act.RETURN}),
    P.PRELIMINARY: frozenset({Act.LODGE_APPEAL, Act.ANSWER_APPEAL}),
    P.APPEALS: frozenset({Act.ANSWER_APPEAL}),
    P.FINAL: frozenset({Act.PUBLISH}),
    P.PUBLISHED: frozenset(),
}

# The order of the phases: reopening goes back one step.
ORDER: list[str] = [P.DRAFT, P.OPEN, P.APPRAISAL, P.PRELIMINARY, P.APPEALS, P.FINAL, P.PUBLISHED]


def phase_allows(framework: Framework, act: str) -> bool:
    return act in ALLOWED.get(framework.status, frozenset())


def phase_error(framework: Framework, act: str) -> ServiceError | None:
    """The refusal of `act` in the framework's current phase, or None when the phase allows it."""
    if phase_allows(framework, act):
        return None
    if framework.status == P.PUBLISHED:
        from scoring.frameworks.services import FrameworkLocked

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
