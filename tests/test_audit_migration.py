"""The audit trail's move from scoring to parindex.audit carries every row over: run the migration
from the state before it, with a row in the old table, and read the row in the new one."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("scoring", "0003_import_records"), ("audit", "0001_initial")]
AFTER = [("scoring", "0004_move_audit_entries")]


@pytest.mark.django_db(transaction=True)
def test_rows_of_the_old_trail_are_copied_with_their_codes_time_and_actor():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        apps = executor.loader.project_state(BEFORE).apps
        User = apps.get_model("auth", "User")
        Unit = apps.get_model("units", "Unit")
        Framework = apps.get_model("scoring", "Framework")
        Criterion = apps.get_model("scoring", "Criterion")
        Assessment = apps.get_model("scoring", "Assessment")
        OldEntry = apps.get_model("scoring", "AuditEntry")
        actor = User.objects.create(username="noivu", first_name="Cán bộ", last_name="Nội vụ")
        district = Unit.objects.create(code="H", name="Huyện", kind="district", path="/1/")
        commune = Unit.objects.create(code="X1", name="Xã", kind="commune", parent=district, path="/1/2/")
        framework = Framework.objects.create(
            code="FW-M", name="Bộ chỉ số", year=2024, authority=district, unit_kind="commune"
        )
        criterion = Criterion.objects.create(
            framework=framework, code="1.2", title="Tiêu chí", max_points=5, order=1, depth=1, is_leaf=True
        )
        assessment = Assessment.objects.create(framework=framework, unit=commune)
        when = datetime(2024, 11, 5, 8, 30, tzinfo=UTC)
        score_row = OldEntry.objects.create(
            framework=framework,
            assessment=assessment,
            criterion=criterion,
            action="appraise",
            field="appraised_points",
            old_value="1",
            new_value="2.5",
            reason="Thiếu minh chứng",
            actor=actor,
            via="web",
        )
        framework_row = OldEntry.objects.create(
            framework=framework, action="framework_publish", via="command"
        )
        OldEntry.objects.filter(pk=score_row.pk).update(created_at=when)

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        NewEntry = apps.get_model("audit", "AuditEntry")
        copied = NewEntry.objects.get(pk=score_row.pk)
        assert (
            copied.framework_id,
            copied.framework_code,
            copied.assessment_id,
            copied.unit_id,
            copied.unit_code,
            copied.criterion_id,
            copied.criterion_code,
        ) == (framework.pk, "FW-M", assessment.pk, commune.pk, "X1", criterion.pk, "1.2")
        assert (
            copied.subject_type,
            copied.action,
            copied.field,
            copied.old_value,
            copied.new_value,
            copied.reason,
            copied.via,
        ) == ("score", "appraise", "appraised_points", "1", "2.5", "Thiếu minh chứng", "web")
        assert (copied.actor_id, copied.actor_name, copied.created_at) == (actor.pk, "Cán bộ Nội vụ", when)
        other = NewEntry.objects.get(pk=framework_row.pk)
        assert (
            other.subject_type,
            other.unit_code,
            other.criterion_id,
            other.actor_id,
            other.actor_name,
        ) == ("framework", "", None, None, "")
        # New rows get ids after the copied ones.
        assert NewEntry.objects.create(action="x", subject_type="unit").pk > framework_row.pk
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
