"""Permission matrix: every named URL × persona × method, generated from the URL conf.

The list of URLs comes from django.urls.get_resolver(), so a new URL is covered without anyone
remembering to add a test: it must get a row in EXPECTED (or a reason in SKIPPED), or this file fails.

The world: a framework of district H with assessments of communes X1 (one scored leaf with an evidence
file) and X2 (empty). Personas: the officer of X1, the officer of X2, the appraiser and the leader at H,
and anonymous. Each request runs in a fresh world twice: while the framework is open (X1's assessment a
draft) and after publication, when every change is refused.

Codes (STYLE.md): 404 for what the persona may not see, 403 for what they may see but not change,
405 for a method the URL does not take (pages are GET, changes POST), 302 to the login page for anonymous.
"""

import io
from datetime import date
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver

from reports.models import JobStatus, RemediationItem, ReportJob
from scoring.assessments.services import (
    SelfEntry,
    assessment_get_or_create,
    assessment_submit,
    evidence_add,
    scores_apply_self,
)
from scoring.council.models import CouncilRole
from scoring.council.services import council_member_add, minutes_record
from scoring.exchange.uploads import import_start
from scoring.exchange.workbooks import assessment_workbook
from scoring.inspections import services as inspection_services
from scoring.models import (
    Appeal,
    Assessment,
    AssessmentStatus,
    Criterion,
    Evidence,
    Framework,
    FrameworkStatus,
    ImportKind,
    ImportRecord,
    ImportStatus,
    Score,
)
from tests.publishing import walk_and_publish
from units.models import Membership, Role, Unit, UnitKind

from .factories import make_framework, make_member, make_unit, rows_from_spec

TREE = [("1", 70), ("1.1", 30), ("1.2", 40), ("2", 30, "score", "survey"), ("2.1", 30, "score", "survey")]
PERSONAS = ("officer", "other_officer", "appraiser", "leader", "anonymous")
STATES = ("open", "published")

# URLs that are not ParIndex pages, each with the reason it is left out.
SKIPPED_NAMESPACES = {
    "admin": "Django admin: staff only, Django's own permission checks (tests/test_admin.py)",
}
SKIPPED = {
    "login": "Django's auth view: public by design",
    "logout": "Django's auth view (POST only), public by design",
    "password_change": "Django's auth view, login_required by Django",
    "password_change_done": "Django's auth view, login_required by Django",
    "set_language": "Django's i18n view: public by design (language switch)",
    "health": "liveness probe for load balancers: public by design, no data",
}

# --- expectations --------------------------------------------------------------------------------------
LOGIN = "login"  # 302 to the login page with ?next=
OK = 200
REDIRECT = 302
HIDDEN = 404
REFUSED = 403
NOT_ALLOWED = 405
# The persona may make this change, but the request carries an empty body: the page answers with the form
# and its errors (200), a 400, or a redirect after doing what needs no input (302). Never 403/404/500.
ALLOWED = frozenset({200, 302, 400})


def each(value, **overrides):
    """The same expectation for every signed-in persona, anonymous sent to the login page."""
    row = dict.fromkeys(PERSONAS, value)
    row["anonymous"] = LOGIN
    row.update(overrides)
    return row


# --- the one rule ---------------------------------------------------------------------------------------
# Facts of the world below (DESIGN §1), not status codes: who sees what and who may do what.
SIGNED_IN = frozenset(PERSONAS) - {"anonymous"}
SEES_X1 = frozenset({"officer", "appraiser", "leader"})  # X1's officer, and the overseers of district H
FILLS_X1 = frozenset({"officer", "appraiser"})  # its self-assessment (the appraiser on the unit's behalf)
PLANS_X1 = frozenset({"officer", "appraiser"})  # its remediation plan (the appraiser corrects it)
APPRAISES = frozenset({"appraiser"})
SEES_FRAMEWORK = SIGNED_IN  # both officers' communes are assessed in it
OVERSEES = frozenset({"appraiser", "leader"})  # the framework's pages: every unit's figures
MANAGES = frozenset({"appraiser"})  # running the framework
NOBODY = frozenset()


