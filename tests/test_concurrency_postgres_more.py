"""Two real transactions on PostgreSQL for the checks added after the first concurrency merge (issue 15,
deliverable 1): "accept the self points" of an area against the rows its page showed, and an import's
confirm against the fields its preview showed. The second waits for the first (the assessment's row
lock), then sees its change and is refused (StaleEdit), writing nothing."""

from decimal import Decimal

import pytest
from django.db import connection

from scoring.assessments.services import (
    AppraisalEntry,
    SelfEntry,
    appraisal_accept_self,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_appraisal,
    scores_apply_self,
)
from scoring.concurrency import StaleEdit, row_snapshot
from scoring.models import Score
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec
from .test_concurrency_postgres import SPEC, _race, _row


@pytest.fixture
def scene(province):
    """A district's assessment self-scored by its officer; two appraisers of the province."""
    framework = make_framework(province, rows=rows_from_spec(SPEC), unit_kind=UnitKind.DISTRICT)
    unit = make_unit("D1", kind=UnitKind.DISTRICT, parent=province)
    officer = make_member(unit, Role.OFFICER, "officer_d1")
    appraiser = make_member(province, Role.APPRAISER, "appraiser_a")
    other = make_member(province, Role.APPRAISER, "appraiser_b")
    assessment = assessment_get_or_create(unit=unit, framework=framework)
    scores_apply_self(
        assessment=assessment,
        entries={
            "1.1": SelfEntry(Decimal("10"), note="Nghị quyết"),
            "1.2": SelfEntry(Decimal("20"), note="KH"),
        },
        actor=officer,
    )
    return assessment, officer, appraiser, other


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_accept_racing_an_appraisal_of_a_row_it_showed_waits_and_is_refused(scene):
    assert connection.vendor == "postgresql"
    assessment, officer, appraiser, other = scene
    assessment_submit(assessment=assessment, actor=officer)
    shown = {code: _row(assessment, code).version for code in ("1.1", "1.2")}

    def other_appraises():
        scores_apply_appraisal(
            assessment=assessment,
            entries={"1.2": AppraisalEntry(Decimal("15"), "Thiếu kế hoạch")},
            actor=other,
            versions={"1.2": shown["1.2"]},
        )

    def appraiser_accepts():
        return appraisal_accept_self(assessment=assessment, area_code="1", actor=appraiser, shown=shown)

    first, second, waited = _race(other_appraises, appraiser_accepts)
    assert first == {"value": "first"}
    assert waited, "the accept did not wait for the open appraisal"
    assert isinstance(second.get("error"), StaleEdit), second
    assert "appraiser_b" in second["error"].text("en") and "Thiếu kế hoạch" in second["error"].text("en")
    assert _row(assessment, "1.1").appraised_points is None  # nothing accepted
    assert _row(assessment, "1.2").appraised_points == Decimal("15")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_confirm_racing_a_change_of_a_field_it_writes_waits_and_is_refused(scene):
    assert connection.vendor == "postgresql"
    assessment, officer, appraiser, _other = scene
    previewed = {"1.1": row_snapshot(_row(assessment, "1.1"))}

    def appraiser_changes_points():
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(Decimal("9"), note="Theo biên bản")},
            actor=appraiser,
            on_behalf=True,
        )

    def confirm_writes():
        return scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(Decimal("12"))},
            actor=officer,
            expected=previewed,
        )

    first, second, waited = _race(appraiser_changes_points, confirm_writes)
    assert first == {"value": "first"} and waited
    assert isinstance(second.get("error"), StaleEdit), second
    row = Score.objects.get(assessment=assessment, criterion__code="1.1")
    assert (row.self_points, row.note) == (Decimal("9"), "Theo biên bản")
