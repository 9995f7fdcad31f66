from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scoring.models import POINTS, Assessment, Criterion, Framework


class ReportKind(models.TextChoices):
    COMPARATIVE = "comparative", _("Comparative report")
    ANNEX = "annex", _("Annexes and draft decision")


class ReportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel")
    DOCX = "docx", _("Word")
    PDF = "pdf", _("PDF")


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


def report_upload_to(instance, filename):
    return f"reports/{instance.framework_id}/{filename}"


class ReportJob(models.Model):
    """A comparative report built by a Celery job: status, progress, the file, and what it was built from.

    `inputs_fingerprint` identifies the inputs (results of the frameworks, parameters); a new request
    with the same fingerprint as a succeeded job reuses its file instead of rebuilding it."""

    kind = models.CharField(
        _("kind"), max_length=30, choices=ReportKind.choices, default=ReportKind.COMPARATIVE
    )
    framework = models.ForeignKey(
        Framework, verbose_name=_("framework"), on_delete=models.CASCADE, related_name="report_jobs"
    )
    compare_framework = models.ForeignKey(
        Framework,
        verbose_name=_("compared with"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    file_format = models.CharField(
        _("format"), max_length=10, choices=ReportFormat.choices, default=ReportFormat.XLSX
    )
    status = models.CharField(_("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    file = models.FileField(_("file"), upload_to=report_upload_to, blank=True)
    error = models.TextField(_("error"), blank=True)
    inputs_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    task_id = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_jobs",
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("report job")
        verbose_name_plural = _("report jobs")
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="reportjob_status_heartbeat_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="reportjob_progress_max_100"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.framework_id} ({self.status})"


class RemediationStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")


class RemediationItem(models.Model):
    """A remediation item (kế hoạch khắc phục) for a criterion where a unit lost points."""

    assessment = models.ForeignKey(
        Assessment, verbose_name=_("assessment"), on_delete=models.CASCADE, related_name="remediation_items"
    )
    criterion = models.ForeignKey(
        Criterion, verbose_name=_("criterion"), on_delete=models.CASCADE, related_name="remediation_items"
    )
    points_lost = models.DecimalField(_("points lost"), **POINTS)
    action = models.TextField(_("action"), blank=True)
    responsible = models.CharField(_("person responsible"), max_length=200, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RemediationStatus.choices, default=RemediationStatus.PROPOSED
    )
    cause = models.TextField(
        _("cause"), blank=True, help_text=_("Why the points were not achieved (nguyên nhân).")
    )
    result = models.TextField(_("result reported by the unit"), blank=True)
    result_reported_at = models.DateTimeField(_("result reported at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        ordering = ["assessment", "-points_lost"]
        verbose_name = _("remediation item")
        verbose_name_plural = _("remediation items")
        constraints = [
            models.UniqueConstraint(fields=["assessment", "criterion"], name="remediation_one_per_criterion"),
        ]

    def __str__(self):
        return f"{self.assessment} · {self.criterion.code}"