def rule(sees, may, ok=OK):
    """STYLE.md, for every URL alike: 404 for a persona who does not see the object, 403 for one who sees
    it but may not do this, `ok` for the others; anonymous goes to the login page."""
    row = {persona: ok if persona in may else REFUSED if persona in sees else HIDDEN for persona in SIGNED_IN}
    row["anonymous"] = LOGIN
    return row


def read_post(get):
    """A read-only page may refuse POST (405) or answer it as a GET, changing nothing; either way it
    shows a persona no more than the GET does."""
    return {
        persona: value if value == LOGIN else frozenset({value, NOT_ALLOWED})
        for persona, value in get.items()
    }


def page(get, published_get=None, params=None):
    """A read-only page."""
    return change(
        get,
        read_post(get),
        published_get=published_get,
        published_post=read_post(published_get) if published_get else None,
        params=params,
    )


def change(
    get, post, published_post=None, published_get=None, status=AssessmentStatus.DRAFT, params=None, data=None
):
    """GET and POST expectations while the framework is open (X1's assessment in `status`, the one in
    which the change is made), and after publication (the same unless given). `params` maps a URL
    parameter to another object of the world than the one its name gives (e.g. pk → an import).
    POSTs carry an empty body, unless `data` gives one (where an empty body could only answer 404)."""
    return {
        "status": status,
        "params": params or {},
        "data": data or {},
        ("open", "GET"): get,
        ("open", "POST"): post,
        ("published", "GET"): published_get or get,
        ("published", "POST"): published_post or post,
    }


def post_only(sees, may, *, locked=True, **kwargs):
    """A change posted to a URL that takes no GET: ALLOWED for who may make it, and after publication
    (when `locked`) 403 for everybody who sees the object."""
    return change(
        get=each(NOT_ALLOWED),
        post=rule(sees, may, ALLOWED),
        published_post=rule(sees, NOBODY) if locked else None,
        **kwargs,
    )


def form(sees, may_read, may_change, *, locked=True, **kwargs):
    """A page with a form: GET for `may_read`, POST for `may_change`, locked after publication."""
    return change(
        get=rule(sees, may_read),
        post=rule(sees, may_change, ALLOWED),
        published_post=rule(sees, NOBODY) if locked else None,
        **kwargs,
    )


X1_PAGE = page(rule(SEES_X1, SEES_X1))
SELF_CHANGE = post_only(SEES_X1, FILLS_X1)
APPRAISAL_CHANGE = post_only(SEES_X1, APPRAISES, status=AssessmentStatus.SUBMITTED)
FRAMEWORK_PAGE = page(rule(SEES_FRAMEWORK, OVERSEES))  # every unit's figures: the overseers
FRAMEWORK_FORM = form(SEES_FRAMEWORK, MANAGES, MANAGES)  # running the framework: its appraisers

