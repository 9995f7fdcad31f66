import pytest
from django.core.exceptions import ValidationError

from units.models import Unit, UnitKind
from units.selectors import unit_subtree
from units.services import unit_save

from .factories import make_unit


def test_paths_follow_the_tree_and_move_with_a_subtree(province, district, commune):
    assert commune.path == f"/{province.pk}/{district.pk}/{commune.pk}/"
    other = make_unit("H2", kind=UnitKind.DISTRICT, parent=province)
    unit_save(code="H", name=district.name, kind=district.kind, parent=other)
    commune.refresh_from_db()
    assert commune.path == f"/{province.pk}/{other.pk}/{district.pk}/{commune.pk}/"
    assert set(unit_subtree(other).values_list("code", flat=True)) == {"H2", "H", "X1"}


def test_a_unit_cannot_move_under_its_own_descendant(district, commune):
    with pytest.raises(ValidationError):
        unit_save(code="H", name="Huyện", kind=UnitKind.DISTRICT, parent=commune)


def test_predecessors_are_kept_for_mergers(district):
    a, b = make_unit("XA", parent=district), make_unit("XB", parent=district)
    merged = make_unit("XM", parent=district, predecessors=[a, b], active_from=2025)
    assert set(merged.predecessors.values_list("code", flat=True)) == {"XA", "XB"}
    assert set(Unit.objects.get(code="XA").successors.values_list("code", flat=True)) == {"XM"}
    assert merged.is_active_in(2025) and not merged.is_active_in(2024)
