import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from parindex.audit.models import Via as Via  # the channel of a change; re-exported for entry paths
from parindex.numbers import format_decimal
from units.models import Unit, UnitKind

POINTS = {"max_digits": 7, "decimal_places": 2}
INDEX = {"max_digits": 9, "decimal_places": 4}

framework_code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$", _("A framework code uses letters, digits, dot, dash or underscore.")
)
criterion_code_validator = RegexValidator(
    r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$",
    _("A criterion code looks like 1, 1.2, 1.2.3 or, as decisions number them, I, II, a, a1."),
)


class FrameworkStatus(models.TextChoices):
    """The framework's phase (§2.3); scoring.frameworks.phases says what each phase allows."""

    DRAFT = "draft", _("Being prepared")
    OPEN = "open", _("Open for assessment")
    APPRAISAL = "appraisal", _("Appraisal")
    PRELIMINARY = "preliminary", _("Preliminary results (appeals open)")
    APPEALS = "appeals", _("Answering appeals")
    FINAL = "final", _("Results final")
    PUBLISHED = "published", _("Published")


class Framework(models.Model):
    """A yearly criteria framework (Bộ chỉ số) issued by an authority for one or more kinds of unit.

    `unit_kind` is the first kind it covers (its level: what pages and year on year read);
    `unit_kinds` every kind it covers ("commune", "special_zone"). An authority may issue several
    frameworks for the same kinds and year; a unit is still assessed in only one of them a year
    (scoring.assessments.services.assessment_get_or_create)."""

    code = models.CharField(_("code"), max_length=50, unique=True, validators=[framework_code_validator])
    authority = models.ForeignKey(
        Unit, verbose_name=_("authority"), on_delete=models.PROTECT, related_name="frameworks"
    )
    unit_kind = models.CharField(_("unit kind"), max_length=20, choices=UnitKind.choices)
    unit_kinds = models.JSONField(
        _("unit kinds covered"),
        default=list,
        blank=True,
        help_text=_("Every kind of unit the framework assesses; empty: its unit kind alone."),
    )
    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    name = models.CharField(_("name"), max_length=300)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    index_decimals = models.PositiveSmallIntegerField(
        _("index decimals"), default=2, validators=[MinValueValidator(0), MaxValueValidator(4)]
    )
    self_deadline = models.DateTimeField(_("self-assessment deadline"), null=True, blank=True)
    appraisal_deadline = models.DateTimeField(_("appraisal deadline"), null=True, blank=True)
    appeal_deadline = models.DateTimeField(_("appeal deadline"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=FrameworkStatus.choices, default=FrameworkStatus.OPEN
    )
    decision_number = models.CharField(_("decision number"), max_length=100, blank=True)
    decision_date = models.DateField(_("decision date"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("published by"),
    )
    index_capped = models.BooleanField(
        _("index capped at 100"),
        default=True,
        help_text=_("Bonus points never lift the index above 100 (import_framework --index-cap 100|none)."),
    )
    survey_optional = models.BooleanField(
        _("survey optional"),
        default=False,
        help_text=_(
            "A unit with no survey result at all is indexed on its remaining applicable maximum "
            "(import_framework --survey optional)."
        ),
    )
    # Optimistic concurrency of the settings a person edits (framework_update, framework_set_deadlines
    # bump it): a form sends the version it read and a stale save is refused (StaleEdit).
    version = models.PositiveIntegerField(_("version"), default=0, db_default=0, editable=False)
    results_computed_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("results computed at")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["-year", "code"]
        verbose_name = _("framework")
        verbose_name_plural = _("frameworks")
        constraints = [
            models.CheckConstraint(condition=Q(index_decimals__lte=4), name="framework_index_decimals_max_4"),
            models.CheckConstraint(
                condition=~Q(status="published")
                | (Q(decision_number__gt="") & Q(decision_date__isnull=False)),
                name="framework_published_has_decision",
            ),
        ]

    def __str__(self):
        return f"{self.code} — {self.name}"

    @property
    def is_published(self) -> bool:
        return self.status == FrameworkStatus.PUBLISHED

    # Instead of Django's "Framework with this Code already exists": the set that holds the code.
    CODE_TAKEN = gettext_noop(
        "Code %(code)s is already used by the framework %(name)s (%(year)s); choose another code."
    )

    def unique_error_message(self, model_class, unique_check):
        if model_class is Framework and tuple(unique_check) == ("code",):
            existing = Framework.objects.filter(code=self.code).exclude(pk=self.pk).first()
            if existing is not None:
                return ValidationError(
                    gettext(self.CODE_TAKEN)
                    % {"code": self.code, "name": existing.name, "year": existing.year},
                    code="unique",
                )
        return super().unique_error_message(model_class, unique_check)

    @property
    def covered_kinds(self) -> list[str]:
        """Every kind of unit the framework assesses, its unit kind first."""
        kinds = [self.unit_kind] if self.unit_kind else []
        return kinds + [kind for kind in self.unit_kinds or [] if kind not in kinds]

    def covers(self, kind: str) -> bool:
        return kind in self.covered_kinds

    @property
    def kinds_display(self) -> str:
        """The kinds covered, in the language active when shown ("Xã, Đặc khu"): lazy, so that it
        may stand in a refusal's parameters."""
        labels = [UnitKind(kind).label for kind in self.covered_kinds if kind in UnitKind.values]
        return format_lazy(", ".join(["{}"] * len(labels)), *labels)

    def clean(self):
        unknown = [kind for kind in self.unit_kinds or [] if kind not in UnitKind.values]
        if not isinstance(self.unit_kinds, list) or unknown:
            raise ValidationError(
                {"unit_kinds": _("Unknown unit kind %(kind)s.") % {"kind": ", ".join(map(str, unknown))}}
            )
        if self.status == FrameworkStatus.PUBLISHED and not (self.decision_number and self.decision_date):
            raise ValidationError(_("A published framework needs a decision number and date."))
        if self.self_deadline and self.appraisal_deadline and self.appraisal_deadline < self.self_deadline:
            raise ValidationError(
                {"appraisal_deadline": _("The appraisal deadline is before the self-assessment deadline.")}
            )


class RankingGroup(models.Model):
    """A group of a framework's units ranked apart (Nhóm: wards apart from communes): the units of
    the listed kinds, and the units listed by name (which win over a kind). A unit in no group of a
    framework that has groups is ranked with the other units in no group."""

    framework = models.ForeignKey(
        Framework, on_delete=models.CASCADE, related_name="ranking_groups", verbose_name=_("framework")
    )
    name = models.CharField(_("group"), max_length=100)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    unit_kinds = models.JSONField(_("unit kinds"), default=list, blank=True)
    units = models.ManyToManyField(Unit, verbose_name=_("units"), blank=True, related_name="+")

    class Meta:
        ordering = ["framework", "order", "name"]
        verbose_name = _("ranking group")
        verbose_name_plural = _("ranking groups")
        constraints = [models.UniqueConstraint(fields=["framework", "name"], name="rankinggroup_name_unique")]

    def __str__(self):
        return self.name


class CriterionKind(models.TextChoices):
    SCORE = "score", _("Score")
    BONUS = "bonus", _("Bonus")
    PENALTY = "penalty", _("Penalty")


class CriterionSource(models.TextChoices):
    SELF = "self", _("Self-assessment")
    SURVEY = "survey", _("Sociological survey")
    OFFICE = "office", _("Scored by the office")

    @classmethod
    def parse(cls, text) -> "CriterionSource | None":
        """The source a person means by a name: the code or a usual Vietnamese word ("tự đánh giá",
        "điều tra", "cơ quan", "thẩm định"); case- and accent-insensitive, blank is self. None if
        unknown. Every entry path that reads a source by name (framework file) uses this."""
        from parindex.spreadsheets import normalize_name

        return CRITERION_SOURCE_NAMES.get(normalize_name(text))


# Accent-free names of each source besides its code (what framework files write in "Nguồn").
CRITERION_SOURCE_NAMES = {
    "": CriterionSource.SELF,
    "self": CriterionSource.SELF,
    "tu danh gia": CriterionSource.SELF,
    "tu cham": CriterionSource.SELF,
    "don vi tu cham": CriterionSource.SELF,
    "survey": CriterionSource.SURVEY,
    "dieu tra": CriterionSource.SURVEY,
    "dieu tra xa hoi hoc": CriterionSource.SURVEY,
    "dieu tra xhh": CriterionSource.SURVEY,
    "dtxhh": CriterionSource.SURVEY,
    "xhh": CriterionSource.SURVEY,
    "office": CriterionSource.OFFICE,
    "co quan": CriterionSource.OFFICE,
    "tham dinh": CriterionSource.OFFICE,
    "co quan tham dinh": CriterionSource.OFFICE,
    "co quan cham": CriterionSource.OFFICE,
}


class Criterion(models.Model):
    """A node of a framework's tree: area (depth 0) → criterion (1) → sub-criterion (2).

    `area` points at the depth-0 ancestor (an area points at itself) and `is_leaf` is stored, so
    that totals per area are one GROUP BY over leaves. Both are set by the framework services.
    """

    framework = models.ForeignKey(
        Framework, on_delete=models.CASCADE, related_name="criteria", verbose_name=_("framework")
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        verbose_name=_("parent criterion"),
    )
    area = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("area")
    )
    code = models.CharField(_("code"), max_length=30, validators=[criterion_code_validator])
    title = models.TextField(_("title"))
    max_points = models.DecimalField(_("max points"), **POINTS, validators=[MinValueValidator(Decimal("0"))])
    kind = models.CharField(
        _("kind"), max_length=10, choices=CriterionKind.choices, default=CriterionKind.SCORE
    )
    source = models.CharField(
        _("source"), max_length=10, choices=CriterionSource.choices, default=CriterionSource.SELF
    )
    rule = models.CharField(
        _("scoring rule"),
        max_length=300,
        blank=True,
        help_text=_("points (default), steps:0;0,5;1, yesno, percent, bands:100=2;90=1,5;0=0, deduct:0,5"),
    )
    guidance = models.TextField(_("guidance"), blank=True)
    allows_not_applicable = models.BooleanField(_("may be not applicable"), default=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    depth = models.PositiveSmallIntegerField(default=0, editable=False, verbose_name=_("level"))
    is_leaf = models.BooleanField(default=True, editable=False, verbose_name=_("last-level criterion"))

    class Meta:
        ordering = ["framework", "order"]
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        constraints = [
            models.UniqueConstraint(fields=["framework", "code"], name="criterion_code_unique_in_framework"),
            models.CheckConstraint(condition=Q(max_points__gte=0), name="criterion_max_points_not_negative"),
        ]
        indexes = [models.Index(fields=["framework", "is_leaf"], name="criterion_fw_leaf_idx")]

    def __str__(self):
        return f"{self.code}. {self.title}"

    @property
    def parent_code(self) -> str:
        return self.parent.code if self.parent_id else ""


class GradeBand(models.Model):
    """A grade (xếp loại) given to an index at or above min_index: data of the framework, never code."""

    framework = models.ForeignKey(
        Framework, on_delete=models.CASCADE, related_name="grade_bands", verbose_name=_("framework")
    )
    name = models.CharField(_("grade"), max_length=50)
    min_index = models.DecimalField(_("minimum index"), max_digits=7, decimal_places=3)

    class Meta:
        ordering = ["framework", "-min_index"]
        verbose_name = _("grade band")
        verbose_name_plural = _("grade bands")
        constraints = [
            models.UniqueConstraint(fields=["framework", "min_index"], name="gradeband_min_unique"),
            models.UniqueConstraint(fields=["framework", "name"], name="gradeband_name_unique"),
        ]

    def __str__(self):
        return f"{self.name} ≥ {format_decimal(self.min_index)}"  # "Xuất sắc ≥ 90", never "≥ 90.000"


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", _("Not submitted")
    SUBMITTED = "submitted", _("Submitted")
    RETURNED = "returned", _("Returned for explanation")
    APPRAISED = "appraised", _("Appraised")
    PUBLISHED = "published", _("Published")


FINAL_STATUSES = (AssessmentStatus.APPRAISED, AssessmentStatus.PUBLISHED)


class Assessment(models.Model):
    """One unit's assessment under one framework."""

    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="assessments"
    )
    framework = models.ForeignKey(
        Framework, verbose_name=_("framework"), on_delete=models.CASCADE, related_name="assessments"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    # The ranking group the unit is ranked in (set by the services from the framework's groups), and
    # whether it is ranked at all: a unit assessed but not ranked (newly formed, exempted by the
    # decision) has results but no place and is left out of the others' ranks.
    ranking_group = models.ForeignKey(
        RankingGroup,
        verbose_name=_("ranking group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assessments",
    )
    ranked = models.BooleanField(_("ranked"), default=True, db_default=True)
    not_ranked_reason = models.TextField(_("why not ranked"), blank=True, default="", db_default="")
    explanation_round = models.PositiveSmallIntegerField(_("explanation round"), default=0)
    return_message = models.TextField(_("message with the return"), blank=True)
    self_deadline_extended_to = models.DateTimeField(
        _("self-assessment deadline extended to"), null=True, blank=True
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    appraised_at = models.DateTimeField(_("appraised at"), null=True, blank=True)
    # Publication (scoring.frameworks.services.framework_publish): a unit left out of the published
    # results by name, with the reason (it keeps its own status and holds no place); and each unit's
    # status before publication, which reopening restores.
    excluded_reason = models.TextField(
        _("why left out of the publication"), blank=True, default="", db_default=""
    )
    status_before_publication = models.CharField(
        _("status before publication"),
        max_length=20,
        choices=AssessmentStatus.choices,
        blank=True,
        default="",
        db_default="",
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["framework", "unit__code"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            models.UniqueConstraint(fields=["unit", "framework"], name="assessment_one_per_unit_framework")
        ]

    def __str__(self):
        return f"{self.unit.code} · {self.framework.code}"

    @property
    def is_provisional(self) -> bool:
        return self.status not in FINAL_STATUSES

    @property
    def self_deadline(self):
        """The framework's self-assessment deadline, or this unit's extension of it."""
        return self.self_deadline_extended_to or self.framework.self_deadline


class Score(models.Model):
    """Points of one leaf criterion in one assessment.

    self_points is the unit's own score; appraised_points the office's: the appraisal of a
    self-assessed leaf, or the survey points of a survey leaf. The final points of a leaf are the
    appraised points where present, else the self points.
    """

    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="scores", verbose_name=_("assessment")
    )
    criterion = models.ForeignKey(
        Criterion, on_delete=models.CASCADE, related_name="scores", verbose_name=_("criterion")
    )
    self_points = models.DecimalField(_("self-assessed points"), **POINTS, null=True, blank=True)
    self_raw = models.CharField(_("raw figure (self-assessed)"), max_length=50, blank=True)
    not_applicable = models.BooleanField(_("not applicable (proposed by the unit)"), default=False)
    not_applicable_reason = models.TextField(_("why not applicable"), blank=True)
    note = models.TextField(_("note"), blank=True)
    evidence_reference = models.TextField(_("evidence reference"), blank=True)
    appraised_points = models.DecimalField(_("appraised points"), **POINTS, null=True, blank=True)
    appraised_raw = models.CharField(_("raw figure (appraised)"), max_length=50, blank=True)
    # The appraiser's decision on "not applicable": None = not decided (the unit's proposal stands
    # provisionally), True = confirmed or imposed, False = refused (the leaf is scored).
    appraised_not_applicable = models.BooleanField(
        _("not applicable (appraiser's decision)"), null=True, blank=True
    )
    survey_sample = models.PositiveIntegerField(_("survey sample size"), null=True, blank=True)
    appraisal_reason = models.TextField(_("appraisal reason"), blank=True)
    explanation_request = models.TextField(_("explanation requested"), blank=True)
    explanation_requested_round = models.PositiveSmallIntegerField(
        _("explanation requested in round"), default=0
    )
    explanation = models.TextField(_("explanation"), blank=True)
    # Optimistic concurrency: every write through the services (_apply_many) adds one; every row a
    # person edits sends the version it read, and a save made on a stale version is refused
    # (scoring.assessments.services.StaleEdit). 0 = no row yet.
    version = models.PositiveIntegerField(_("version"), default=0, db_default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        ordering = ["assessment", "criterion__order"]
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        constraints = [
            models.UniqueConstraint(fields=["assessment", "criterion"], name="score_one_per_leaf"),
            models.CheckConstraint(condition=Q(self_points__gte=0), name="score_self_points_not_negative"),
            models.CheckConstraint(
                condition=Q(appraised_points__gte=0), name="score_appraised_points_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.assessment} · {self.criterion.code}"

    @property
    def final_points(self):
        return self.appraised_points if self.appraised_points is not None else self.self_points

    @property
    def is_not_applicable(self) -> bool:
        """Not applicable as the results count it: the appraiser's decision, else the unit's proposal."""
        if self.appraised_not_applicable is not None:
            return self.appraised_not_applicable
        return self.not_applicable

    @staticmethod
    def is_not_applicable_expression() -> Coalesce:
        """`is_not_applicable` as a query expression (COALESCE(appraised_not_applicable,
        not_applicable)), for readers that filter or count in SQL: `Q(na=True)` after `.alias(na=…)`."""
        return Coalesce("appraised_not_applicable", "not_applicable", output_field=models.BooleanField())

    def clean(self):
        errors = {}
        max_points = self.criterion.max_points
        for field in ("self_points", "appraised_points"):
            value = getattr(self, field)
            if value is not None and value > max_points:
                errors[field] = _("%(value)s is more than the maximum %(max)s.") % {
                    "value": value,
                    "max": max_points,
                }
        if self.not_applicable and not self.criterion.allows_not_applicable:
            errors["not_applicable"] = _("This criterion cannot be marked not applicable.")
        if errors:
            raise ValidationError(errors)


def appraisal_difference(self_points: Decimal | None, appraised_points: Decimal | None) -> Decimal | None:
    """The one definition of the difference of an appraisal (chênh lệch): appraised − self, negative
    when the appraisal lowered the unit's points. None until appraised; points the unit did not give
    (a refused not-applicable proposal) count 0. Pages, workbooks and reports all use it."""
    if appraised_points is None:
        return None
    return appraised_points - (self_points or Decimal("0"))


def evidence_upload_to(instance, filename):
    return f"evidence/{instance.score.assessment.framework_id}/{instance.score.assessment_id}/{filename}"


class Evidence(models.Model):
    """Evidence (tài liệu kiểm chứng) for a score: a stored file or a reference to an issued document."""

    score = models.ForeignKey(
        Score, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("score")
    )
    file = models.FileField(_("file"), upload_to=evidence_upload_to, blank=True)
    document_number = models.CharField(_("document number"), max_length=100, blank=True)
    document_date = models.DateField(_("document date"), null=True, blank=True)
    page = models.CharField(_("page"), max_length=50, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            models.CheckConstraint(
                condition=~Q(file="") | ~Q(document_number=""), name="evidence_has_file_or_document"
            )
        ]

    def __str__(self):
        return self.document_number or self.file.name


class AssessmentResult(models.Model):
    """Stored totals of one assessment, written by scoring.results.engine.results_recompute."""

    assessment = models.OneToOneField(
        Assessment,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="result",
        verbose_name=_("assessment"),
    )
    framework = models.ForeignKey(
        Framework, on_delete=models.CASCADE, related_name="results", verbose_name=_("framework")
    )
    self_points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("self-assessed points"))
    # Filled by the engine (set-based SQL); db_default so that rows it inserts need not name them.
    survey_points = models.DecimalField(
        **POINTS, default=Decimal("0"), db_default=Decimal("0"), verbose_name=_("survey points")
    )
    office_points = models.DecimalField(
        **POINTS, default=Decimal("0"), db_default=Decimal("0"), verbose_name=_("office points")
    )
    # The parts of the points (self_part + survey + office + bonus − penalty = points): the final
    # points of the applicable score leaves of source self (appraised where present, else self).
    self_part_points = models.DecimalField(
        **POINTS,
        default=Decimal("0"),
        db_default=Decimal("0"),
        verbose_name=_("points of the self-assessed part"),
    )
    # The self-assessed part on its own (provisional figures before appraisal and survey):
    # self_points over the max of the applicable self leaves, and that part's index.
    self_max_points = models.DecimalField(
        **POINTS,
        default=Decimal("0"),
        db_default=Decimal("0"),
        verbose_name=_("max points of the self-assessed part"),
    )
    self_index = models.DecimalField(**INDEX, null=True, verbose_name=_("index of the self-assessed part"))
    # Leaves of each source (every kind) not applicable-marked, and how many of them have points.
    self_leaves_applicable = models.PositiveIntegerField(
        default=0, db_default=0, verbose_name=_("self-assessed criteria applicable")
    )
    self_leaves_scored = models.PositiveIntegerField(
        default=0, db_default=0, verbose_name=_("self-assessed criteria scored")
    )
    survey_leaves_applicable = models.PositiveIntegerField(
        default=0, db_default=0, verbose_name=_("survey criteria applicable")
    )
    survey_leaves_scored = models.PositiveIntegerField(
        default=0, db_default=0, verbose_name=_("survey criteria scored")
    )
    office_leaves_applicable = models.PositiveIntegerField(
        default=0, db_default=0, verbose_name=_("office criteria applicable")
    )
    office_leaves_scored = models.PositiveIntegerField(
        default=0, db_default=0, verbose_name=_("office criteria scored")
    )
    score_points = models.DecimalField(
        **POINTS, default=Decimal("0"), verbose_name=_("points of the criteria")
    )
    bonus_points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("bonus points"))
    penalty_points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("penalty points"))
    points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("points"))
    max_points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("max points"))
    index = models.DecimalField(**INDEX, null=True, verbose_name=_("index"))
    grade = models.CharField(max_length=50, blank=True, verbose_name=_("grade"))
    rank = models.PositiveIntegerField(null=True, verbose_name=_("rank"))
    provisional = models.BooleanField(default=True, verbose_name=_("provisional"))
    leaves_applicable = models.PositiveIntegerField(default=0, verbose_name=_("criteria applicable"))
    leaves_scored = models.PositiveIntegerField(default=0, verbose_name=_("criteria scored"))
    previous_points = models.DecimalField(**POINTS, null=True, verbose_name=_("previous year's points"))
    previous_index = models.DecimalField(**INDEX, null=True, verbose_name=_("previous year's index"))
    previous_rank = models.PositiveIntegerField(null=True, verbose_name=_("previous year's rank"))
    points_change = models.DecimalField(**POINTS, null=True, verbose_name=_("points change"))
    index_change = models.DecimalField(**INDEX, null=True, verbose_name=_("index change"))
    rank_change = models.IntegerField(null=True, verbose_name=_("rank change"))
    computed_at = models.DateTimeField(auto_now=True, verbose_name=_("computed at"))

    class Meta:
        ordering = ["framework", "rank"]
        verbose_name = _("result")
        verbose_name_plural = _("results")
        indexes = [models.Index(fields=["framework", "rank"], name="result_framework_rank_idx")]

    def __str__(self):
        return f"{self.assessment_id}: {self.index} #{self.rank}"

    @property
    def survey_in(self) -> bool:
        """Every applicable survey leaf has its result; or, the survey being optional, none has one
        (the unit is then indexed on its remaining applicable max)."""
        if self.survey_leaves_scored == self.survey_leaves_applicable:
            return True
        return self.survey_left_out

    @property
    def survey_left_out(self) -> bool:
        """The survey is optional and no applicable survey leaf has a result: the engine leaves every
        survey leaf out of the points and the max (scoring.results.selectors.survey_left_out reads the
        same condition for a whole framework)."""
        return bool(
            self.framework.survey_optional and self.survey_leaves_applicable and not self.survey_leaves_scored
        )

    @property
    def all_parts_in(self) -> bool:
        """The index is final: the assessment is appraised and the survey is in."""
        return not self.provisional and self.survey_in


class AreaResult(models.Model):
    """Stored totals of one area of one assessment."""

    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="area_results", verbose_name=_("assessment")
    )
    framework = models.ForeignKey(
        Framework, on_delete=models.CASCADE, related_name="area_results", verbose_name=_("framework")
    )
    area = models.ForeignKey(
        Criterion, on_delete=models.CASCADE, related_name="area_results", verbose_name=_("area")
    )
    self_points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("self-assessed points"))
    points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("points"))
    max_points = models.DecimalField(**POINTS, default=Decimal("0"), verbose_name=_("max points"))
    index = models.DecimalField(**INDEX, null=True, verbose_name=_("index"))
    rank = models.PositiveIntegerField(null=True, verbose_name=_("rank"))

    class Meta:
        ordering = ["assessment", "area__order"]
        verbose_name = _("area result")
        verbose_name_plural = _("area results")
        constraints = [models.UniqueConstraint(fields=["assessment", "area"], name="arearesult_one_per_area")]
        indexes = [models.Index(fields=["framework", "area", "rank"], name="arearesult_fw_area_rank_idx")]

    def __str__(self):
        return f"{self.assessment_id}/{self.area_id}: {self.index} #{self.rank}"