EXPECTED = {
    "home": change(get=each(REDIRECT), post=each(REDIRECT)),
    # the dashboard lists many units' results: an object-less page of overseers, nothing there for others
    "reports:dashboard": page(rule(OVERSEES, OVERSEES)),
    # self-assessment
    "scoring:my_assessments": page(rule(SIGNED_IN, SIGNED_IN)),
    "scoring:assessment_self": X1_PAGE,
    "scoring:self_row_save": SELF_CHANGE,
    "scoring:evidence_add": SELF_CHANGE,
    "scoring:explain_save": SELF_CHANGE,
    "scoring:assessment_submit": SELF_CHANGE,
    "scoring:evidence_download": X1_PAGE,
    "scoring:evidence_delete": SELF_CHANGE,
    # appraisal
    "scoring:assessment_appraise": page(rule(SEES_X1, APPRAISES)),
    "scoring:appraisal_row_save": APPRAISAL_CHANGE,
    "scoring:appraisal_accept": APPRAISAL_CHANGE,
    "scoring:appraisal_not_applicable": APPRAISAL_CHANGE,
    "scoring:assessment_return": form(SEES_X1, APPRAISES, APPRAISES, status=AssessmentStatus.SUBMITTED),
    "scoring:assessment_mark_appraised": APPRAISAL_CHANGE,
    "scoring:deadline_extend": APPRAISAL_CHANGE,
    "scoring:assessment_ranked": APPRAISAL_CHANGE,
    # frameworks
    "scoring:framework_list": page(rule(SIGNED_IN, SIGNED_IN)),
    "scoring:framework_board": FRAMEWORK_PAGE,
    "scoring:framework_activity": FRAMEWORK_PAGE,
    "scoring:survey_grid": form(SEES_FRAMEWORK, OVERSEES, MANAGES),  # the leader reads the survey points
    "scoring:framework_deadlines": FRAMEWORK_FORM,
    "scoring:framework_publish": FRAMEWORK_FORM,
    # the phase's steps: its appraisers; after publication only an administrator reopens
    "scoring:framework_step": post_only(SEES_FRAMEWORK, MANAGES),
    "scoring:framework_step_back": post_only(SEES_FRAMEWORK, MANAGES),
    "scoring:score_history": X1_PAGE,
    # spreadsheets (scoring/views/files.py): X1's workbook and a pending upload of it
    "scoring:assessment_template": X1_PAGE,
    "scoring:assessment_upload": form(SEES_X1, SEES_X1, FILLS_X1),  # who sees the assessment sees its uploads
    "scoring:import_detail": page(rule(SEES_X1, SEES_X1), params={"pk": "import_id"}),
    "scoring:import_file": page(rule(SEES_X1, SEES_X1), params={"pk": "import_id"}),
    "scoring:import_confirm": {**SELF_CHANGE, "params": {"pk": "import_id"}},
    "scoring:import_cancel": {**SELF_CHANGE, "params": {"pk": "import_id"}},
    "scoring:import_recheck": {**SELF_CHANGE, "params": {"pk": "failed_import_id"}},  # a failed upload
    # not tied to a framework: a change page of appraisers, the same after publication
    "scoring:framework_import": form(SIGNED_IN, MANAGES, MANAGES, locked=False),
    # copying to next year is fine from a published framework
    "scoring:framework_copy": form(SEES_FRAMEWORK, MANAGES, MANAGES, locked=False),
    "scoring:survey_upload": FRAMEWORK_FORM,
    "scoring:framework_export": FRAMEWORK_PAGE,
    # the criteria tree and how each leaf is scored: also the officers of the units it assesses
    "scoring:framework_criteria": page(rule(SEES_FRAMEWORK, SEES_FRAMEWORK)),
    # reports (dashboards, remediation, report jobs) of the framework: its overseers
    "reports:ranking_export": {**FRAMEWORK_PAGE, "params": {"fmt": "ranking_format"}},
    "reports:areas": FRAMEWORK_PAGE,
    "reports:areas_export": FRAMEWORK_PAGE,
    "reports:progress": FRAMEWORK_PAGE,
    "reports:progress_export": FRAMEWORK_PAGE,
    # after publication is when remediation is planned
    "reports:remediation_suggest": post_only(SEES_FRAMEWORK, MANAGES, locked=False),
    "reports:unit_profile": page(rule(SEES_X1, SEES_X1), params={"unit_code": "profile_unit"}),
    "reports:remediation_list": page(rule(SIGNED_IN, SIGNED_IN)),
    # the unit's officers fill in their plan, its appraisers may correct it
    "reports:remediation_edit": form(
        SEES_X1, SEES_X1, PLANS_X1, locked=False, params={"pk": "remediation_id"}
    ),
    # the list of "my reports" is an object-less page of overseers, like the dashboard
    "reports:job_list": page(rule(OVERSEES, OVERSEES)),
    "reports:job_request": post_only(
        SEES_FRAMEWORK, OVERSEES, locked=False, data={"framework": "FWM", "compare": ""}
    ),
    "reports:job_status": page(rule(SEES_FRAMEWORK, OVERSEES, REDIRECT), params={"pk": "job_id"}),
    "reports:job_download": page(rule(SEES_FRAMEWORK, OVERSEES), params={"pk": "job_id"}),
    "reports:job_retry": post_only(SEES_FRAMEWORK, OVERSEES, locked=False, params={"pk": "job_id"}),
    # opens an assessment of X3, which has none
    "scoring:assessment_start": post_only(SEES_FRAMEWORK, MANAGES),
}

