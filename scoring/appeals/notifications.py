"""E-mails of the preliminary results and appeals (DESIGN §2.3), built like the workflow's
(scoring.assessments.notifications): Vietnamese, then English, one message per recipient, naming the
page to open, and the same title in the app (the bell) for the same people. scoring.tasks.send_notification routes the events named in APPEAL_EVENTS here.

- preliminary_results (framework id): every unit's officers, each with the link to their unit's
  preliminary results page and the appeal deadline;
- appeal_lodged (appeal id): the appraisers over the unit, with the link to the framework's appeals;
- appeal_answered (appeal id): the unit's officers, with the answer and the link to their page.
"""

from collections import defaultdict

from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from parindex.numbers import format_decimal
from scoring.assessments.notifications import (
    Outgoing,
    Recipients,
    _link,
    _when,
    appraisers_over,
    bilingual,
    officers_of,
)
from scoring.models import Appeal, AppealStatus, AssessmentResult, Framework, FrameworkStatus
from units.models import Membership, Role

APPEAL_EVENTS = ("preliminary_results", "appeal_lodged", "appeal_answered")

Message = tuple[str, str, str, list[str]]


def _points(value) -> str:
    return "—" if value is None else format_decimal(value)


def _preliminary(framework_id: int) -> list[Outgoing]:
    """One message per unit (each names its own results and page), to its officers."""
    framework = Framework.objects.select_related("authority").filter(pk=framework_id).first()
    if framework is None or framework.status != FrameworkStatus.PRELIMINARY:
        return []  # a stale event: the framework moved on
    results = {
        r.assessment_id: r
        for r in AssessmentResult.objects.filter(framework=framework).only(
            "assessment_id", "points", "max_points", "index", "rank", "grade"
        )
    }
    officers: dict[int, list] = defaultdict(list)
    for membership in Membership.objects.filter(
        unit__assessments__framework=framework, role=Role.OFFICER, user__is_active=True
    ).select_related("user"):
        officers[membership.unit_id].append(membership.user)
    title = lambda: _("Preliminary results of %(name)s") % {"name": framework.name}  # noqa: E731
    outgoing: list[Outgoing] = []
    for assessment in framework.assessments.select_related("unit").order_by("unit__code"):
        recipients = Recipients(officers.get(assessment.unit_id, ()))
        if not recipients.users:
            continue
        result = results.get(assessment.pk)
        names = {
            "office": framework.authority.home_affairs_office,
            "unit": assessment.unit.name,
            "name": framework.name,
            "points": _points(result.points if result else None),
            "max": _points(result.max_points if result else None),
            "index": _points(result.index if result else None),
            "rank": result.rank if result and result.rank else "—",
            "deadline": _when(framework.appeal_deadline),
            "link": _link("scoring:assessment_preliminary", assessment.pk),
        }
        body = bilingual(
            lambda names=names: (
                _(
                    "%(office)s notifies the preliminary results of %(name)s.\n"
                    "%(unit)s: %(points)s / %(max)s points, index %(index)s, rank %(rank)s (provisional).\n"
                    "The unit may lodge an appeal on any criterion, with evidence, until %(deadline)s.\n"
                    "Preliminary results and appeals: %(link)s"
                )
                % names
            )
        )
        page = reverse("scoring:assessment_preliminary", args=[assessment.pk])
        outgoing.append(Outgoing("preliminary_results", title, body, page, recipients))
    return outgoing


def _appeal_outgoing(event: str, appeal_id: int) -> list[Outgoing]:
    appeal = (
        Appeal.objects.select_related("assessment__unit", "framework__authority", "criterion")
        .filter(pk=appeal_id)
        .first()
    )
    if appeal is None:
        return []
    unit, framework = appeal.assessment.unit, appeal.framework
    names = {
        "unit": unit.name,
        "framework": framework.name,
        "code": appeal.criterion.code,
        "office": framework.authority.home_affairs_office,
        "text": appeal.text,
        "answer": appeal.answer,
        "old": _points(appeal.old_points),
        "new": _points(appeal.new_points),
    }
    if event == "appeal_lodged" and appeal.status == AppealStatus.LODGED:
        recipients = appraisers_over(unit)
        title = lambda: _("%(unit)s lodged an appeal on %(code)s") % names  # noqa: E731
        page = reverse("scoring:framework_appeals", args=[framework.code])
        link = _link("scoring:framework_appeals", framework.code)
        body = bilingual(
            lambda: (
                _(
                    "%(unit)s lodged an appeal on criterion %(code)s of %(framework)s (points now %(old)s).\n"
                    "Appeal: %(text)s\nAnswer it: %(link)s"
                )
                % {**names, "link": link}
            )
        )
    elif event == "appeal_answered" and appeal.status != AppealStatus.LODGED:
        recipients = officers_of([unit.pk])
        page = reverse("scoring:assessment_preliminary", args=[appeal.assessment_id])
        link = _link("scoring:assessment_preliminary", appeal.assessment_id)
        accepted = appeal.status == AppealStatus.ACCEPTED
        if accepted:
            title = lambda: _("Appeal on %(code)s accepted") % names  # noqa: E731
        else:
            title = lambda: _("Appeal on %(code)s refused") % names  # noqa: E731

        def text() -> str:
            if accepted:
                message = _(
                    "%(office)s accepted the appeal of %(unit)s on criterion %(code)s of %(framework)s: "
                    "points %(old)s → %(new)s.\nReason: %(answer)s\nSee the results: %(link)s"
                )
            else:
                message = _(
                    "%(office)s refused the appeal of %(unit)s on criterion %(code)s of %(framework)s; "
                    "the points stay %(old)s.\nReason: %(answer)s\nSee the results: %(link)s"
                )
            return message % {**names, "link": link}

        body = bilingual(text)
    else:
        return []
    return [Outgoing(event, title, body, page, recipients)]


def outgoing_for(event: str, object_id: int) -> list[Outgoing]:
    if event == "preliminary_results":
        return _preliminary(object_id)
    return _appeal_outgoing(event, object_id)


def messages_for(event: str, object_id: int) -> list[Message]:
    return [mail for outgoing in outgoing_for(event, object_id) for mail in outgoing.mails()]


def send_appeal_event(event: str, object_id: int) -> int:
    """E-mail and notify in the app, in one transaction, as scoring.assessments.notifications.send_event."""
    outgoing = outgoing_for(event, object_id)
    messages = [mail for item in outgoing for mail in item.mails()]
    with transaction.atomic():
        for item in outgoing:
            item.notify_in_app()
        return send_mass_mail(messages, fail_silently=False) if messages else 0
