"""The audit trail of every change: one table for units, memberships, frameworks, assessments and scores.

Rows describe what they are about with plain, indexed columns (ids and codes), never with foreign keys
that cascade: deleting a framework, a unit or an assessment leaves its history readable. Only the actor
is a foreign key (SET_NULL), and their name is kept beside it.

This app sits below every domain app (units → scoring → reports all write here) and imports none of them.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Via(models.TextChoices):
    """Through which entry path a change was made."""

    WEB = "web", _("Web")
    IMPORT = "import", _("Import")
    COMMAND = "command", _("Command")
    ADMIN = "admin", _("Admin")
    TASK = "task", _("Task")
    SYSTEM = "system", _("System")


class Subject(models.TextChoices):
    """What kind of thing a row describes."""

    UNIT = "unit", _("Unit")
    MEMBERSHIP = "membership", _("Membership")
    FRAMEWORK = "framework", _("Framework")
    ASSESSMENT = "assessment", _("Assessment")
    SCORE = "score", _("Score")
    REMEDIATION = "remediation", _("Remediation item")


class AuditEntry(models.Model):
    """One recorded change: who, when, what, old → new, why, and through which channel."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    via = models.CharField(_("via"), max_length=10, choices=Via.choices, default=Via.SYSTEM)
    action = models.CharField(_("action"), max_length=50, db_index=True)
    subject_type = models.CharField(_("subject"), max_length=20, choices=Subject.choices, db_index=True)
    # The object described (a membership's id, say) and a label kept for when it is gone (the member's name).
    subject_id = models.BigIntegerField(_("subject id"), null=True, blank=True)
    subject_label = models.CharField(_("subject label"), max_length=200, blank=True)
    framework_id = models.BigIntegerField(_("framework id"), null=True, blank=True, db_index=True)
    framework_code = models.CharField(_("framework"), max_length=40, blank=True)
    assessment_id = models.BigIntegerField(_("assessment id"), null=True, blank=True)
    unit_id = models.BigIntegerField(_("unit id"), null=True, blank=True, db_index=True)
    unit_code = models.CharField(_("unit"), max_length=40, blank=True, db_index=True)
    criterion_id = models.BigIntegerField(_("criterion id"), null=True, blank=True)
    criterion_code = models.CharField(_("criterion"), max_length=40, blank=True)
    field = models.CharField(_("field"), max_length=50, blank=True)
    old_value = models.TextField(_("old value"), blank=True)
    new_value = models.TextField(_("new value"), blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["assessment_id", "criterion_id"], name="auditentry_assess_crit_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.field}"

    @property
    def who(self) -> str:
        """The actor's name as shown today, or as kept when the account is gone."""
        if self.actor_id and self.actor is not None:
            return self.actor.get_full_name() or self.actor.get_username()
        return self.actor_name