class ReminderPhase(models.TextChoices):
    SELF = "self", _("Self-assessment")
    APPRAISAL = "appraisal", _("Appraisal")


class DeadlineReminder(models.Model):
    """A deadline reminder that was sent, so that the daily job sends each one once."""

    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("assessment")
    )
    phase = models.CharField(max_length=20, choices=ReminderPhase.choices, verbose_name=_("phase"))
    deadline = models.DateTimeField(verbose_name=_("deadline"))
    sent_at = models.DateTimeField(auto_now_add=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("deadline reminder")
        verbose_name_plural = _("deadline reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "phase", "deadline"], name="reminder_once_per_deadline"
            )
        ]

    def __str__(self):
        return f"{self.assessment} · {self.phase} · {self.deadline:%Y-%m-%d}"


class ImportKind(models.TextChoices):
    SELF = "self", _("Self-assessment workbook")
    APPRAISAL = "appraisal", _("Appraisal workbook")
    SURVEY = "survey", _("Survey file")
    FRAMEWORK = "framework", _("Framework file")


class ImportStatus(models.TextChoices):
    CHECKING = "checking", _("Being checked")
    PREVIEW = "preview", _("Waiting for confirmation")
    APPLYING = "applying", _("Being applied")
    APPLIED = "applied", _("Applied")
    REFUSED = "refused", _("Refused")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")


