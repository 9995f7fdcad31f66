"""E-mails of the workflow (DESIGN §3): submit, return for explanation, appraisal done, publication,
and reminders three days before a deadline. Sent through Celery (scoring.tasks), never inline.

Each message is written in Vietnamese, with the English text below it, and names the page to open.
The same people get an in-app notification (parindex.notices, the bell) with the same title and page,
created where the e-mails are decided, so the two can never go to different people.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from parindex.notices.services import notices_create
from scoring.models import (
    Assessment,
    AssessmentStatus,
    DeadlineReminder,
    Framework,
    FrameworkStatus,
    ReminderPhase,
)
from units.models import Membership, Role

REMINDER_WINDOW = timedelta(days=3)


class Recipients(list):
    """The addresses an event's e-mail goes to (a list of str), carrying the people behind them, who
    get the in-app notification; people without an address are told in the app only."""

    def __init__(self, users=()):
        self.users = list({user.pk: user for user in users}.values())
        super().__init__(sorted({user.email for user in self.users if user.email}))

    def __or__(self, other):
        return Recipients([*self.users, *getattr(other, "users", [])])


def _ancestor_ids(unit) -> list[int]:
    return [int(part) for part in unit.path.strip("/").split("/") if part]


def _emails(memberships) -> Recipients:
    return Recipients(m.user for m in memberships.select_related("user") if m.user.is_active)


def officers_of(unit_ids) -> Recipients:
    return _emails(Membership.objects.filter(unit_id__in=list(unit_ids), role=Role.OFFICER))


def appraisers_over(unit) -> Recipients:
    return _emails(Membership.objects.filter(unit_id__in=_ancestor_ids(unit), role=Role.APPRAISER))


def leaders_over(unit) -> Recipients:
    return _emails(Membership.objects.filter(unit_id__in=_ancestor_ids(unit), role=Role.LEADER))


def _link(name, *args) -> str:
    return settings.PARINDEX_SITE_URL + reverse(name, args=args)


def bilingual(build) -> str:
    """The same message in Vietnamese, then in English."""
    parts = []
    for language in ("vi", "en"):
        with translation.override(language):
            parts.append(build())
    return parts[0] + "\n\n— English —\n\n" + parts[1]


def _subject(build) -> str:
    with translation.override("vi"):
        return "[ParIndex] " + build()


def _when(value) -> str:
    return timezone.localtime(value).strftime("%H:%M %d/%m/%Y") if value else "—"


def _each(subject: str, body: str, recipients) -> list[tuple[str, str, str, list[str]]]:
    """One message per recipient: a publication goes to the officers of every unit, who must not see
    each other's addresses."""
    return [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients]


@dataclass
class Outgoing:
    """What one workflow event tells whom: the title (built in the active language), the bilingual
    e-mail body, the page to open (a path) and the recipients."""

    event: str
    title: Callable[[], str]
    body: str
    page: str
    recipients: Recipients

    def mails(self) -> list[tuple[str, str, str, list[str]]]:
        return _each(_subject(self.title), self.body, self.recipients)

    def notify_in_app(self) -> None:
        titles = {}
        for language in ("vi", "en"):
            with translation.override(language):
                titles[language] = self.title()
        notices_create(
            users=self.recipients.users,
            event=self.event,
            title=titles["vi"],
            title_en=titles["en"],
            link=self.page,
        )


def messages_for(event: str, object_id: int) -> list[tuple[str, str, str, list[str]]]:
    """(subject, body, from, [recipient]) for one workflow event, one per recipient; empty when there is
    nobody to tell."""
    outgoing = outgoing_for(event, object_id)
    return outgoing.mails() if outgoing else []


def outgoing_for(event: str, object_id: int) -> Outgoing | None:
    """The message of one workflow event and its recipients; None when the event no longer holds."""
    if event == "framework_published":
        framework = Framework.objects.select_related("authority").filter(pk=object_id).first()
        if framework is None or framework.status != FrameworkStatus.PUBLISHED:
            return None
        unit_ids = framework.assessments.values_list("unit_id", flat=True)
        recipients = officers_of(unit_ids) | leaders_over(framework.authority)
        title = lambda: _("Results of %(name)s published") % {"name": framework.name}  # noqa: E731
        body = bilingual(
            lambda: (
                _(
                    "%(office)s published the results of %(name)s by decision %(decision)s of %(date)s.\n"
                    "Ranking and unit results: %(link)s"
                )
                % {
                    "office": framework.authority.home_affairs_office,
                    "name": framework.name,
                    "decision": framework.decision_number,
                    "date": framework.decision_date.strftime("%d/%m/%Y"),
                    "link": _link("scoring:framework_list"),
                }
            )
        )
        return Outgoing(event, title, body, reverse("scoring:framework_list"), recipients)

    assessment = (
        Assessment.objects.select_related("unit", "framework__authority").filter(pk=object_id).first()
    )
    if assessment is None:
        return None
    unit, framework = assessment.unit, assessment.framework
    names = {
        "unit": unit.name,
        "framework": framework.name,
        "office": framework.authority.home_affairs_office,
    }
    if event == "assessment_submitted" and assessment.status == AssessmentStatus.SUBMITTED:
        recipients = appraisers_over(unit)
        title = lambda: _("%(unit)s submitted its self-assessment") % names  # noqa: E731
        page = reverse("scoring:assessment_appraise", args=[assessment.pk])
        body = bilingual(
            lambda: (
                _("%(unit)s submitted its self-assessment for %(framework)s.\nAppraise it: %(link)s")
                % {**names, "link": _link("scoring:assessment_appraise", assessment.pk)}
            )
        )
    elif event == "assessment_returned" and assessment.status == AssessmentStatus.RETURNED:
        recipients = officers_of([unit.pk])
        codes = ", ".join(
            assessment.scores.filter(explanation_requested_round=assessment.explanation_round)
            .exclude(explanation_request="")
            .order_by("criterion__order")
            .values_list("criterion__code", flat=True)
        )
        title = lambda: _("Explanation requested for %(framework)s") % names  # noqa: E731
        page = reverse("scoring:assessment_self", args=[assessment.pk])
        body = bilingual(
            lambda: (
                _(
                    "%(office)s asks %(unit)s to explain its self-assessment for %(framework)s.\n"
                    "Message: %(message)s\nCriteria: %(codes)s\nAnswer and resubmit: %(link)s"
                )
                % {
                    **names,
                    "message": assessment.return_message,
                    "codes": codes or "—",
                    "link": _link("scoring:assessment_self", assessment.pk),
                }
            )
        )
    elif event == "assessment_appraised" and assessment.status == AssessmentStatus.APPRAISED:
        recipients = officers_of([unit.pk])
        title = lambda: _("Appraisal of %(framework)s done") % names  # noqa: E731
        page = reverse("scoring:assessment_self", args=[assessment.pk])
        body = bilingual(
            lambda: (
                _(
                    "%(office)s has finished the appraisal of %(unit)s for %(framework)s.\n"
                    "See the appraised points: %(link)s"
                )
                % {**names, "link": _link("scoring:assessment_self", assessment.pk)}
            )
        )
    else:
        return None
    return Outgoing(event, title, body, page, recipients)


