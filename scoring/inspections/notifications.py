"""E-mails of inspections, built like the workflow's (scoring.assessments.notifications): Vietnamese,
then English, one message per recipient, naming the page to open. scoring.tasks.send_notification routes
the events of INSPECTION_EVENTS here.

- inspection_draft_shared (visit id): the unit's officers, to read the draft findings and respond;
- inspection_concluded (visit id): the unit's officers, with the recommendations and their deadlines.
"""

from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from scoring.assessments.notifications import Outgoing, _link, bilingual, officers_of
from scoring.inspections.models import InspectionVisit, VisitStatus

INSPECTION_EVENTS = ("inspection_draft_shared", "inspection_concluded")

Message = tuple[str, str, str, list[str]]


def inspection_outgoing(event: str, visit_id: int) -> Outgoing | None:
    """The message of one inspection event and its recipients (e-mail and the bell); None when the event
    no longer holds."""
    visit = InspectionVisit.objects.select_related("plan__authority", "unit").filter(pk=visit_id).first()
    if visit is None:
        return None
    names = {
        "unit": visit.unit.name,
        "office": visit.plan.authority.home_affairs_office,
        "plan": visit.plan.name,
        "link": _link("scoring:inspection_unit", visit.unit.code),
    }
    if event == "inspection_draft_shared" and visit.status == VisitStatus.DRAFT_SHARED:
        names["n"] = str(visit.findings.count())
        title = lambda: _("Draft inspection findings for %(unit)s") % names  # noqa: E731
        body = bilingual(
            lambda: (
                _(
                    "The inspection team of %(office)s (%(plan)s) has shared its draft findings "
                    "(%(n)s) with %(unit)s.\nRead them and respond: %(link)s"
                )
                % names
            )
        )
    elif event == "inspection_concluded" and visit.status == VisitStatus.CONCLUDED:
        recommendations = list(visit.recommendations.order_by("deadline", "pk"))
        lines = "\n".join(f"- {r.text} ({r.owner}, {r.deadline:%d/%m/%Y})" for r in recommendations)
        names["recommendations"] = lines or "—"
        title = lambda: _("Inspection of %(unit)s concluded") % names  # noqa: E731
        body = bilingual(
            lambda: (
                _(
                    "%(office)s has concluded the inspection of %(unit)s (%(plan)s).\n"
                    "Recommendations:\n%(recommendations)s\nReport each one fixed: %(link)s"
                )
                % names
            )
        )
    else:
        return None
    page = reverse("scoring:inspection_unit", args=[visit.unit.code])
    return Outgoing(event, title, body, page, officers_of([visit.unit_id]))


def inspection_messages(event: str, visit_id: int) -> list[Message]:
    outgoing = inspection_outgoing(event, visit_id)
    return outgoing.mails() if outgoing else []


def send_inspection_event(event: str, visit_id: int) -> int:
    """E-mail and notify in the app, in one transaction, as scoring.assessments.notifications.send_event."""
    outgoing = inspection_outgoing(event, visit_id)
    if outgoing is None:
        return 0
    messages = outgoing.mails()
    with transaction.atomic():
        outgoing.notify_in_app()
        return send_mass_mail(messages, fail_silently=False) if messages else 0
