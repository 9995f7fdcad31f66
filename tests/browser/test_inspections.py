"""An inspection in a browser (issue 17, deliverable 1): the appraiser plans it and schedules a visit of
X1 with a team (the leader from the Home Affairs office, a member from another office); the member records
a finding with evidence; the team leader shares the draft; X1's officer reads it and responds; the team
leader adds a recommendation and concludes; the officer reports the fix with evidence; the appraiser
closes it. Screenshots of each step go to test-artifacts/screenshots/test_an_inspection_from_plan_to_fix/."""

import re

import pytest
from django.utils import timezone

from scoring.assessments.services import assessment_get_or_create
from scoring.inspections.models import Recommendation, RecommendationStatus, VisitStatus
from units.models import Role, UnitKind

from ..factories import make_framework, make_member, make_unit, rows_from_spec
from .conftest import sign_in

pytestmark = pytest.mark.browser

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30), ("2.1", 30)]
PDF = {"name": "bien-ban.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n% inspection\n"}


@pytest.fixture
def setting(district, commune, officer, appraiser):
    framework = make_framework(
        district, rows=rows_from_spec(TREE), code="CCHC-KT", year=timezone.localdate().year
    )
    assessment_get_or_create(unit=commune, framework=framework)
    culture = make_unit("PVH", kind=UnitKind.DEPARTMENT, parent=district, name="Phòng Văn hóa")
    make_member(district, Role.APPRAISER, "truong_doan")
    make_member(culture, Role.OFFICER, "thanh_vien")
    return framework


def submit(page, selector):
    with page.expect_navigation():
        page.click(selector)


def test_an_inspection_from_plan_to_fix(new_page, screenshot, setting):
    year = timezone.localdate().year
    # --- 1. The appraiser plans, schedules the visit and sets the team ---------------------------------
    office = new_page()
    sign_in(office, "appraiser")
    office.goto("/inspections/")
    office.select_option("#id_authority", label="H — Huyện Thử")
    office.fill("#id_name", "Kế hoạch kiểm tra CCHC")
    office.fill("#id_document_number", "12/KH-UBND")
    submit(office, "#plan-create button[type=submit]")
    assert "Kế hoạch kiểm tra CCHC" in office.locator("h1").inner_text()
    office.fill("#visit-add #id_unit", "X1")
    office.fill("#visit-add #id_start_date", f"{year}-01-05")
    office.fill("#visit-add #id_end_date", f"{year}-01-07")
    submit(office, "#visit-add button[type=submit]")
    submit(office, "#visits a:has-text('Xã Một')")
    office.fill("textarea[name=members]", "truong_doan H\nthanh_vien PVH")
    office.fill("input[name=leader]", "truong_doan")
    submit(office, "#team-form button[type=submit]")
    team = office.locator("#team").inner_text()
    assert "truong_doan" in team and "Phòng Văn hóa" in team and "Trưởng đoàn".lower() in team.lower()
    visit_url = office.url
    screenshot(office, "01-appraiser-plans-and-sets-the-team")

    # --- 2. The member from another office records a finding with evidence -----------------------------
    member = new_page()
    sign_in(member, "thanh_vien")
    member.goto(visit_url)
    member.select_option(
        "#finding-add select[name=criterion]",
        label=member.locator("#finding-add select[name=criterion] option", has_text="1.1.").inner_text(),
    )
    member.fill("#finding-add textarea[name=text]", "Chưa niêm yết đầy đủ thủ tục hành chính")
    member.set_input_files("#finding-add input[name=files]", files=[PDF])
    submit(member, "#finding-add button[type=submit]")
    assert (
        "bien-ban.pdf" in member.locator("#findings").inner_text()
        or member.locator("#findings a.file").count() == 1
    )
    assert member.locator("#share").count() == 0  # sharing is the team leader's
    screenshot(member, "02-member-records-a-finding")

    # --- 3. The team leader shares the draft findings --------------------------------------------------
    lead = new_page()
    sign_in(lead, "truong_doan")
    lead.goto(visit_url)
    submit(lead, "#share button")
    assert "Đã thông báo dự thảo" in lead.locator("#visit-status").inner_text()
    screenshot(lead, "03-leader-shares-the-draft")

    # --- 4. X1's officer reads the draft and responds --------------------------------------------------
    unit = new_page()
    sign_in(unit, "officer_x1")
    unit.goto("/units/X1/inspections/")
    assert "Chưa niêm yết đầy đủ thủ tục hành chính" in unit.locator(".findings").inner_text()
    unit.fill("form.respond textarea[name=text]", "Xã tiếp thu, sẽ niêm yết trong tháng")
    submit(unit, "form.respond button[type=submit]")
    assert "Xã tiếp thu" in unit.locator(".response").inner_text()
    screenshot(unit, "04-unit-responds")

    # --- 5. The team leader adds a recommendation and concludes ----------------------------------------
    lead.goto(visit_url)
    assert "Xã tiếp thu" in lead.locator("#response").inner_text()
    lead.fill("#recommendation-add input[name=text]", "Niêm yết đầy đủ TTHC tại bộ phận một cửa")
    lead.fill("#recommendation-add input[name=owner]", "Chủ tịch UBND xã")
    lead.fill("#recommendation-add input[name=deadline]", f"{year}-12-31")
    submit(lead, "#recommendation-add button[type=submit]")
    lead.fill("#conclude textarea[name=text]", "Xã cơ bản thực hiện tốt công tác CCHC.")
    submit(lead, "#conclude button[type=submit]")
    assert "Đã kết luận" in lead.locator("#visit-status").inner_text()
    screenshot(lead, "05-leader-concludes")

    # --- 6. The officer reports the fix with evidence; the appraiser closes it -------------------------
    unit.goto("/units/X1/inspections/")
    unit.fill("form.report-fixed input[name=report]", "Đã niêm yết đầy đủ")
    unit.set_input_files("form.report-fixed input[name=file]", files=[{**PDF, "name": "anh-niem-yet.pdf"}])
    submit(unit, "form.report-fixed button[type=submit]")
    # The stored name keeps the upload's (storage adds a suffix when a run left a file of that name).
    assert re.search(r"anh-niem-yet(_\w+)?\.pdf", unit.locator(".recommendation").inner_text())
    screenshot(unit, "06-unit-reports-the-fix")
    office.goto(visit_url)
    submit(office, "#recommendations button:has-text('Đóng')")
    recommendation = Recommendation.objects.get()
    assert recommendation.status == RecommendationStatus.CLOSED
    assert recommendation.visit.status == VisitStatus.CONCLUDED
    screenshot(office, "07-appraiser-closes")
