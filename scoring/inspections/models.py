"""Inspections of units during the year. Models refer to scoring's by name ("scoring.Criterion") so
that scoring.models can import this module without an import cycle."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class InspectionPlan(models.Model):
    """The inspection plan of an authority for a year (kế hoạch kiểm tra CCHC): one per authority and year."""

    authority = models.ForeignKey(
        "units.Unit", verbose_name=_("authority"), on_delete=models.PROTECT, related_name="+"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    name = models.CharField(_("name"), max_length=300)
    document_number = models.CharField(_("plan document number"), max_length=100, blank=True)
    document_date = models.DateField(_("plan document date"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-year", "authority__code"]
        verbose_name = _("inspection plan")
        verbose_name_plural = _("inspection plans")
        constraints = [
            models.UniqueConstraint(fields=["authority", "year"], name="inspection_plan_one_per_year"),
        ]

    def __str__(self):
        return f"{self.year} · {self.name}"


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    VISITING = "visiting", _("Visiting")
    DRAFT_SHARED = "draft_shared", _("Draft findings shared")
    CONCLUDED = "concluded", _("Concluded")


# Once the draft findings are shared, the unit sees the visit.
SHARED_STATUSES = (VisitStatus.DRAFT_SHARED, VisitStatus.CONCLUDED)


class InspectionVisit(models.Model):
    """A team's visit to one unit of the plan, over some days."""

    plan = models.ForeignKey(InspectionPlan, on_delete=models.CASCADE, related_name="visits")
    unit = models.ForeignKey(
        "units.Unit", verbose_name=_("unit inspected"), on_delete=models.PROTECT, related_name="+"
    )
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to"))
    status = models.CharField(
        _("status"), max_length=20, choices=VisitStatus.choices, default=VisitStatus.PLANNED
    )
    draft_shared_at = models.DateTimeField(_("draft findings shared at"), null=True, blank=True)
    response_text = models.TextField(_("the unit's response"), blank=True)
    response_file = models.FileField(_("response file"), upload_to="inspections/responses/%Y/", blank=True)
    responded_at = models.DateTimeField(_("responded at"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    no_recommendations = models.BooleanField(_("concluded without recommendations"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "start_date", "pk"]
        verbose_name = _("inspection visit")
        verbose_name_plural = _("inspection visits")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="inspection_visit_dates_ordered"
            ),
        ]
        indexes = [models.Index(fields=["unit", "status"], name="inspection_visit_unit_idx")]

    def __str__(self):
        return f"{self.plan_id} · {self.unit_id} · {self.start_date}"

    @property
    def is_shared(self) -> bool:
        return self.status in SHARED_STATUSES

    @property
    def is_concluded(self) -> bool:
        return self.status == VisitStatus.CONCLUDED

    @property
    def response_filename(self) -> str:
        return self.response_file.name.rsplit("/", 1)[-1] if self.response_file else ""


class TeamMember(models.Model):
    """A member of a visit's team, from an office (often another department); one leads the team."""

    visit = models.ForeignKey(InspectionVisit, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    office = models.ForeignKey(
        "units.Unit", verbose_name=_("office"), on_delete=models.PROTECT, related_name="+"
    )
    is_leader = models.BooleanField(_("team leader"), default=False)

    class Meta:
        ordering = ["visit", "-is_leader", "pk"]
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [
            models.UniqueConstraint(fields=["visit", "user"], name="inspection_team_unique_user"),
            models.UniqueConstraint(
                fields=["visit"], condition=Q(is_leader=True), name="inspection_team_one_leader"
            ),
        ]

    def __str__(self):
        return f"{self.visit_id} · {self.user_id}"


class Finding(models.Model):
    """A finding of the visit, by area (a top-level criterion) and criterion (a leaf) where one applies."""

    visit = models.ForeignKey(InspectionVisit, on_delete=models.CASCADE, related_name="findings")
    area = models.ForeignKey(
        "scoring.Criterion",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    criterion = models.ForeignKey(
        "scoring.Criterion",
        verbose_name=_("criterion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("finding"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["visit", "pk"]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self):
        return f"{self.visit_id} · {self.text[:40]}"


class FindingFile(models.Model):
    """An evidence file of a finding."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(_("file"), upload_to="inspections/findings/%Y/")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["finding", "pk"]
        verbose_name = _("finding file")
        verbose_name_plural = _("finding files")

    def __str__(self):
        return self.filename

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""


class Conclusion(models.Model):
    """The conclusion of a visit (kết luận kiểm tra)."""

    visit = models.OneToOneField(InspectionVisit, on_delete=models.CASCADE, related_name="conclusion")
    date = models.DateField(_("conclusion date"))
    text = models.TextField(_("conclusion"))
    concluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("conclusion")
        verbose_name_plural = _("conclusions")

    def __str__(self):
        return f"{self.visit_id} · {self.date}"


class RecommendationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    REPORTED_FIXED = "reported_fixed", _("Reported fixed")
    CLOSED = "closed", _("Closed")


class Recommendation(models.Model):
    """A recommendation of the conclusion: what the unit must fix, who owns it, by when; the unit's
    report that it fixed it (with evidence), then the office's closing."""

    visit = models.ForeignKey(InspectionVisit, on_delete=models.CASCADE, related_name="recommendations")
    criterion = models.ForeignKey(
        "scoring.Criterion",
        verbose_name=_("criterion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("recommendation"))
    owner = models.CharField(_("owner"), max_length=200)
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=20, choices=RecommendationStatus.choices, default=RecommendationStatus.OPEN
    )
    fix_report = models.TextField(_("fix report"), blank=True)
    fix_file = models.FileField(_("fix evidence"), upload_to="inspections/fixes/%Y/", blank=True)
    fix_date = models.DateField(_("fixed on"), null=True, blank=True)
    fix_reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["visit", "deadline", "pk"]
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        indexes = [models.Index(fields=["status", "deadline"], name="inspection_rec_status_idx")]

    def __str__(self):
        return f"{self.visit_id} · {self.text[:40]}"

    @property
    def fix_filename(self) -> str:
        return self.fix_file.name.rsplit("/", 1)[-1] if self.fix_file else ""
