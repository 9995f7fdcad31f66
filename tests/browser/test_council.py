"""The appraisal council in a browser (issue 13, deliverable 3): the appraiser forms the council from
the board (two members from another office, areas split between them); member A, the chair, appraises
area 1 for all units on the cross-unit grid (a difference refused until its reason is given); member B
sees only area 2 and is refused area 1; the chair marks the council's appraisal done and records the
minutes. Screenshots of each step go to test-artifacts/screenshots/test_the_council_splits_the_areas/."""

from decimal import Decimal as D

import pytest

from scoring.assessments.services import (
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    scores_apply_self,
)
from scoring.council.models import CouncilMember, CouncilMinutes, CouncilSignOff
from scoring.models import Score
from units.models import UnitKind

from ..factories import UserFactory, make_framework, make_unit, rows_from_spec
from .conftest import sign_in

pytestmark = pytest.mark.browser

TREE = [
    ("1", 30),
    ("1.1", 10),
    ("1.2", 20),
    ("2", 40),
    ("2.1", 15),
    ("2.2", 25),
    ("3", 30, "score", "survey"),
    ("3.1", 30, "score", "survey"),
]
SELF = {"1.1": D("10"), "1.2": D("18"), "2.1": D("12.5"), "2.2": D("20")}


@pytest.fixture
def round_(province, district, appraiser):
    framework = make_framework(district, rows=rows_from_spec(TREE), code="CCHC-HD")
    assessments = []
    for n in (1, 2, 3):
        unit = make_unit(f"X{n}", kind=UnitKind.COMMUNE, parent=district, name=f"Xã Số {n}")
        assessment = assessment_get_or_create(unit=unit, framework=framework)
        scores_apply_self(
            assessment=assessment,
            entries={code: SelfEntry(p, evidence_reference=f"QĐ {code}") for code, p in SELF.items()},
        )
        assessment_submit(assessment=assessment)
        assessments.append(assessment)
    make_unit("STP", kind=UnitKind.DEPARTMENT, parent=province, name="Sở Tư pháp")
    UserFactory(username="member_a", first_name="An", last_name="Nguyễn")
    UserFactory(username="member_b", first_name="Bình", last_name="Trần")
    leaf = {c.code: c.pk for c in framework.criteria.all()}
    return {"framework": framework, "assessments": assessments, "leaf": leaf}


def htmx_idle(page):
    page.wait_for_function("() => document.querySelectorAll('.htmx-request').length === 0")


def grid_save(page, action, expect_status=200):
    with page.expect_response(lambda r: r.request.method == "POST" and "/council/grid/" in r.url) as answer:
        action()
    assert answer.value.status == expect_status, answer.value.text()[:300]
    htmx_idle(page)


def add_member(page, username, role, area_index):
    page.click("#council-members details > summary")
    page.fill("#id_username", username)
    page.fill("#id_office", "STP")
    page.select_option("#id_role", role)
    page.check(f"#id_areas_{area_index}")
    with page.expect_navigation():
        page.click("#member-add button[type=submit]")