def send_event(event: str, object_id: int) -> int:
    """E-mail the people concerned and notify them in the app, in one transaction: when sending fails
    the in-app rows roll back too, and the retried task writes them once."""
    outgoing = outgoing_for(event, object_id)
    if outgoing is None:
        return 0
    messages = outgoing.mails()
    with transaction.atomic():
        outgoing.notify_in_app()
        return send_mass_mail(messages, fail_silently=False) if messages else 0


def send_deadline_reminders(now=None) -> int:
    """Remind officers of unsubmitted assessments, and appraisers of unappraised ones, three days
    before the deadline. Each reminder is recorded, so running this hourly or daily sends it once."""
    now = now or timezone.now()
    horizon = now + REMINDER_WINDOW
    sent = 0
    open_frameworks = Q(framework__status=FrameworkStatus.OPEN)
    self_due = (
        Assessment.objects.filter(
            open_frameworks, status__in=[AssessmentStatus.DRAFT, AssessmentStatus.RETURNED]
        )
        .filter(
            Q(self_deadline_extended_to__gt=now, self_deadline_extended_to__lte=horizon)
            | Q(
                self_deadline_extended_to__isnull=True,
                framework__self_deadline__gt=now,
                framework__self_deadline__lte=horizon,
            )
        )
        .select_related("unit", "framework__authority")
    )
    for assessment in self_due:
        deadline = assessment.self_deadline
        recipients = officers_of([assessment.unit_id])
        names = {
            "unit": assessment.unit.name,
            "framework": assessment.framework.name,
            "office": assessment.framework.authority.home_affairs_office,
            "deadline": _when(deadline),
            "link": _link("scoring:assessment_self", assessment.pk),
        }
        message = Outgoing(
            "deadline_self",
            lambda n=names: _("Self-assessment due %(deadline)s") % n,
            bilingual(
                lambda n=names: (
                    _(
                        "The self-assessment of %(unit)s for %(framework)s is due at %(deadline)s and "
                        "has not been submitted to %(office)s.\nOpen it: %(link)s"
                    )
                    % n
                )
            ),
            reverse("scoring:assessment_self", args=[assessment.pk]),
            recipients,
        )
        sent += _send_once(assessment, ReminderPhase.SELF, deadline, message)
    appraisal_due = Assessment.objects.filter(
        open_frameworks,
        status=AssessmentStatus.SUBMITTED,
        framework__appraisal_deadline__gt=now,
        framework__appraisal_deadline__lte=horizon,
    ).select_related("unit", "framework")
    for assessment in appraisal_due:
        deadline = assessment.framework.appraisal_deadline
        recipients = appraisers_over(assessment.unit)
        names = {
            "unit": assessment.unit.name,
            "framework": assessment.framework.name,
            "deadline": _when(deadline),
            "link": _link("scoring:assessment_appraise", assessment.pk),
        }
        message = Outgoing(
            "deadline_appraisal",
            lambda n=names: _("Appraisal due %(deadline)s") % n,
            bilingual(
                lambda n=names: (
                    _(
                        "The appraisal of %(unit)s for %(framework)s is due at %(deadline)s.\n"
                        "Open it: %(link)s"
                    )
                    % n
                )
            ),
            reverse("scoring:assessment_appraise", args=[assessment.pk]),
            recipients,
        )
        sent += _send_once(assessment, ReminderPhase.APPRAISAL, deadline, message)
    return sent


def _send_once(assessment, phase, deadline, message: Outgoing) -> int:
    if not message.recipients.users:
        return 0
    try:
        with transaction.atomic():
            DeadlineReminder.objects.create(assessment=assessment, phase=phase, deadline=deadline)
            # Inside the atomic block: if sending fails, the record is rolled back and retried next run.
            message.notify_in_app()
            send_mass_mail(message.mails(), fail_silently=False)
    except IntegrityError:
        return 0  # already reminded for this deadline
    return 1
