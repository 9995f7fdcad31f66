"""The published guard of the stored results (0014_faults15), once per statement instead of once per row.

A whole-framework recompute inserts or updates tens of thousands of result rows at once (26,568 area
rows at 3,321 units); the row trigger built two jsonb values and ran a query for each of them: 0.4 s
of a first recompute's area INSERT, 0.3 s of its year-on-year UPDATE of 3,321 rows (EXPLAIN ANALYZE).
On the two result tables the same rule is now checked by AFTER … FOR EACH STATEMENT triggers over the
statement's transition tables: one query per statement, whatever its rows. Same refusal, message and
error code; an UPDATE leaving a row as it was is let through as before; the unlock flag
(parindex.dbguard.unlock_published) as before. The scores and criteria keep the row trigger (a save
writes a few rows). No-op on SQLite.
"""

from django.db import migrations

TABLES = (
    # table, primary key column
    ("scoring_assessmentresult", "assessment_id"),
    ("scoring_arearesult", "id"),
)

FUNCTION = r"""
CREATE OR REPLACE FUNCTION parindex_refuse_published_results() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pk text := TG_ARGV[0];
    fw_code text;
BEGIN
    IF coalesce(current_setting('parindex.unlock_published', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT f.code INTO fw_code FROM scoring_framework f
        WHERE f.status = 'published' AND f.id IN (SELECT n.framework_id FROM new_rows n) LIMIT 1;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT f.code INTO fw_code FROM scoring_framework f
        WHERE f.status = 'published' AND f.id IN (SELECT o.framework_id FROM old_rows o) LIMIT 1;
    ELSE
        -- rows that changed (a row updated to itself is let through), old and new side
        EXECUTE format(
            'SELECT f.code FROM scoring_framework f WHERE f.status = ''published'' AND f.id IN ('
            ' SELECT o.framework_id FROM old_rows o LEFT JOIN new_rows n ON n.%1$I = o.%1$I'
            '  WHERE n.%1$I IS NULL OR to_jsonb(n) <> to_jsonb(o)'
            ' UNION SELECT n.framework_id FROM new_rows n LEFT JOIN old_rows o ON o.%1$I = n.%1$I'
            '  WHERE o.%1$I IS NULL OR to_jsonb(n) <> to_jsonb(o)) LIMIT 1',
            pk
        ) INTO fw_code;
    END IF;
    IF fw_code IS NOT NULL THEN
        RAISE EXCEPTION 'parindex: framework % is published; its scores, results and criteria cannot change (% on %)',
            fw_code, TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'P0001',
                  HINT = 'Reopen the framework through the reopen service first.';
    END IF;
    RETURN NULL;
END;
$$;
"""

EVENTS = (
    ("insert", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    ("update", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("delete", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # no parameters: its % are PL/pgSQL placeholders
    for table, pk in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_published_guard ON {table}")
        for name, event, referencing in EVENTS:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_published_guard_{name} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION parindex_refuse_published_results('{pk}')"
            )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _pk in TABLES:
        for name, _event, _referencing in EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_published_guard_{name} ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_published_guard BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION parindex_refuse_published_change('framework')"
        )
    schema_editor.execute("DROP FUNCTION IF EXISTS parindex_refuse_published_results()")


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0015_conc"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