def test_the_council_splits_the_areas(new_page, screenshot, round_):
    framework, assessments, leaf = round_["framework"], round_["assessments"], round_["leaf"]
    council_url = f"/frameworks/{framework.code}/council/"

    # --- 1. The appraiser opens the council from the board and forms it ------------------------------
    office = new_page()
    sign_in(office, "appraiser")
    office.goto(f"/frameworks/{framework.code}/")
    with office.expect_navigation():
        office.click(f"a[href='{council_url}']")
    assert "Hội đồng thẩm định" in office.locator("h1").inner_text()
    add_member(office, "member_a", "chair", 0)  # area 1
    add_member(office, "member_b", "member", 1)  # area 2
    members = office.locator("#council-members").inner_text()
    assert "member_a" in members and "member_b" in members and "Sở Tư pháp" in members
    assert "Chủ tịch Hội đồng" in members
    assert [a.code for a in CouncilMember.objects.get(user__username="member_b").areas.all()] == ["2"]
    screenshot(office, "01-appraiser-forms-the-council")

    # --- 2. Member A (chair) appraises area 1 on the grid, one criterion for all units -----------------
    a = new_page()
    sign_in(a, "member_a")  # no role in any unit: lands on the frameworks, with a link to the council
    assert a.url.endswith("/frameworks/"), a.url
    with a.expect_navigation():
        a.click(f"a[href='{council_url}']")
    with a.expect_navigation():
        a.click("text=Thẩm định một tiêu chí cho tất cả đơn vị")
    options = a.locator("#criterion option").all_inner_texts()
    assert [o.split(".")[0] + "." + o.split(".")[1] for o in options] == ["1.1", "1.2"], options
    rows = a.locator("#grid tbody tr")
    assert rows.count() == 3 and "Xã Số 3" in a.locator("#grid").inner_text()
    # 1.1: the self points accepted row by row
    for assessment in assessments:
        grid_save(a, lambda pk=assessment.pk: a.click(f"#unit-{pk} button[name=accept_self]"))
        a.locator(f"#unit-{assessment.pk} .saved").wait_for()
    screenshot(a, "02-member-a-grid-1.1")

    # 1.2: a different figure for X2 is refused until the reason is given, then saved
    with a.expect_navigation():
        a.select_option("#criterion", str(leaf["1.2"]))
    x1, x2, x3 = assessments
    for assessment in (x1, x3):
        grid_save(a, lambda pk=assessment.pk: a.click(f"#unit-{pk} button[name=accept_self]"))
    grid_save(a, lambda: (a.fill(f"#points-{x2.pk}", "15,5"), a.press(f"#points-{x2.pk}", "Tab")))
    error = a.locator(f"#unit-{x2.pk} .field-error")
    assert "cần ghi lý do" in error.inner_text()
    assert Score.objects.get(assessment=x2, criterion_id=leaf["1.2"]).appraised_points is None
    screenshot(a, "03-member-a-reason-required")
    grid_save(
        a,
        lambda: (
            a.fill(f"#reason-{x2.pk}", "Kế hoạch ban hành chậm"),
            a.press(f"#reason-{x2.pk}", "Tab"),
        ),
    )
    a.locator(f"#unit-{x2.pk} .saved").wait_for()
    score = Score.objects.get(assessment=x2, criterion_id=leaf["1.2"])
    assert score.appraised_points == D("15.5") and score.appraisal_reason == "Kế hoạch ban hành chậm"
    assert "2,5" in a.locator(f"#unit-{x2.pk}").inner_text()  # the difference, shown with its sign
    screenshot(a, "04-member-a-grid-1.2-saved")

    # --- 3. Member B sees only area 2; area 1 is refused with the council's reason -----------------------
    b = new_page()
    sign_in(b, "member_b")
    b.goto(f"/frameworks/{framework.code}/council/grid/")
    options = b.locator("#criterion option").all_inner_texts()
    assert [o.split(".")[0] + "." + o.split(".")[1] for o in options] == ["2.1", "2.2"], options
    screenshot(b, "05-member-b-grid-area-2")
    b.goto(f"/frameworks/{framework.code}/council/grid/?criterion={leaf['1.1']}")
    assert "nằm ngoài các lĩnh vực được phân công" in b.locator("main").inner_text()
    screenshot(b, "06-member-b-refused-area-1", full_page=False)
    for code in ("2.1", "2.2"):
        b.goto(f"/frameworks/{framework.code}/council/grid/?criterion={leaf[code]}")
        for assessment in assessments:
            grid_save(b, lambda pk=assessment.pk: b.click(f"#unit-{pk} button[name=accept_self]"))
    assert (
        Score.objects.filter(criterion__code__in=["2.1", "2.2"], appraised_points__isnull=False).count() == 6
    )

    # --- 4. Member B cannot mark done; the chair does, and records the minutes --------------------------
    b.goto(council_url)
    assert b.locator("#council-status form").count() == 0
    a.goto(council_url)
    assert "0 tiêu chí" in a.locator("#council-status").inner_text()
    with a.expect_navigation():
        a.click("#council-status button.primary")
    assert "đã xác nhận hoàn thành" in a.locator("#council-status").inner_text()
    assert CouncilSignOff.objects.get(framework=framework).done_by.username == "member_a"
    a.click("#council-minutes details > summary")
    a.fill("#id_meeting_date", "2024-12-20")
    a.check("#id_present_0")
    a.check("#id_present_1")
    a.fill("#id_conclusions", "Hội đồng thống nhất kết quả thẩm định 3 xã.")
    with a.expect_navigation():
        a.click("#minutes-form button[type=submit]")
    minutes = a.locator("#council-minutes").inner_text()
    assert "20/12/2024" in minutes and "Hội đồng thống nhất" in minutes
    assert CouncilMinutes.objects.get(framework=framework).present.count() == 2
    screenshot(a, "07-chair-done-and-minutes")
    assert not new_page.errors, new_page.errors
