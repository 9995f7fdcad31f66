"""Published means immutable, down to the database (issue 15, deliverable 6); the heartbeat of an
upload's check (deliverable 4: a check whose worker died is failed by the sweep, not left "checking").

On PostgreSQL a trigger on the scores, the stored results (assessment and area) and the criteria
refuses any INSERT, UPDATE or DELETE touching a published framework, unless the transaction set
`parindex.unlock_published` to 'on' (parindex.dbguard.unlock_published: publication and reopening
only). An UPDATE that changes nothing but the columns named after the first trigger argument (a user
reference cleared when the account is deleted) is let through. No-op on SQLite.
"""

from django.db import migrations, models

TABLES = (
    # table, how its framework is found, columns an update may change on a published framework
    ("scoring_score", "assessment", ["updated_by_id"]),
    ("scoring_assessmentresult", "framework", []),
    ("scoring_arearesult", "framework", []),
    ("scoring_criterion", "framework", []),
)

FUNCTION = r"""
CREATE OR REPLACE FUNCTION parindex_refuse_published_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    via text := TG_ARGV[0];
    free text[] := CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1:TG_NARGS - 1] ELSE ARRAY[]::text[] END;
    rows jsonb[] := ARRAY[]::jsonb[];
    item jsonb;
    fw_id bigint;
    fw_code text;
BEGIN
    IF coalesce(current_setting('parindex.unlock_published', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - free) = (to_jsonb(OLD) - free) THEN
        RETURN NEW;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        rows := rows || to_jsonb(OLD);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        rows := rows || to_jsonb(NEW);
    END IF;
    FOREACH item IN ARRAY rows LOOP
        IF via = 'assessment' THEN
            SELECT a.framework_id INTO fw_id FROM scoring_assessment a
            WHERE a.id = (item ->> 'assessment_id')::bigint;
        ELSE
            fw_id := (item ->> 'framework_id')::bigint;
        END IF;
        SELECT f.code INTO fw_code FROM scoring_framework f WHERE f.id = fw_id AND f.status = 'published';
        IF fw_code IS NOT NULL THEN
            RAISE EXCEPTION 'parindex: framework % is published; its scores, results and criteria cannot change (% on %)',
                fw_code, TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'P0001',
                      HINT = 'Reopen the framework through the reopen service first.';
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
"""


def _trigger_name(table: str) -> str:
    return f"{table}_published_guard"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # no parameters: its % are PL/pgSQL placeholders
    for table, via, free in TABLES:
        arguments = ", ".join(f"'{value}'" for value in [via, *free])
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table)} ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {_trigger_name(table)} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION parindex_refuse_published_change({arguments})"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _via, _free in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table)} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS parindex_refuse_published_change()")


class Migration(migrations.Migration):

    dependencies = [
        ("scoring", "0013_inspections17"),
    ]

    operations = [
        migrations.AddField(
            model_name="importrecord",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="checked at"),
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
