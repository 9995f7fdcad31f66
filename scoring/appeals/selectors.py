"""Reads of appeals: how many are open in a framework, the framework's appeals (the office's list)
and one assessment's (the unit's page), each a fixed number of queries whatever their number."""

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from scoring.models import POINTS, Appeal, AppealStatus, Assessment, Framework, Score

OPEN, ANSWERED = "open", "answered"


def appeals_open_count(framework: Framework) -> int:
    """Appeals of the framework still waiting for an answer."""
    return Appeal.objects.filter(framework=framework, status=AppealStatus.LODGED).count()


def _with_current_points(appeals: QuerySet[Appeal]) -> QuerySet[Appeal]:
    """Each appeal with its leaf's self and appraised points now (one subquery each, no query per row)."""
    score = Score.objects.filter(assessment=OuterRef("assessment"), criterion=OuterRef("criterion"))
    return appeals.annotate(
        self_points=Subquery(score.values("self_points")[:1], output_field=DecimalField(**POINTS)),
        appraised_points=Subquery(score.values("appraised_points")[:1], output_field=DecimalField(**POINTS)),
        # The row's version, which the answer form sends back (scoring.concurrency): 0 for no row.
        score_version=Coalesce(Subquery(score.values("version")[:1]), 0),
        current_points=Coalesce(
            Subquery(score.values("appraised_points")[:1], output_field=DecimalField(**POINTS)),
            Subquery(score.values("self_points")[:1], output_field=DecimalField(**POINTS)),
        ),
    )


def framework_appeals(framework: Framework, state: str = "") -> QuerySet[Appeal]:
    """The framework's appeals, open ones first then by lodging time; `state` "open" or "answered"
    keeps only those."""
    appeals = Appeal.objects.filter(framework=framework)
    if state == OPEN:
        appeals = appeals.filter(status=AppealStatus.LODGED)
    elif state == ANSWERED:
        appeals = appeals.exclude(status=AppealStatus.LODGED)
    return _with_current_points(
        appeals.select_related("assessment__unit", "criterion", "lodged_by", "answered_by")
    ).order_by("assessment__unit__code", "criterion__order", "lodged_at", "id")


def assessment_appeals(assessment: Assessment) -> QuerySet[Appeal]:
    """One assessment's appeals, in tree order, newest first on one criterion."""
    return (
        Appeal.objects.filter(assessment=assessment)
        .select_related("criterion", "lodged_by", "answered_by")
        .order_by("criterion__order", "-lodged_at", "-id")
    )


def appeal_counts(framework: Framework) -> dict[str, int]:
    """{"open": n, "answered": n, "all": n} of the framework's appeals (one query)."""
    statuses = list(Appeal.objects.filter(framework=framework).values_list("status", flat=True))
    open_count = sum(1 for status in statuses if status == AppealStatus.LODGED)
    return {OPEN: open_count, ANSWERED: len(statuses) - open_count, "all": len(statuses)}
