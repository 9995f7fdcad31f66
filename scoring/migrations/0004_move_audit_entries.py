"""The audit trail moves to parindex.audit (one table for every app, no cascading foreign keys).

Every row of scoring's AuditEntry is copied with its id and time, the codes of its framework, unit
and criterion filled in from the joined rows, then the old table is dropped."""

from django.core.management.color import no_style
from django.db import migrations

BATCH = 2000


def _subject(row) -> str:
    if row["criterion_id"] is not None and row["assessment_id"] is not None:
        return "score"
    if row["assessment_id"] is not None:
        return "assessment"
    return "framework"


def copy_audit_entries(apps, schema_editor):
    Old = apps.get_model("scoring", "AuditEntry")
    New = apps.get_model("audit", "AuditEntry")
    # Keep each row's own time: the copy is not a new change.
    New._meta.get_field("created_at").auto_now_add = False
    database = schema_editor.connection.alias
    rows = (
        Old.objects.using(database)
        .order_by("id")
        .values(
            "id",
            "framework_id",
            "framework__code",
            "assessment_id",
            "assessment__unit_id",
            "assessment__unit__code",
            "criterion_id",
            "criterion__code",
            "action",
            "field",
            "old_value",
            "new_value",
            "reason",
            "actor_id",
            "actor__username",
            "actor__first_name",
            "actor__last_name",
            "via",
            "created_at",
        )
    )
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        full_name = f"{row['actor__first_name'] or ''} {row['actor__last_name'] or ''}".strip()
        batch.append(
            New(
                id=row["id"],
                actor_id=row["actor_id"],
                actor_name=(full_name or row["actor__username"] or "")[:150],
                via=row["via"],
                action=row["action"],
                subject_type=_subject(row),
                framework_id=row["framework_id"],
                framework_code=row["framework__code"] or "",
                assessment_id=row["assessment_id"],
                unit_id=row["assessment__unit_id"],
                unit_code=row["assessment__unit__code"] or "",
                criterion_id=row["criterion_id"],
                criterion_code=row["criterion__code"] or "",
                field=row["field"],
                old_value=row["old_value"],
                new_value=row["new_value"],
                reason=row["reason"],
                created_at=row["created_at"],
            )
        )
        if len(batch) >= BATCH:
            New.objects.using(database).bulk_create(batch)
            batch = []
    if batch:
        New.objects.using(database).bulk_create(batch)
    # Rows were inserted with their ids: move the id sequence past them (PostgreSQL).
    connection = schema_editor.connection
    statements = connection.ops.sequence_reset_sql(no_style(), [New])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0003_import_records"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(copy_audit_entries, migrations.RunPython.noop),
        migrations.DeleteModel(name="AuditEntry"),
    ]
