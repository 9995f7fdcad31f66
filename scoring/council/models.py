"""The appraisal council of a framework. Models refer to scoring's by name ("scoring.Framework") so
that scoring.models can import this module without an import cycle."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CouncilRole(models.TextChoices):
    CHAIR = "chair", _("Chair of the council")
    MEMBER = "member", _("Member of the council")


class CouncilMember(models.Model):
    """A user on a framework's appraisal council, from an office (`unit`, often another department),
    appraising the leaves under the areas (top-level criteria) assigned to them, for every unit."""

    framework = models.ForeignKey(
        "scoring.Framework", on_delete=models.CASCADE, related_name="council_members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="councils"
    )
    role = models.CharField(_("role"), max_length=10, choices=CouncilRole.choices, default=CouncilRole.MEMBER)
    unit = models.ForeignKey(
        "units.Unit", verbose_name=_("office"), on_delete=models.PROTECT, related_name="+"
    )
    areas = models.ManyToManyField(
        "scoring.Criterion", verbose_name=_("areas appraised"), blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["framework", "role", "pk"]
        verbose_name = _("council member")
        verbose_name_plural = _("council members")
        constraints = [
            models.UniqueConstraint(fields=["framework", "user"], name="council_member_unique_user"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.framework_id}"

    @property
    def is_chair(self) -> bool:
        return self.role == CouncilRole.CHAIR


class CouncilMinutes(models.Model):
    """The minutes of a council meeting (biên bản): date, members present, conclusions, a file."""

    framework = models.ForeignKey(
        "scoring.Framework", on_delete=models.CASCADE, related_name="council_minutes"
    )
    meeting_date = models.DateField(_("meeting date"))
    present = models.ManyToManyField(
        CouncilMember, verbose_name=_("members present"), blank=True, related_name="+"
    )
    conclusions = models.TextField(_("conclusions"))
    file = models.FileField(_("file"), upload_to="council/%Y/", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["framework", "-meeting_date", "-pk"]
        verbose_name = _("council minutes")
        verbose_name_plural = _("council minutes")

    def __str__(self):
        return f"{self.framework_id} · {self.meeting_date}"


class CouncilSignOff(models.Model):
    """The chair's mark that the council's appraisal is done (one per framework; removed when the
    chair takes it back)."""

    framework = models.OneToOneField(
        "scoring.Framework", on_delete=models.CASCADE, related_name="council_signoff"
    )
    done_at = models.DateTimeField(_("appraisal done at"))
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("council sign-off")
        verbose_name_plural = _("council sign-offs")

    def __str__(self):
        return f"{self.framework_id} · {self.done_at:%Y-%m-%d}"
