"""The Content-Security-Policy in Chromium (issue 15 deliverable 5): over a walk of the main pages — the
dashboard with its charts, the areas heatmap, the self-assessment page with an htmx row save, the
appraisal page with an htmx row save, the framework pages, the council grid, the steering page and the
admin (including django-import-export's export page and an autocomplete field) — the browser reports no
CSP violation ("Refused to …" in the console), every page carries the policy, and what used to be inline
(charts, htmx, the council's criterion picker, the admin's "select all" box) still works.

A first step proves that the watcher sees a violation when there is one."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from scoring.assessments.services import assessment_get_or_create
from scoring.models import AssessmentStatus, Criterion, Framework, Score

from ..csp_checks import ADMIN_POLICY, POLICY, parse_policy
from ..factories import make_framework, rows_from_spec
from ..test_dashboards import TREE, bulk_units, bulk_year, publish
from .conftest import sign_in
from .test_year_walk import htmx_idle

pytestmark = pytest.mark.browser

CSP_WORDS = ("Content Security Policy", "Content-Security-Policy", "Refused to")


@pytest.fixture
def walk_data(district, commune, other_commune, officer, other_officer, appraiser, leader):
    """A published 2024 of 12 communes (dashboard, heatmap); an open 2025 where X1 is a draft (the
    officer's htmx row) and X2 is submitted (the appraiser's htmx row)."""
    units = [commune, other_commune, *bulk_units(district, 10, "C")]
    fw24 = make_framework(district, rows=rows_from_spec(TREE), year=2024, code="XA-2024")
    bulk_year(fw24, units, seed=24)
    publish(fw24)
    fw25 = make_framework(district, rows=rows_from_spec(TREE), year=2025, code="XA-2025")
    now = timezone.now()
    Framework.objects.filter(pk=fw25.pk).update(
        self_deadline=now + timedelta(days=10), appraisal_deadline=now + timedelta(days=20)
    )
    x1 = assessment_get_or_create(unit=commune, framework=fw25)
    (x2,) = bulk_year(fw25, [other_commune], seed=25, status=AssessmentStatus.SUBMITTED)
    bulk_year(fw25, units[2:], seed=26, status=AssessmentStatus.APPRAISED)
    leaf = Criterion.objects.filter(framework=fw25, is_leaf=True, source="self").order_by("order").first()
    get_user_model().objects.create_superuser("root", "root@example.gov.vn", "pw-12345")
    return {"x1": x1, "x2": x2, "leaf": leaf}


class Watcher:
    """The CSP messages of the browser's console, and the policy of every document loaded."""

    def __init__(self, page):
        self.page = page
        self.messages: list[str] = []
        self.documents: list[tuple[str, dict]] = []
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message):
        if any(word in message.text for word in CSP_WORDS):
            self.messages.append(f"{self.page.url}: {message.text}")

    def _response(self, response):
        if response.request.resource_type == "document":
            header = response.headers.get("content-security-policy", "")
            self.documents.append((response.url, parse_policy(header)))

    def visit(self, url: str):
        response = self.page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response and response.status}"
        return response


def test_the_watcher_sees_a_violation(new_page, live_server):
    page = new_page()
    watcher = Watcher(page)
    watcher.visit("/accounts/login/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p id=planted style=\"color: red\">x</p>')")
    page.locator("#planted").wait_for(state="attached")
    page.wait_for_timeout(300)
    assert any("inline style" in m and "Content Security Policy" in m for m in watcher.messages), (
        watcher.messages
    )
    assert page.evaluate("getComputedStyle(document.getElementById('planted')).color") != "rgb(255, 0, 0)"


def save_points(page, field: str, value: str, url_part: str):
    with page.expect_response(lambda r: r.request.method == "POST" and url_part in r.url) as answer:
        page.fill(field, value)
        page.press(field, "Tab")
    assert answer.value.status < 400, answer.value.text()[:300]
    htmx_idle(page)