def import_upload_to(instance, filename):
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}/{filename}"


class ImportRecord(models.Model):
    """One uploaded file: kept as sent, with its check result, the preview of its changes (stored
    here so that any web process can confirm it), and what was applied."""

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.CHECKING
    )
    framework = models.ForeignKey(
        Framework,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="imports",
        verbose_name=_("framework"),
    )
    assessment = models.ForeignKey(
        Assessment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="imports",
        verbose_name=_("assessment"),
    )
    file = models.FileField(_("file"), upload_to=import_upload_to)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    problems = models.JSONField(_("problems"), default=list, blank=True)  # [{"vi": …, "en": …}]
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    # Set when a check or a confirmation starts and as it moves on: a record "checking" or "applying"
    # whose heartbeat is older than the task time limit lost its worker (scoring.exchange.uploads.import_fail_stale).
    heartbeat_at = models.DateTimeField(_("checked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        indexes = [models.Index(fields=["assessment", "-created_at"], name="import_assessment_idx")]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"


# --- appeals (kiến nghị) against the preliminary results (DESIGN §2.3) ---------------------------------


class AppealStatus(models.TextChoices):
    LODGED = "lodged", _("Lodged, waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    REFUSED = "refused", pgettext_lazy("appeal", "Refused")


def appeal_upload_to(instance, filename):
    return f"appeals/{instance.framework_id}/{instance.assessment_id}/{filename}"


class Appeal(models.Model):
    """A unit's appeal (kiến nghị) against the preliminary points of one leaf, lodged while the
    framework's preliminary results are open for appeals (scoring.appeals.services), and the office's
    answer: accepted with new appraised points and a reason, or refused with a reason. Results move
    after the preliminary notice only through accepted appeals."""

    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="appeals")
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="appeals")
    criterion = models.ForeignKey(
        Criterion, verbose_name=_("criterion"), on_delete=models.CASCADE, related_name="appeals"
    )
    text = models.TextField(_("the unit's appeal"))
    evidence_file = models.FileField(_("evidence file"), upload_to=appeal_upload_to, blank=True)
    evidence_reference = models.CharField(
        _("evidence reference"),
        max_length=300,
        blank=True,
        help_text=_("An issued document: number, date, page."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=AppealStatus.choices, default=AppealStatus.LODGED
    )
    # The leaf's points when the appeal was lodged, and the appraised points an accepted appeal gave.
    old_points = models.DecimalField(_("points appealed against"), **POINTS, null=True, blank=True)
    new_points = models.DecimalField(_("new points"), **POINTS, null=True, blank=True)
    answer = models.TextField(_("reason of the answer"), blank=True)
    lodged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lodged_at = models.DateTimeField(_("lodged at"), default=timezone.now)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        ordering = ["framework", "lodged_at", "id"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "criterion"],
                condition=Q(status="lodged"),
                name="appeal_one_open_per_criterion",
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(new_points__isnull=False),
                name="appeal_accepted_has_new_points",
            ),
        ]
        indexes = [models.Index(fields=["framework", "status"], name="appeal_framework_status_idx")]

    def __str__(self):
        return f"{self.assessment_id} · {self.criterion_id} · {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status == AppealStatus.LODGED

    @property
    def evidence_filename(self) -> str:
        return self.evidence_file.name.rsplit("/", 1)[-1] if self.evidence_file else ""


# The appraisal council (issue 13): its models live in scoring.council.models, registered with scoring.
from scoring.council.models import CouncilMember, CouncilMinutes, CouncilRole, CouncilSignOff  # noqa: E402, F401

# Inspections (issue 17): their models live in scoring.inspections.models, registered with scoring.
from scoring.inspections.models import (  # noqa: E402, F401
    Conclusion,
    Finding,
    FindingFile,
    InspectionPlan,
    InspectionVisit,
    Recommendation,
    RecommendationStatus,
    TeamMember,
    VisitStatus,
)
