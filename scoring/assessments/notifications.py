"""E-mails of the workflow (DESIGN §3): submit, return for explanation, appraisal done, publication,
and reminders three days before a deadline. Sent through Celery (scoring.tasks), never inline.

Each message is written in Vietnamese, with the English text below it, and names the page to open.
"""

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

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


def _ancestor_ids(unit) -> list[int]:
    return [int(part) for part in unit.path.strip("/").split("/") if part]


def _emails(memberships) -> list[str]:
    return sorted(
        {m.user.email for m in memberships.select_related("user") if m.user.email and m.user.is_active}
    )


def officers_of(unit_ids) -> list[str]:
    return _emails(Membership.objects.filter(unit_id__in=list(unit_ids), role=Role.OFFICER))


def appraisers_over(unit) -> list[str]:
    return _emails(Membership.objects.filter(unit_id__in=_ancestor_ids(unit), role=Role.APPRAISER))


def leaders_over(unit) -> list[str]:
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


def messages_for(event: str, object_id: int) -> list[tuple[str, str, str, list[str]]]:
    """(subject, body, from, [recipient]) for one workflow event, one per recipient; empty when there is
    nobody to tell."""
    if event == "framework_published":
        framework = Framework.objects.select_related("authority").filter(pk=object_id).first()
        if framework is None or framework.status != FrameworkStatus.PUBLISHED:
            return []
        unit_ids = framework.assessments.values_list("unit_id", flat=True)
        recipients = sorted(set(officers_of(unit_ids)) | set(leaders_over(framework.authority)))
        subject = _subject(lambda: _("Results of %(name)s published") % {"name": framework.name})
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
        return _each(subject, body, recipients)

    assessment = (
        Assessment.objects.select_related("unit", "framework__authority").filter(pk=object_id).first()
    )
    if assessment is None:
        return []
    unit, framework = assessment.unit, assessment.framework
    names = {
        "unit": unit.name,
        "framework": framework.name,
        "office": framework.authority.home_affairs_office,
    }
    if event == "assessment_submitted" and assessment.status == AssessmentStatus.SUBMITTED:
        recipients = appraisers_over(unit)
        subject = _subject(lambda: _("%(unit)s submitted its self-assessment") % names)
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
        subject = _subject(lambda: _("Explanation requested for %(framework)s") % names)
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
        subject = _subject(lambda: _("Appraisal of %(framework)s done") % names)
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
        return []
    return _each(subject, body, recipients)


def send_event(event: str, object_id: int) -> int:
    messages = messages_for(event, object_id)
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
        message = (
            _subject(lambda n=names: _("Self-assessment due %(deadline)s") % n),
            bilingual(
                lambda n=names: (
                    _(
                        "The self-assessment of %(unit)s for %(framework)s is due at %(deadline)s and "
                        "has not been submitted to %(office)s.\nOpen it: %(link)s"
                    )
                    % n
                )
            ),
        )
        sent += _send_once(assessment, ReminderPhase.SELF, deadline, message, recipients)
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
        message = (
            _subject(lambda n=names: _("Appraisal due %(deadline)s") % n),
            bilingual(
                lambda n=names: (
                    _(
                        "The appraisal of %(unit)s for %(framework)s is due at %(deadline)s.\n"
                        "Open it: %(link)s"
                    )
                    % n
                )
            ),
        )
        sent += _send_once(assessment, ReminderPhase.APPRAISAL, deadline, message, recipients)
    return sent


def _send_once(assessment, phase, deadline, message, recipients) -> int:
    if not recipients:
        return 0
    try:
        with transaction.atomic():
            DeadlineReminder.objects.create(assessment=assessment, phase=phase, deadline=deadline)
            # Inside the atomic block: if sending fails, the record is rolled back and retried next run.
            send_mass_mail(_each(message[0], message[1], recipients), fail_silently=False)
    except IntegrityError:
        return 0  # already reminded for this deadline
    return 1