def test_no_csp_violation_over_a_walk_of_the_main_pages(new_page, walk_data):
    x1, x2, leaf = walk_data["x1"], walk_data["x2"], walk_data["leaf"]

    # --- the officer: the self-assessment page, one row saved by htmx -------------------------------
    officer = new_page()
    seen = Watcher(officer)
    sign_in(officer, "officer_x1")
    seen.visit(f"/assessments/{x1.pk}/")
    officer.evaluate("document.querySelectorAll('details.area').forEach(d => { d.open = true; })")
    save_points(officer, f"#pts-{leaf.pk}", "3,5", "/rows/")
    officer.locator(f"#row-{leaf.pk} .saved").wait_for()
    assert Score.objects.get(assessment=x1, criterion=leaf).self_points == D("3.5")
    # htmx's indicator rules come from the stylesheet (it injected none): hidden until a request.
    assert officer.evaluate("document.querySelectorAll('head style').length") == 0
    seen.visit("/assessments/")
    seen.visit("/notifications/")

    # --- the appraiser: dashboards, heatmap, framework pages, council grid, appraisal with htmx ------
    appraiser = new_page()
    watched = Watcher(appraiser)
    sign_in(appraiser, "appraiser")
    watched.visit("/dashboards/?framework=XA-2024")
    appraiser.locator("canvas[data-chart][data-drawn=true]").first.wait_for()
    swatch = appraiser.locator("#ranking .swatch").first
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    watched.visit("/dashboards/frameworks/XA-2024/areas/")
    cell = appraiser.locator("#heatmap td.cell[class*=heat-]").first
    assert cell.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    for url in (
        "/dashboards/frameworks/XA-2025/progress/",
        "/dashboards/frameworks/XA-2025/forecast/",
        "/dashboards/frameworks/XA-2025/steering/",
        f"/dashboards/units/{x1.unit.code}/?framework=XA-2024",
        "/frameworks/XA-2025/",
        "/frameworks/XA-2025/criteria/",
        "/frameworks/XA-2025/survey/",
        "/frameworks/XA-2025/council/",
    ):
        watched.visit(url)
    watched.visit("/frameworks/XA-2025/criteria/")
    padding = appraiser.locator("td.indent-1").first.evaluate("e => getComputedStyle(e).paddingLeft")
    assert padding != "0px", padding

    # The council grid's criterion picker submits its form on change (a listener, no onchange=).
    watched.visit("/frameworks/XA-2025/council/grid/")
    picker = appraiser.locator("#criterion")
    second = picker.locator("option").nth(1).get_attribute("value")
    with appraiser.expect_navigation():
        picker.select_option(second)
    assert f"criterion={second}" in appraiser.url

    watched.visit(f"/assessments/{x2.pk}/appraisal/")
    row = Score.objects.get(assessment=x2, criterion=leaf)
    self_points = str(row.self_points).replace(".", ",")
    save_points(appraiser, f"#points-{leaf.pk}", self_points, "/appraisal/rows/")
    appraiser.locator(f"#row-{leaf.pk} .saved").wait_for()
    assert Score.objects.get(pk=row.pk).appraised_points == row.self_points

    # --- the administrator: Django's admin and django-import-export's pages ------------------------
    admin = new_page()
    managed = Watcher(admin)
    sign_in(admin, "root")
    for url in (
        "/admin/",
        "/admin/scoring/framework/",
        f"/admin/scoring/framework/{x1.framework_id}/change/",
        "/admin/scoring/criterion/",
        "/admin/scoring/score/",
        f"/admin/scoring/assessment/{x2.pk}/change/",
        "/admin/units/unit/",
        "/admin/units/unit/import/",
    ):
        managed.visit(url)
    # The exported fields' "select all" box: the one inline handler, allowed by its hash on /admin/ only.
    managed.visit("/admin/units/unit/export/")
    toggle = admin.locator("input.select-toggle")
    assert toggle.count() == 1
    assert admin.locator(".selectable-field-export-row input[type=checkbox]:checked").count() > 1
    toggle.uncheck()
    admin.wait_for_timeout(200)
    assert not admin.locator(".selectable-field-export-row input[type=checkbox]:checked").count()
    # An autocomplete field (select2 and jQuery): open it and search.
    managed.visit("/admin/units/membership/add/")
    admin.locator(".select2-selection").first.click()
    admin.locator(".select2-search__field").fill("X")
    admin.locator(".select2-results__option").first.wait_for()

    messages = seen.messages + watched.messages + managed.messages
    assert not messages, "CSP violations:\n" + "\n".join(messages)
    documents = seen.documents + watched.documents + managed.documents
    assert len(documents) >= 25
    for url, policy in documents:
        assert policy == (ADMIN_POLICY if "/admin/" in url else POLICY), url