# --- preliminary results and appeals (scoring.appeals) -----------------------------------------------------
# Whoever sees X1 reads its preliminary results and its appeals' evidence; only its officer lodges (the
# service then refuses an empty appeal, or the phase, with a 400 page); its appraisers answer (the phase
# refuses while the framework is open: a redirect with the message); a published framework answers 403.
EXPECTED |= {
    "scoring:assessment_preliminary": X1_PAGE,
    "scoring:appeal_lodge": post_only(SEES_X1, frozenset({"officer"})),
    "scoring:appeal_evidence": page(rule(SEES_X1, SEES_X1), params={"pk": "appeal_id"}),
    "scoring:appeal_answer": post_only(SEES_X1, APPRAISES, params={"pk": "appeal_id"}),
    "scoring:framework_appeals": FRAMEWORK_PAGE,
}

# --- forecast and what-if (issue 17): the forecast of every unit is the framework's overseers'; a unit's
# what-if is for whoever sees the unit (its officer, the appraiser and the leader above it) ---------------
EXPECTED |= {
    "reports:forecast": FRAMEWORK_PAGE,
    "reports:steering": FRAMEWORK_PAGE,
    "scoring:assessment_what_if": X1_PAGE,
}

# --- unit activity log: audited changes of units and memberships ----------------------------------------
# Appraisers read the trail of the units under their authority; the leader sees those units but not who
# changed them (403); officers have no units under them (404). Not tied to the framework's state.
EXPECTED |= {
    "scoring:unit_activity": page(each(HIDDEN, appraiser=OK, leader=REFUSED)),
}

# --- the province view: the province's appraisers and leaders only --------------------------------------
# Nobody of this world belongs to province T's office (the appraiser and leader are the district's):
# the view of the province and the way to it are hidden from all (tests/test_province_dashboard.py has
# the province's own personas).
EXPECTED |= {
    "reports:province_home": page(each(HIDDEN)),
    "reports:province": page(each(HIDDEN)),
}

# --- the appraisal council (scoring.council): its page for the overseers (and its members), its members
# and areas changed by the framework's appraisers, "done" by its chair alone (no persona is the chair), the
# minutes by its appraisers; the cross-unit grid for whoever appraises (the appraisers, the council).
EXPECTED |= {
    "scoring:council_page": FRAMEWORK_PAGE,
    "scoring:council_member_add": post_only(SEES_FRAMEWORK, MANAGES),
    "scoring:council_member_change": post_only(SEES_FRAMEWORK, MANAGES),
    "scoring:council_member_remove": post_only(SEES_FRAMEWORK, MANAGES),
    "scoring:council_done": post_only(SEES_FRAMEWORK, NOBODY),
    "scoring:council_minutes": post_only(SEES_FRAMEWORK, MANAGES),
    "scoring:council_minutes_file": FRAMEWORK_PAGE,
    "scoring:council_grid": page(rule(SEES_FRAMEWORK, MANAGES)),
    "scoring:council_grid_row": post_only(SEES_FRAMEWORK, APPRAISES, status=AssessmentStatus.SUBMITTED),
}

# --- in-app notifications (parindex.notices): each person's own, whatever the framework's state ----------
# The world holds no notification: opening one by any id is a 404 for everybody (nobody sees another's).
EXPECTED |= {
    "notices:list": page(rule(SIGNED_IN, SIGNED_IN)),
    "notices:open": change(get=each(NOT_ALLOWED), post=each(HIDDEN), params={"pk": "remediation_id"}),
    "notices:read_all": change(get=each(NOT_ALLOWED), post=each(REDIRECT)),
}


