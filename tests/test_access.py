"""The access rules of DESIGN §1, at the level of the helpers every view calls first."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from scoring import access
from scoring.services import (
    SelfEntry,
    assessment_extend_deadline,
    assessment_get_or_create,
    assessment_submit,
    framework_publish,
    scores_apply_self,
)
from units.models import Role, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

TREE = [("1", 100), ("1.1", 100)]


@pytest.fixture
def framework(district):
    return make_framework(district, rows=rows_from_spec(TREE))


@pytest.fixture
def mine(framework, commune):
    return assessment_get_or_create(unit=commune, framework=framework)


@pytest.fixture
def theirs(framework, other_commune):
    return assessment_get_or_create(unit=other_commune, framework=framework)


def test_officer_sees_only_their_own_unit(officer, mine, theirs):
    assert access.get_assessment_for_user(officer, mine.pk) == mine
    with pytest.raises(Http404):
        access.get_assessment_for_user(officer, theirs.pk)
    assert list(access.assessments_visible_to(officer)) == [mine]


def test_appraiser_and_leader_see_their_subtree_only(province, appraiser, leader, mine, theirs):
    elsewhere = make_unit("H2", kind=UnitKind.DISTRICT, parent=province)
    stranger_framework = make_framework(elsewhere, rows=rows_from_spec(TREE))
    stranger = assessment_get_or_create(unit=make_unit("Z1", parent=elsewhere), framework=stranger_framework)
    for user in (appraiser, leader):
        assert set(access.assessments_visible_to(user)) == {mine, theirs}
        with pytest.raises(Http404):
            access.get_assessment_for_user(user, stranger.pk)
        assert not access.can_view_framework(user, stranger_framework)
    assert list(access.frameworks_visible_to(appraiser)) == [mine.framework]


def test_only_appraisers_appraise_and_manage(appraiser, leader, officer, mine):
    assert access.get_assessment_for_appraisal(appraiser, mine.pk) == mine
    for user in (leader, officer):
        with pytest.raises(PermissionDenied):
            access.get_assessment_for_appraisal(user, mine.pk)
    with pytest.raises(PermissionDenied):
        access.get_framework_for_manager(leader, mine.framework.code)
    assert access.get_framework_for_manager(appraiser, mine.framework.code) == mine.framework


def test_self_edit_closes_on_submission_deadline_and_publication(framework, officer, appraiser, leader, mine):
    assert access.self_edit_refusal(officer, mine) is None
    assert access.self_edit_refusal(appraiser, mine) is None  # on the unit's behalf
    assert access.self_edit_refusal(leader, mine) is not None
    framework.self_deadline = timezone.now() - timedelta(hours=1)
    framework.save()
    mine.refresh_from_db()
    assert "hạn" in access.self_edit_refusal(officer, mine)
    assessment_extend_deadline(assessment=mine, until=timezone.now() + timedelta(days=2), reason="Mất điện")
    mine.refresh_from_db()
    assert access.self_edit_refusal(officer, mine) is None
    scores_apply_self(assessment=mine, entries={"1.1": SelfEntry(D("50"), note="Báo cáo")}, actor=officer)
    assessment_submit(assessment=mine, actor=officer)
    mine.refresh_from_db()
    with pytest.raises(PermissionDenied):
        access.get_assessment_for_self_edit(officer, mine.pk)
    framework_publish(framework=framework, decision_number="1/QĐ-UBND", decision_date=timezone.localdate())
    mine.refresh_from_db()
    assert access.self_edit_refusal(appraiser, mine) is not None
    assert access.appraisal_refusal(appraiser, mine) is not None


def test_membership_is_read_once_per_request(django_assert_num_queries, officer, mine):
    officer.refresh_from_db()
    with django_assert_num_queries(1):
        for _ in range(5):
            access.reach(officer)


def test_officer_of_a_unit_without_assessment_sees_no_framework(district, framework):
    lonely = make_member(make_unit("X7", parent=district), Role.OFFICER)
    assert not access.can_view_framework(lonely, framework)
