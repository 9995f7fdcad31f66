import pytest
from django.utils import translation

from units.models import Role, UnitKind

from .factories import make_member, make_unit


@pytest.fixture(autouse=True)
def _vietnamese_first():
    """Every test starts in Vietnamese, whatever language a previous test (or its client) switched to."""
    translation.activate("vi")
    yield
    translation.activate("vi")


@pytest.fixture
def province(db):
    return make_unit("T", kind=UnitKind.PROVINCE, name="Tỉnh Thử")


@pytest.fixture
def district(province):
    return make_unit("H", kind=UnitKind.DISTRICT, parent=province, name="Huyện Thử")


@pytest.fixture
def commune(district):
    return make_unit("X1", kind=UnitKind.COMMUNE, parent=district, name="Xã Một")


@pytest.fixture
def other_commune(district):
    return make_unit("X2", kind=UnitKind.COMMUNE, parent=district, name="Xã Hai")


@pytest.fixture
def officer(commune):
    """Unit officer of `commune`."""
    return make_member(commune, Role.OFFICER, "officer_x1")


@pytest.fixture
def other_officer(other_commune):
    """Unit officer of another commune."""
    return make_member(other_commune, Role.OFFICER, "officer_x2")


@pytest.fixture
def appraiser(district):
    return make_member(district, Role.APPRAISER, "appraiser")


@pytest.fixture
def leader(district):
    return make_member(district, Role.LEADER, "leader")