# --- inspections (scoring.inspections): a concluded visit of X1 by district H, its appraiser the team
# leader, its draft findings shared (so X1's officer sees it, on the unit's page only: 403 on the office's),
# a recommendation reported fixed. Plans and the office's pages: the overseers read, the appraiser acts;
# the team's acts are the appraiser's (the leader reads: 403); the unit's acts its officer's. Inspections
# do not depend on the framework's state.
INSPECTION_UNIT = frozenset({"officer"})
EXPECTED |= {
    "scoring:inspection_home": change(get=rule(OVERSEES, OVERSEES), post=rule(OVERSEES, MANAGES, ALLOWED)),
    "scoring:inspection_plan": change(get=rule(OVERSEES, OVERSEES), post=rule(OVERSEES, MANAGES, ALLOWED)),
    "scoring:inspection_visit_add": post_only(OVERSEES, MANAGES, locked=False),
    "scoring:inspection_visit": page(rule(SEES_X1, OVERSEES)),
    "scoring:inspection_team": post_only(SEES_X1, MANAGES, locked=False),
    "scoring:inspection_finding_add": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_finding_edit": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_finding_delete": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_finding_file": page(rule(SEES_X1, SEES_X1)),
    "scoring:inspection_share": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_respond": post_only(SEES_X1, INSPECTION_UNIT, locked=False),
    "scoring:inspection_response_file": page(rule(SEES_X1, SEES_X1)),
    "scoring:inspection_recommendation_add": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_recommendation_delete": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_conclude": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_fixed": post_only(SEES_X1, INSPECTION_UNIT, locked=False),
    "scoring:inspection_fix_file": page(rule(SEES_X1, SEES_X1)),
    "scoring:inspection_close": post_only(SEES_X1, APPRAISES, locked=False),
    "scoring:inspection_unit": page(rule(SEES_X1, SEES_X1), params={"unit_code": "profile_unit"}),
    "reports:inspection_remediation": post_only(SEES_X1, APPRAISES, locked=False),
}


def test_officers_who_see_the_framework_are_refused_alike_on_all_its_pages():
    """The rule, read off the table: on every URL of the framework (by its code) a persona who sees the
    framework never gets 404, whatever the page; they get 403 where they may not act."""
    framework_urls = [name for name, (_route, params) in ROUTES.items() if "code" in params]
    assert len(framework_urls) >= 10
    for name in framework_urls:
        for key in (("open", "GET"), ("open", "POST"), ("published", "GET"), ("published", "POST")):
            for persona in SEES_FRAMEWORK:
                expected = EXPECTED[name][key][persona]
                codes = expected if isinstance(expected, frozenset) else {expected}
                assert HIDDEN not in codes, f"{name} {key} {persona}"


# --- the URL conf --------------------------------------------------------------------------------------


