"""Row locks of a unit's save: its own assessment, never its framework for update.

Every save of a unit's rows (self-assessment, appraisal, submit, return, explain, appeal …) runs
`assessment_for_update` first. It takes, in this order:

1. the framework row FOR KEY SHARE (PostgreSQL). Any number of saves hold it together, and the
   coalesced ranking job's UPDATE of `results_computed_at` (FOR NO KEY UPDATE) does not conflict
   with it either. Only FOR UPDATE does, which is what every phase change takes
   (publish, opening appraisal, preliminary results … lock the framework with select_for_update()).
   So a save in flight holds a publication back until it commits, and a save that starts while
   the framework is being published waits, then reads the new status and is refused by the phase
   rules: nothing slips into a published framework, and saves of different units never wait on
   each other.
2. the assessment row FOR UPDATE, and only it (`of=("self",)`: a plain select_for_update() with
   select_related("framework") would lock the framework row FOR UPDATE too, serializing every save
   of the framework and deadlocking against the deferred foreign-key checks of the others).

The framework first, the assessment second, as publish does (framework, then its assessments):
the same order everywhere, so these locks cannot deadlock with one another.
"""

from django.db import connection

from scoring.models import Assessment, Framework


def _key_share(framework_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM scoring_framework WHERE id = %s FOR KEY SHARE", [framework_id])


def framework_key_share(framework_id: int) -> Framework:
    """The framework, re-read under a FOR KEY SHARE lock on PostgreSQL (plain read elsewhere)."""
    _key_share(framework_id)
    return Framework.objects.get(pk=framework_id)


def assessment_for_update(assessment: Assessment | int) -> Assessment:
    """The assessment locked FOR UPDATE (its own row only), its framework held FOR KEY SHARE and both
    read after the locks, with its unit loaded. Call inside the service's transaction."""
    pk = assessment if isinstance(assessment, int) else assessment.pk
    framework_id = (
        Assessment.objects.filter(pk=pk).values_list("framework_id", flat=True).get()
        if isinstance(assessment, int)
        else assessment.framework_id
    )
    _key_share(framework_id)  # the framework itself is read after the lock, with the assessment
    return Assessment.objects.select_for_update(of=("self",)).select_related("framework", "unit").get(pk=pk)