def _walk(patterns, namespace=None, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield namespace, entry, prefix + str(entry.pattern)


def url_inventory():
    """[(full name, route, parameter names)] of every URL that the matrix covers; the rest are skipped
    with a reason above, and an unnamed URL outside a skipped namespace is a problem."""
    covered, problems = [], []
    for namespace, pattern, route in _walk(get_resolver().url_patterns):
        top = (namespace or "").split(":")[0]
        if top in SKIPPED_NAMESPACES:
            continue
        if not pattern.name:
            problems.append(f"unnamed URL {route!r}: name it so that the permission matrix can cover it")
            continue
        if not namespace and pattern.name in SKIPPED:
            continue
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        covered.append((name, route, tuple(pattern.pattern.converters)))
    return covered, problems


URLS, URL_PROBLEMS = url_inventory()
ROUTES = {name: (route, params) for name, route, params in URLS}


def test_the_url_conf_is_fully_named():
    assert not URL_PROBLEMS, "\n".join(URL_PROBLEMS)


def test_every_url_has_a_row_in_the_table():
    missing = sorted(name for name in ROUTES if name not in EXPECTED)
    assert not missing, (
        "New URLs need a decision in tests/test_permission_matrix.py EXPECTED (or SKIPPED with a reason): "
        + ", ".join(missing)
    )


def test_every_row_of_the_table_is_a_url():
    stale = sorted(name for name in EXPECTED if name not in ROUTES)
    assert not stale, "Rows for URLs that no longer exist: " + ", ".join(stale)


def test_the_matrix_covers_the_issue_pages():
    """A guard against a broken walk: the pages of the issue are all found."""
    assert {
        "home",
        "reports:dashboard",
        "scoring:assessment_self",
        "scoring:assessment_appraise",
        "scoring:framework_board",
        "scoring:framework_publish",
    } <= set(ROUTES)
    assert len(ROUTES) >= 23


# --- the world -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_base(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end; each test runs in a
    savepoint inside it (pytest-django's `db`), so what a test changes is undone before the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        district = make_unit("H", kind=UnitKind.DISTRICT, parent=make_unit("T", kind=UnitKind.PROVINCE))
        commune = make_unit("X1", kind=UnitKind.COMMUNE, parent=district, name="Xã Một")
        other_commune = make_unit("X2", kind=UnitKind.COMMUNE, parent=district, name="Xã Hai")
        users = {
            "officer": make_member(commune, Role.OFFICER, "officer_x1"),
            "other_officer": make_member(other_commune, Role.OFFICER, "officer_x2"),
            "appraiser": make_member(district, Role.APPRAISER, "appraiser"),
            "leader": make_member(district, Role.LEADER, "leader"),
            "anonymous": None,
        }
        framework = make_framework(district, rows=rows_from_spec(TREE), code="FWM")
        assessment = assessment_get_or_create(unit=commune, framework=framework)
        assessment_get_or_create(unit=other_commune, framework=framework)
        evidence = evidence_add(
            assessment=assessment,
            code="1.1",
            actor=users["officer"],
            upload=SimpleUploadedFile(
                "bien-ban.pdf", b"%PDF-1.4\n% matrix\n", content_type="application/pdf"
            ),
        )
        scores_apply_self(
            assessment=assessment,
            entries={"1.1": SelfEntry(D("12.5"), note="Đã có biên bản")},
            actor=users["officer"],
        )
        make_unit("X3", kind=UnitKind.COMMUNE, parent=district, name="Xã Ba")  # no assessment yet
        workbook = io.BytesIO()
        assessment_workbook(assessment=assessment).save(workbook)
        pending = import_start(
            kind=ImportKind.SELF,
            actor=users["officer"],
            assessment=assessment,
            upload=SimpleUploadedFile("tu-danh-gia-X1.xlsx", workbook.getvalue()),
        )
        assert pending.status == ImportStatus.PREVIEW, pending.problems
        failed = ImportRecord.objects.create(  # the same file, whose check was cut (checked again)
            kind=ImportKind.SELF,
            framework=framework,
            assessment=assessment,
            original_name=pending.original_name,
            file=pending.file.name,
            size=pending.size,
            requested_by=users["officer"],
            status=ImportStatus.FAILED,
        )
        remediation = RemediationItem.objects.create(
            assessment=assessment,
            criterion=Criterion.objects.get(framework=framework, code="1.1"),
            points_lost=D("0.4"),
        )
        job = ReportJob(
            framework=framework, status=JobStatus.SUCCEEDED, progress=100, requested_by=users["appraiser"]
        )
        job.file.save("bao-cao.xlsx", ContentFile(b"PK\x03\x04 report"), save=False)
        job.save()
        score = Score.objects.get(assessment=assessment, criterion__code="1.1")
        appeal = Appeal(
            framework=framework, assessment=assessment, criterion=score.criterion, text="Kiến nghị"
        )
        appeal.evidence_file.save("kien-nghi.pdf", ContentFile(b"%PDF-1.4 appeal"), save=False)
        appeal.save()
        chair = council_member_add(
            framework=framework,
            user=make_member(make_unit("SNV", kind=UnitKind.DEPARTMENT), Role.OFFICER, "council_chair"),
            unit=Unit.objects.get(code="SNV"),
            role=CouncilRole.CHAIR,
            areas=Criterion.objects.filter(framework=framework, code="1"),
        )
        minutes = minutes_record(
            framework=framework,
            meeting_date=date(2024, 12, 1),
            present=[chair],
            conclusions="Thống nhất kết quả thẩm định.",
            file=SimpleUploadedFile("bien-ban-hoi-dong.pdf", b"%PDF-1.4\n% council\n"),
        )
        inspection = _inspection_world(district, commune, framework)
        yield {
            "framework_id": framework.pk,
            "assessment_id": assessment.pk,
            "users": users,
            "kwargs": {
                "pk": assessment.pk,
                "criterion_id": score.criterion_id,
                "code": framework.code,
                "evidence_id": evidence.pk,
                "unit_code": "X3",
                "import_id": pending.pk,
                "failed_import_id": failed.pk,
                "profile_unit": "X1",
                "ranking_format": "csv",
                "remediation_id": remediation.pk,
                "job_id": job.pk,
                "province_code": "T",
                "appeal_id": appeal.pk,
                "member_id": chair.pk,
                "minutes_id": minutes.pk,
                **inspection,
            },
        }
        transaction.set_rollback(True)


def _inspection_world(district, commune, framework) -> dict:
    """A concluded inspection of X1 (see the EXPECTED block of inspections), run as the office (no actor)."""
    start = date(framework.year, 3, 2)
    plan = inspection_services.plan_create(authority=district, year=framework.year, name="Kế hoạch kiểm tra")
    visit = inspection_services.visit_schedule(plan=plan, unit=commune, start_date=start, end_date=start)
    appraiser = Membership.objects.get(unit=district, role=Role.APPRAISER).user
    inspection_services.team_set(visit=visit, members=[(appraiser, district)], leader=appraiser)
    finding = inspection_services.finding_add(
        visit=visit,
        text="Chưa niêm yết TTHC",
        files=[SimpleUploadedFile("kiem-tra.pdf", b"%PDF-1.4 finding")],
    )
    inspection_services.draft_share(visit=visit)
    inspection_services.visit_respond(
        visit=visit, text="Đã tiếp thu", file=SimpleUploadedFile("giai-trinh.pdf", b"%PDF-1.4 response")
    )
    recommendation = inspection_services.recommendation_add(
        visit=visit,
        text="Niêm yết TTHC",
        owner="UBND xã",
        deadline=start,
        criterion=Criterion.objects.get(framework=framework, code="1.1"),
    )
    inspection_services.visit_conclude(visit=visit, conclusion_date=start, text="Kết luận")
    inspection_services.recommendation_report_fixed(
        recommendation=recommendation,
        report="Đã niêm yết",
        file=SimpleUploadedFile("khac-phuc.pdf", b"%PDF-1.4 fix"),
        fix_date=start,
    )
    return {
        "plan_id": plan.pk,
        "visit_id": visit.pk,
        "finding_id": finding.pk,
        "file_id": finding.files.get().pk,
        "rec_id": recommendation.pk,
    }


@pytest.fixture
def world(world_base, db):
    """The module's world, with fresh model instances for this test."""
    return {
        **world_base,
        "framework": Framework.objects.get(pk=world_base["framework_id"]),
        "assessment": Assessment.objects.get(pk=world_base["assessment_id"]),
    }


def submit(world):
    assessment, officer = world["assessment"], world["users"]["officer"]
    scores_apply_self(
        assessment=assessment, entries={"1.2": SelfEntry(D("40"), note="Đủ hồ sơ")}, actor=officer
    )
    assessment_submit(assessment=assessment, actor=officer)
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.SUBMITTED


def publish(world):
    # The office answers the world's appeal before the results are final (a publication gate).
    Appeal.objects.filter(framework=world["framework"], status="lodged").update(
        status="refused", answer="Không có căn cứ."
    )
    walk_and_publish(
        framework=world["framework"],
        decision_number="4769/QĐ-UBND",
        decision_date=date(2024, 12, 21),
        actor=world["users"]["appraiser"],
    )
    world["framework"].refresh_from_db()
    assert world["framework"].status == FrameworkStatus.PUBLISHED


def describe(expected) -> str:
    if expected == LOGIN:
        return "302 to the login page"
    if isinstance(expected, frozenset):
        return " or ".join(str(code) for code in sorted(expected))
    return str(expected)


def check(response, expected, login_url) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and response["Location"].startswith(login_url + "?next=")
    if response.status_code == 302 and response["Location"].startswith(login_url):
        return False  # a signed-in persona is never sent to the login page
    if isinstance(expected, frozenset):
        return response.status_code in expected
    return response.status_code == expected


def url_of(name, world) -> str:
    route, params = ROUTES[name]
    sources = {p: EXPECTED.get(name, {}).get("params", {}).get(p, p) for p in params}
    unknown = [p for p, source in sources.items() if source not in world["kwargs"]]
    if unknown:
        pytest.fail(
            f"{name} ({route}) takes {unknown}: add them to the world fixture (or map them in `params`)"
        )
    return resolve_url(name, **{p: world["kwargs"][source] for p, source in sources.items()})


CASES = [
    pytest.param(name, persona, state, method, id=f"{name}-{persona}-{state}-{method}")
    for name in sorted(ROUTES)
    for persona in PERSONAS
    for state in STATES
    for method in ("GET", "POST")
]


@pytest.mark.parametrize(("name", "persona", "state", "method"), CASES)
def test_permission(client, world, name, persona, state, method):
    if name not in EXPECTED:
        pytest.fail(f"{name} has no row in EXPECTED: decide what each persona gets")
    url = url_of(name, world)
    if EXPECTED[name]["status"] == AssessmentStatus.SUBMITTED:
        submit(world)
    if state == "published":
        publish(world)
    user = world["users"][persona]
    if user is not None:
        client.force_login(user)
    response = client.get(url) if method == "GET" else client.post(url, EXPECTED[name]["data"])
    expected = EXPECTED[name][(state, method)][persona]
    login_url = resolve_url(settings.LOGIN_URL)
    got = response.status_code
    where = f" → {response['Location']}" if got in (301, 302) else ""
    hint = " (the page is still the 501 placeholder)" if got == 501 else ""
    assert check(response, expected, login_url), (
        f"{method} {url} ({name}) as {persona}, framework {state}: expected {describe(expected)}, "
        f"got {got}{where}{hint}"
    )


@pytest.mark.parametrize("persona", ["officer", "appraiser", "leader", "other_officer"])
def test_refused_posts_save_nothing(client, world, persona):
    """After publication every POST of every persona leaves the data as it was."""
    publish(world)
    assessment = world["assessment"]
    assessment.refresh_from_db()
    status = assessment.status
    before = (
        list(Score.objects.filter(assessment__framework=world["framework"]).order_by("pk").values()),
        Evidence.objects.count(),
    )
    client.force_login(world["users"][persona])
    for name in ROUTES:
        url = url_of(name, world)
        client.post(
            url,
            {
                "points": "1",
                "self_points": "1",
                "reason": "x",
                "message": "x",
                "decision_number": "1/QĐ",
                "decision_date": "2025-01-01",
            },
        )
    after = (
        list(Score.objects.filter(assessment__framework=world["framework"]).order_by("pk").values()),
        Evidence.objects.count(),
    )
    assert before == after
    assessment.refresh_from_db()
    assert assessment.status == status


@pytest.mark.parametrize(
    ("persona", "destination"),
    [
        ("officer", "scoring:my_assessments"),
        ("other_officer", "scoring:my_assessments"),
        ("appraiser", "scoring:framework_list"),
        ("leader", "reports:dashboard"),
    ],
)
def test_home_sends_each_persona_to_their_work(client, world, persona, destination):
    client.force_login(world["users"][persona])
    response = client.get(resolve_url("home"))
    assert (response.status_code, response["Location"]) == (302, resolve_url(destination))
