"""`manage.py load_demo`: idempotent, users for every role of DESIGN §5, and the true 2025 story
(§2.2): a province, two former districts with their published 2024 commune indexes, the merger of
their communes into new communes and wards (some across the two districts), a 2025 province-run
commune-level framework ranking communes and wards apart with one unit assessed but not ranked,
department frameworks; the open year on the realistic sets (scoring rules, mixed sources, official
codes, raw figures, not-applicable decisions, survey percentages) with year on year across the
reform, and one commune's result worked out by hand."""

import json
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import transaction

from parindex.audit.models import AuditEntry
from scoring.frameworks.rules import parse_rule
from scoring.models import (
    Assessment,
    AssessmentResult,
    AssessmentStatus,
    Criterion,
    CriterionSource,
    Framework,
    FrameworkStatus,
    GradeBand,
    Score,
    Via,
)
from units.models import Membership, Role, Unit

CENT = Decimal("0.01")
D = Decimal
DISTRICT_YEARS = ["DEMO-DT-XA-2024", "DEMO-TH-XA-2024"]
FIRST_YEAR = [*DISTRICT_YEARS, "DEMO-SO-2024"]
SECOND_YEAR = ["DEMO-XA-2025", "DEMO-SO-2025"]
DEPARTMENTS = ["SNV", "STC", "STP", "SVHTTDL", "SYT", "SXD", "SGDDT", "SNNMT"]
DONG_THANH = ["T01", *(f"X{n:02d}" for n in range(1, 9))]
TAY_HOA = ["T02", *(f"X{n:02d}" for n in range(9, 17))]
FORMED = {
    "P01": ["T01", "X01"],
    "P02": ["T02", "X09"],
    "P03": ["X02", "X10"],
    "P04": ["X11", "X12"],
    "X17": ["X03", "X04"],
    "X18": ["X06", "X13"],
    "X19": ["X07", "X08"],
    "X20": ["X14", "X15", "X16"],
}
MODELS = [
    Unit,
    Membership,
    get_user_model(),
    Framework,
    Criterion,
    GradeBand,
    Assessment,
    Score,
    AuditEntry,
    AssessmentResult,
]


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_once(django_db_setup, django_db_blocker):
    """The demo, loaded once for this module inside a transaction that is rolled back at its end;
    each test runs in a savepoint of it (the `db` fixture), so tests still cannot affect each other."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield load()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(demo_once, db):
    return demo_once


def counts():
    return {model.__name__: model._default_manager.count() for model in MODELS}


def test_second_run_changes_nothing(demo):
    before = counts()
    scores = list(
        Score.objects.order_by("pk").values_list("self_points", "appraised_points", "not_applicable")
    )
    units = list(Unit.objects.order_by("pk").values_list("code", "path", "updated_at"))
    output = load()
    assert counts() == before
    assert list(Unit.objects.order_by("pk").values_list("code", "path", "updated_at")) == units
    assert (
        list(Score.objects.order_by("pk").values_list("self_points", "appraised_points", "not_applicable"))
        == scores
    )
    assert "already present" in output


def test_output_lists_logins_and_frameworks(demo):
    for text in ("admin", "noivu", "lanhdao", "noivu_dt", "x01", "p01", "snv", "demo12345"):
        assert text in demo
    for code in FIRST_YEAR + SECOND_YEAR:
        assert code in demo


def test_users_of_every_role_log_in(demo):
    admin = authenticate(username="admin", password="demo12345")
    assert admin is not None and admin.is_superuser and admin.is_staff
    for username, role, unit in [
        ("noivu", Role.APPRAISER, "DEMO-T"),  # the province's Sở Nội vụ
        ("lanhdao", Role.LEADER, "DEMO-T"),
        ("noivu_dt", Role.APPRAISER, "DEMO-DT"),  # the former districts' Phòng Nội vụ (2024)
        ("noivu_th", Role.APPRAISER, "DEMO-TH"),
        ("x01", Role.OFFICER, "X01"),
        ("x05", Role.OFFICER, "X05"),
        ("p03", Role.OFFICER, "P03"),
        ("x20", Role.OFFICER, "X20"),
        ("snv", Role.OFFICER, "SNV"),
    ]:
        user = authenticate(username=username, password="demo12345")
        assert user is not None, username
        assert not user.is_staff
        assert Membership.objects.filter(user=user, role=role, unit__code=unit).exists(), username
    # One officer for every assessed demo unit, named after its code.
    assessed = Unit.objects.filter(code__in=DEPARTMENTS + DONG_THANH + TAY_HOA + list(FORMED))
    assert assessed.count() == 8 + 9 + 9 + 8
    for unit in assessed:
        assert Membership.objects.filter(
            user__username=unit.code.lower(), unit=unit, role=Role.OFFICER
        ).exists()


def test_province_former_districts_and_the_merger(demo):
    province = Unit.objects.get(code="DEMO-T")
    assert province.kind == "province" and province.home_affairs_office == "Sở Nội vụ tỉnh Sơn Hà"
    assert Unit.objects.filter(parent=province, kind="department").count() == 8
    for code, office, communes in (
        ("DEMO-DT", "Phòng Nội vụ huyện Đông Thành", DONG_THANH),
        ("DEMO-TH", "Phòng Nội vụ huyện Tây Hòa", TAY_HOA),
    ):
        district = Unit.objects.get(code=code)
        assert (district.kind, district.parent, district.active_to) == ("district", province, 2024)
        assert district.home_affairs_office == office
        units = {u.code: u for u in Unit.objects.filter(code__in=communes)}
        assert units[communes[0]].kind == "township"
        # Abolished communes stay under their former district as history; the one kept as it was
        # too, still active (its former district is its parent).
        for unit in units.values():
            assert unit.parent == district
            assert unit.active_to == (None if unit.code == "X05" else 2024), unit.code
    for code, predecessors in FORMED.items():
        unit = Unit.objects.get(code=code)
        assert (unit.parent, unit.active_from) == (province, 2025)
        assert unit.kind == ("ward" if code.startswith("P") else "commune")
        assert sorted(unit.predecessors.values_list("code", flat=True)) == predecessors
    # Some units are formed from communes of both former districts.
    for code in ("P03", "X18"):
        districts = set(Unit.objects.get(code=code).predecessors.values_list("parent__code", flat=True))
        assert districts == {"DEMO-DT", "DEMO-TH"}, code
    assert all(u.path.startswith(province.path) for u in Unit.objects.exclude(pk=province.pk))


def test_first_year_is_published_with_final_results(demo):
    for code in FIRST_YEAR:
        framework = Framework.objects.get(code=code)
        assert framework.status == FrameworkStatus.PUBLISHED
        assert framework.decision_number.endswith("/QĐ-UBND") and framework.decision_date
        assert framework.self_deadline and framework.appraisal_deadline
        assert list(framework.grade_bands.values_list("name", flat=True)) == [
            "Xuất sắc",
            "Tốt",
            "Khá",
            "Trung bình",
            "Yếu",
        ]
        results = AssessmentResult.objects.filter(framework=framework)
        assert results.count() == framework.assessments.count() >= 8
        assert not framework.assessments.exclude(status=AssessmentStatus.PUBLISHED).exists()
        for result in results:
            assert result.rank is not None and result.grade and not result.provisional
    # Each former district ran its own commune index: its communes and its township, ranked together,
    # appraised and published by its own Phòng Nội vụ.
    for code, district, communes, appraiser in (
        ("DEMO-DT-XA-2024", "DEMO-DT", DONG_THANH, "noivu_dt"),
        ("DEMO-TH-XA-2024", "DEMO-TH", TAY_HOA, "noivu_th"),
    ):
        framework = Framework.objects.get(code=code)
        assert framework.authority.code == district and framework.covered_kinds == ["commune", "township"]
        assert sorted(framework.assessments.values_list("unit__code", flat=True)) == sorted(communes)
        assert AuditEntry.objects.get(
            framework_id=framework.pk, action="framework_publish"
        ).actor.username == (appraiser)
    assert Framework.objects.get(code="DEMO-SO-2024").authority.code == "DEMO-T"
    # Realistic scores: some not applicable, some lowered on appraisal with a reason, survey entered,
    # bonus and penalty points given somewhere.
    scores = Score.objects.filter(assessment__framework__code__in=DISTRICT_YEARS)
    assert scores.filter(not_applicable=True).exists()
    lowered = [s for s in scores.exclude(appraisal_reason="") if s.appraised_points < s.self_points]
    assert lowered
    assert scores.filter(criterion__source="survey", appraised_points__gt=0).count() == 18 * 3
    results = AssessmentResult.objects.filter(framework__code__in=DISTRICT_YEARS)
    assert results.filter(bonus_points__gt=0).exists() and results.filter(penalty_points__gt=0).exists()
    assert len(set(results.values_list("index", flat=True))) > 10


def test_second_year_is_run_by_the_province_and_under_way(demo):
    for code in SECOND_YEAR:
        framework = Framework.objects.get(code=code)
        assert framework.status == FrameworkStatus.OPEN and framework.authority.code == "DEMO-T"
        statuses = list(framework.assessments.values_list("status", flat=True))
        assert statuses.count(AssessmentStatus.APPRAISED) >= 2
        assert AssessmentStatus.SUBMITTED in statuses and AssessmentStatus.DRAFT in statuses
        # Final results for the appraised units only.
        for result in AssessmentResult.objects.filter(framework=framework).select_related("assessment"):
            assert result.provisional == (result.assessment.status != AssessmentStatus.APPRAISED)
    commune = Framework.objects.get(code="DEMO-XA-2025")
    assert commune.covered_kinds == ["commune", "ward", "special_zone"]
    assert set(commune.assessments.values_list("unit__code", flat=True)) == {"X05", *FORMED}
    # Enough appraised units in each group for the ranking to mean something.
    assert commune.assessments.filter(status=AssessmentStatus.APPRAISED).count() == 7
    department = Framework.objects.get(code="DEMO-SO-2025")
    returned = department.assessments.get(status=AssessmentStatus.RETURNED)
    assert returned.return_message and returned.scores.exclude(explanation_request="").exists()


def test_the_province_ranks_wards_apart_and_one_unit_is_not_ranked(demo):
    commune = Framework.objects.get(code="DEMO-XA-2025")
    groups = {g.name: g.unit_kinds for g in commune.ranking_groups.all()}
    assert groups == {"Xã": ["commune", "special_zone"], "Phường": ["ward"]}
    for assessment in commune.assessments.select_related("unit", "ranking_group"):
        assert assessment.ranking_group.name == ("Phường" if assessment.unit.kind == "ward" else "Xã")
    not_ranked = commune.assessments.get(ranked=False)
    assert not_ranked.unit.code == "X20" and "không xếp hạng" in not_ranked.not_ranked_reason
    assert AssessmentResult.objects.get(assessment=not_ranked).rank is None
    out = StringIO()
    call_command("ranking", framework="DEMO-XA-2025", format="json", group="Phường", stdout=out)
    wards = json.loads(out.getvalue())
    assert {item["unit_code"] for item in wards} == {"P01", "P02", "P03", "P04"}
    assert sorted(item["rank"] for item in wards) == [1, 2, 3, 4]


def test_second_year_uses_the_realistic_sets_with_rules_sources_and_official_codes(demo):
    commune = Framework.objects.get(code="DEMO-XA-2025")
    leaves = {c.code: c for c in commune.criteria.filter(is_leaf=True)}
    assert leaves["1.1.2"].rule == "bands:100=1;80=0,5;0=0"
    assert leaves["1.2"].rule == "deduct:0,25" and leaves["1.4"].rule == "percent"
    assert leaves["1.6"].source == CriterionSource.SURVEY  # a survey criterion inside an area
    assert leaves["1.6"].parent.code == leaves["1.4"].parent.code == "1"
    assert leaves["1.4"].source == CriterionSource.SELF
    assert leaves["3.4"].source == CriterionSource.OFFICE and leaves["3.4"].rule.startswith("bands:")
    rule_kinds = {parse_rule(c.rule).kind for c in leaves.values()}
    assert rule_kinds == {"points", "steps", "yesno", "percent", "bands", "deduct"}
    assert sum(c.max_points for c in leaves.values() if c.kind == "score") == 100
    assert {c.kind for c in leaves.values()} == {"score", "bonus", "penalty"}
    # The 2024 district sets are the plain one: no rules, no office leaves.
    plain = Criterion.objects.filter(framework__code__in=DISTRICT_YEARS, is_leaf=True)
    assert set(plain.values_list("rule", flat=True)) == {""}
    assert not plain.filter(source=CriterionSource.OFFICE).exists()

    department = Framework.objects.get(code="DEMO-SO-2025")
    criteria = {c.code: c for c in department.criteria.select_related("parent")}
    assert criteria["I"].parent is None and criteria["1"].parent.code == "I"
    assert criteria["a1"].parent.code == "1" and criteria["a12"].parent.code == "12"
    # Order as in the file: I, 1, a1, b1, 2, …
    assert list(department.criteria.order_by("order").values_list("code", flat=True)[:5]) == [
        "I",
        "1",
        "a1",
        "b1",
        "2",
    ]


def test_second_year_figures_are_entered_as_the_rules_want(demo):
    scores = Score.objects.filter(assessment__framework__code__in=SECOND_YEAR).select_related(
        "criterion", "assessment"
    )
    raw_leaves = by_raw = 0
    for score in scores:
        rule = parse_rule(score.criterion.rule)
        if score.self_points is not None:
            if rule.takes_raw:
                raw_leaves += 1
                # Entered as a raw figure; the points are the rule's.
                assert score.self_raw, score.criterion.code
                assert score.self_points == rule.points(score.self_raw, score.criterion.max_points)
                by_raw += "/" in score.self_raw or "," in score.self_raw
            else:
                assert score.self_raw == ""
                assert rule.points_problem(score.self_points, score.criterion.max_points) is None
        if score.appraised_raw:
            assert score.appraised_points == rule.points(score.appraised_raw, score.criterion.max_points)
    assert raw_leaves > 100 and by_raw > 10  # fractions and decimal commas among them
    # Not-applicable proposals carry the unit's reason; the appraiser confirmed some, refused one
    # (then scored it, with a reason) and left some open in submitted assessments.
    proposals = scores.filter(not_applicable=True)
    assert proposals.exists() and not proposals.filter(not_applicable_reason="").exists()
    assert proposals.filter(appraised_not_applicable=True).exists()
    refused = proposals.get(appraised_not_applicable=False)
    assert refused.appraisal_reason and refused.appraised_points is not None
    open_ones = proposals.filter(appraised_not_applicable__isnull=True)
    assert open_ones.filter(assessment__status=AssessmentStatus.SUBMITTED).exists()
    # Appraised units: every office leaf scored by the office, the survey entered as percentages
    # with the sample size; no office or survey figure anywhere else.
    appraised = scores.filter(assessment__status=AssessmentStatus.APPRAISED)
    office = scores.filter(criterion__source=CriterionSource.OFFICE)
    assert office.exists() and not office.filter(appraised_points__isnull=True).exists()
    assert set(office.values_list("assessment__status", flat=True)) == {AssessmentStatus.APPRAISED}
    survey = appraised.filter(criterion__source=CriterionSource.SURVEY)
    assert survey.count() == 7 * 8 + 2 * 4  # 7 communes and wards × 8 survey leaves, 2 departments × 4
    assert not survey.filter(survey_sample__isnull=True).exists()
    assert (
        not scores.filter(criterion__source=CriterionSource.SURVEY)
        .exclude(assessment__status=AssessmentStatus.APPRAISED)
        .exists()
    )
    assert AuditEntry.objects.filter(action="not_applicable_decision", via=Via.COMMAND).exists()


def _results(code):
    return {
        r.assessment.unit.code: r
        for r in AssessmentResult.objects.filter(framework__code=code).select_related("assessment__unit")
    }


def _pooled(predecessors):
    points = sum(r.points for r in predecessors)
    index = (points * 100 / sum(r.max_points for r in predecessors)).quantize(CENT, ROUND_HALF_UP)
    return (points / len(predecessors)).quantize(CENT, ROUND_HALF_UP), index


def test_year_on_year_follows_own_results_and_predecessors_across_the_former_districts(demo):
    before = {**_results("DEMO-DT-XA-2024"), **_results("DEMO-TH-XA-2024")}
    now = _results("DEMO-XA-2025")
    for code, predecessors in FORMED.items():
        result = now[code]
        # Pooled: the predecessors' points averaged, their index pooled over their applicable max,
        # at the framework's 2 decimals, whichever former district assessed them.
        points, index = _pooled([before[p] for p in predecessors])
        assert (result.previous_points, result.previous_index) == (points, index), code
        assert result.points_change == result.points - points, code
        assert result.index_change == result.index.quantize(CENT) - index, code
    # The kept commune is compared with its own 2024 result in its former district's framework.
    x05 = now["X05"]
    assert (x05.previous_points, x05.previous_index) == (before["X05"].points, before["X05"].index)
    # Last year's places were held in the districts' rankings, not in the province's groups: no
    # change of place anywhere in 2025.
    assert all(r.previous_rank is None and r.rank_change is None for r in now.values())
    # Departments: the province's own ranking continues, and neither set had groups.
    departments = _results("DEMO-SO-2025")
    ranked = [r for r in departments.values() if r.rank is not None]
    assert all(r.previous_rank is not None and r.rank_change == r.previous_rank - r.rank for r in ranked)


def test_ranking_json_shows_group_ranked_and_change_for_merged_units(demo):
    out = StringIO()
    call_command("ranking", framework="DEMO-XA-2025", format="json", stdout=out)
    items = {item["unit_code"]: item for item in json.loads(out.getvalue())}
    assert {item["group"] for item in items.values()} == {"Xã", "Phường"}
    assert [code for code, item in items.items() if not item["ranked"]] == ["X20"]
    for code in FORMED:
        change = items[code]["change"]
        assert change is not None and change["points"] is not None and change["rank"] is None, code


@pytest.mark.parametrize("code", FIRST_YEAR + SECOND_YEAR)
def test_ranking_is_consistent(demo, code):
    results = list(
        AssessmentResult.objects.filter(framework__code=code, rank__isnull=False)
        .select_related("assessment__ranking_group")
        .order_by("rank")
    )
    assert results and results[0].rank == 1
    groups = {}
    for result in results:
        groups.setdefault(result.assessment.ranking_group_id, []).append(result)
    for members in groups.values():
        indices = [r.index for r in members]
        assert indices == sorted(indices, reverse=True)
        for position, result in enumerate(members):
            # Competition ranking within the group: one more than the number of strictly better indices.
            assert result.rank == 1 + sum(1 for other in members if other.index > result.index), position
    unranked = AssessmentResult.objects.filter(framework__code=code, rank__isnull=True)
    assert all(r.index is None or not r.assessment.ranked for r in unranked)


def test_every_write_is_audited_as_a_command(demo):
    assert AuditEntry.objects.exclude(via=Via.COMMAND).count() == 0
    commune = Framework.objects.get(code="DEMO-DT-XA-2024")
    assert AuditEntry.objects.filter(framework_id=commune.pk, action="framework_publish").count() == 1
    assert AuditEntry.objects.filter(framework_id=commune.pk, action="appraise").exclude(reason="").exists()
    appraiser = get_user_model().objects.get(username="noivu_dt")
    assert AuditEntry.objects.filter(framework_id=commune.pk, action="appraise", actor=appraiser).exists()
    assert AuditEntry.objects.filter(
        framework_id=commune.pk, action="self_score", actor__username="x01"
    ).exists()
    province_set = Framework.objects.get(code="DEMO-XA-2025")
    for action in ("framework_set_groups", "assessment_set_ranked"):
        assert AuditEntry.objects.filter(
            framework_id=province_set.pk, action=action, actor__username="noivu"
        ).exists()


@pytest.mark.django_db
def test_load_demo_sends_no_email_but_the_workflow_still_does(django_capture_on_commit_callbacks, mailoutbox):
    """The demo's submissions, returns and publications are history, not news: no e-mail. The mute is
    scoped to load_demo: the same workflow afterwards notifies as usual."""
    from scoring.assessments.services import assessment_return

    with django_capture_on_commit_callbacks(execute=True):
        load()
    assert mailoutbox == []
    submitted = Assessment.objects.filter(
        framework__code__in=SECOND_YEAR, status=AssessmentStatus.SUBMITTED
    ).first()
    assert submitted is not None, "the demo's second year has submitted assessments"
    with django_capture_on_commit_callbacks(execute=True):
        assessment_return(assessment=submitted, message="Đề nghị giải trình", actor=None)
    assert len(mailoutbox) == 1 and submitted.unit.name in mailoutbox[0].body


# --- one unit worked by hand ----------------------------------------------------------------------
# Xã Thanh Sơn (X05, the commune the reform kept) in DEMO-XA-2025 (framework-commune-2025.csv), appraised and surveyed. Each leaf:
# rule and max, what was entered (unit → appraiser), and the points by DESIGN §2.1, half-up to two
# decimals. "→" is the appraiser's figure where it replaced the unit's.
WORKED_POINTS = {
    # Area 1, max 10
    "1.1.1": D("1"),  # steps:0;0,5;1, max 1: 1 (a listed value)
    "1.1.2": D("0.5"),  # bands:100=1;80=0,5;0=0, max 1: 92 % → highest threshold ≤ 92 is 80 → 0,5
    "1.2": D("0.75"),  # deduct:0,25, max 1: 1 late report → 1 − 0,25 × 1 = 0,75
    "1.3": D("1"),  # yesno, max 1: có → 1
    "1.4": D("1.91"),  # percent, max 2: 191/200 = 95,5 % → 2 × 95,5 ÷ 100 = 1,91
    "1.5": D("0"),  # yesno, max 1: không → 0
    "1.6": D("2.55"),  # survey, max 3: 85 % → 3 × 85 ÷ 100 = 2,55
    # Area 2, max 8 − 2 (2.1 not applicable) = 6
    "2.1": None,  # percent, max 2: proposed not applicable with a reason, confirmed → leaves the sums
    "2.2": D("1"),  # steps:0;0,5;1;1,5, max 1,5: 1
    "2.3": D("1.5"),  # yesno, max 1,5: có → 1,5
    "2.4": D("0.75"),  # points, max 1: 0,75
    "2.5": D("1.57"),  # survey, max 2: 78,25 % → 2 × 78,25 ÷ 100 = 1,565 → 1,57 (half-up)
    # Area 3, max 16
    "3.1.1": D("1"),  # yesno, max 1: có → 1
    "3.1.2": D("0.96"),  # percent, max 1: 95,5 → 0,955 → 0,96 (half-up)
    "3.2.1": D("1.5"),  # bands:100=2;95=1,5;90=1;0=0, max 2: unit 100 (→ 2), appraiser 96,4 → 1,5
    "3.2.2": D("0.5"),  # percent, max 1: proposed N/A, refused; appraiser 1/2 = 50 % → 0,5
    "3.2.3": D("0.75"),  # deduct:0,25, max 1: unit 0 (→ 1), appraiser 1 file → 1 − 0,25 = 0,75
    "3.3": D("1.92"),  # percent, max 2: 48/50 = 96 % → 1,92
    "3.4": D("2"),  # office, bands:90=3;80=2;70=1;0=0, max 3: 86,5 → threshold 80 → 2
    "3.5": D("4.56"),  # survey, max 5: 91,2 % → 5 × 91,2 ÷ 100 = 4,56
    # Area 4, max 8
    "4.1": D("2"),  # yesno, max 2: có → 2
    "4.2": D("2"),  # steps:0;1;2: 2
    "4.3": D("1.5"),  # points, max 2: 1,5
    "4.4": D("1.6"),  # survey, max 2: 80 % → 1,6
    # Area 5, max 14
    "5.1": D("2"),  # yesno, max 2: có → 2
    "5.2": D("2"),  # steps:0;1;2: 2
    "5.3": D("1.84"),  # percent, max 2: 23/25 = 92 % → 1,84
    "5.4": D("1"),  # bands:100=2;80=1;0=0, max 2: 85 → threshold 80 → 1
    "5.5": D("2"),  # deduct:1, max 2: 0 occurrences → 2
    "5.6": D("3.35"),  # survey, max 4: 83,7 % → 3,348 → 3,35
    # Area 6, max 8
    "6.1": D("2.75"),  # points, max 3: 2,75
    "6.2": D("1.75"),  # percent, max 2: 87,6 → 1,752 → 1,75
    "6.3": D("1"),  # yesno, max 1: có → 1
    "6.4": D("1.5"),  # office, deduct:0,5, max 2: 1 finding → 2 − 0,5 = 1,5
    # Area 7, max 16
    "7.1.1": D("1.96"),  # percent, max 2: 97,8% → 1,956 → 1,96
    "7.1.2": D("2"),  # yesno, max 2: có → 2
    "7.2.1": D("2"),  # bands:80=3;60=2;40=1;0=0, max 3: 64,2 → threshold 60 → 2
    "7.2.2": D("2.36"),  # office, percent, max 3: 78,5 → 2,355 → 2,36 (half-up)
    "7.3": D("0.7"),  # percent, max 2: 35 → 0,7
    "7.4": D("2.9"),  # survey, max 4: 72,4 % → 2,896 → 2,90
    # Area 8, max 20
    "8.1": D("5.32"),  # survey, max 6: 88,6 % → 5,316 → 5,32
    "8.2": D("3.45"),  # survey, max 4: 86,25 % → 3,45
    "8.3": D("2"),  # office, bands:100=3;90=2;0=0, max 3: 96,8 → threshold 90 → 2
    "8.4": D("3"),  # yesno, max 3: có → 3
    "8.5": D("3.4"),  # percent, max 4: 17/20 = 85 % → 3,4
    # Bonus (cap 3)
    "9.1": D("1"),  # yesno, max 1: có → 1
    "9.2": D("0"),  # steps:0;1;2: 0
    # Penalty (cap 4), scored by the office
    "10.1": D("0"),  # office, yesno, max 2: không → 0
    "10.2": D("0.5"),  # office, points, max 2: 0,5 (one late report)
}
# Raw figures as stored: (the unit's, the appraiser's) for some leaves worked above from a figure;
# a figure the appraiser accepted is stored as appraised too.
WORKED_RAW = {
    "1.1.2": ("92", "92"),
    "1.2": ("1", "1"),
    "1.4": ("191/200", "191/200"),
    "3.2.1": ("100", "96,4"),
    "3.2.2": ("", "1/2"),
    "3.2.3": ("0", "1"),
    "3.4": ("", "86,5"),
    "7.1.1": ("97,8%", "97,8%"),
    "7.2.2": ("", "78,5"),
}
# Sums by hand, by area (points / applicable max):
#   1: 1 + 0,5 + 0,75 + 1 + 1,91 + 0 + 2,55                 =  7,71 / 10
#   2: 1 + 1,5 + 0,75 + 1,57                                 =  4,82 /  6  (2.1 out: 8 − 2)
#   3: 1 + 0,96 + 1,5 + 0,5 + 0,75 + 1,92 + 2 + 4,56         = 13,19 / 16
#   4: 2 + 2 + 1,5 + 1,6                                     =  7,10 /  8
#   5: 2 + 2 + 1,84 + 1 + 2 + 3,35                           = 12,19 / 14
#   6: 2,75 + 1,75 + 1 + 1,5                                 =  7,00 /  8
#   7: 1,96 + 2 + 2 + 2,36 + 0,7 + 2,90                      = 11,92 / 16
#   8: 5,32 + 3,45 + 2 + 3 + 3,4                             = 17,17 / 20
#   score points 7,71 + 4,82 + 13,19 + 7,10 + 12,19 + 7,00 + 11,92 + 17,17 = 81,10 of 98
# By source (score leaves):
#   survey: 2,55 + 1,57 + 4,56 + 1,6 + 3,35 + 2,90 + 5,32 + 3,45 = 25,30
#   office: 2 (3.4) + 1,5 (6.4) + 2,36 (7.2.2) + 2 (8.3)       =  7,86
#   self (final, appraised where appraised): 81,10 − 25,30 − 7,86 = 47,94
# Bonus 1 + 0 = 1 (within its cap 3); penalty 0 + 0,5 = 0,5 (within its cap 4).
# Total points = 81,10 + 1 − 0,5 = 81,60; applicable max = 100 − 2 (2.1) = 98
# Index = 81,60 ÷ 98 × 100 = 83,265… → 83,27 (two decimals) → "Tốt" (80 ≤ index < 90).
# The unit's own self-assessed part: 47,94 with its own 2 (3.2.1), 0 (3.2.2, proposed N/A) and
# 1 (3.2.3) instead of 1,5, 0,5 and 0,75: 47,94 + 0,5 − 0,5 + 0,25 = 48,19 of 59 − 2 = 57.
WORKED_AREAS = [
    ("1", "7.71", "10.00"),
    ("2", "4.82", "6.00"),
    ("3", "13.19", "16.00"),
    ("4", "7.10", "8.00"),
    ("5", "12.19", "14.00"),
    ("6", "7.00", "8.00"),
    ("7", "11.92", "16.00"),
    ("8", "17.17", "20.00"),
]
WORKED_PARTS = {"self": "47.94", "survey": "25.30", "office": "7.86", "bonus": "1.00", "penalty": "0.50"}


def test_one_commune_worked_by_hand_matches_the_stored_result_and_the_ranking(demo):
    # The hand sums above agree with the leaf table (a slip in a comment would show here).
    leaves = {c.code: c for c in Criterion.objects.filter(framework__code="DEMO-XA-2025", is_leaf=True)}
    assert set(WORKED_POINTS) == set(leaves)

    scored = {code: p for code, p in WORKED_POINTS.items() if p is not None}

    def total(kind, source=None):
        return sum(
            (p for c, p in scored.items() if leaves[c].kind == kind and source in (None, leaves[c].source)),
            D("0"),
        )

    assert (total("score"), total("bonus"), total("penalty")) == (D("81.10"), D("1"), D("0.5"))
    assert (total("score", "survey"), total("score", "office")) == (D("25.30"), D("7.86"))
    assert total("score", "self") == D("47.94")
    assert sum(leaves[c].max_points for c in leaves if leaves[c].kind == "score" and c in scored) == 98

    # The program's figures, leaf by leaf.
    assessment = Assessment.objects.get(framework__code="DEMO-XA-2025", unit__code="X05")
    assert assessment.status == AssessmentStatus.APPRAISED
    scores = {s.criterion.code: s for s in assessment.scores.select_related("criterion")}
    for code, points in WORKED_POINTS.items():
        score = scores[code]
        if points is None:
            assert score.is_not_applicable and score.not_applicable_reason, code
            continue
        assert not score.is_not_applicable, code
        final = score.appraised_points if score.appraised_points is not None else score.self_points
        assert final == points, code
    for code, (unit_raw, appraised_raw) in WORKED_RAW.items():
        assert (scores[code].self_raw, scores[code].appraised_raw) == (unit_raw, appraised_raw), code
    assert scores["3.2.2"].appraised_not_applicable is False and scores["3.2.2"].appraisal_reason
    assert scores["2.1"].appraised_not_applicable is True
    assert scores["3.5"].survey_sample == 150

    result = AssessmentResult.objects.get(assessment=assessment)
    assert not result.provisional
    assert (result.points, result.max_points, result.index, result.grade) == (
        D("81.60"),
        D("98"),
        D("83.27"),
        "Tốt",
    )
    assert (
        result.self_part_points,
        result.survey_points,
        result.office_points,
        result.bonus_points,
        result.penalty_points,
    ) == (D("47.94"), D("25.30"), D("7.86"), D("1"), D("0.5"))
    assert (result.self_points, result.self_max_points) == (D("48.19"), D("57"))

    out = StringIO()
    call_command("ranking", framework="DEMO-XA-2025", format="json", stdout=out)
    item = next(i for i in json.loads(out.getvalue()) if i["unit_code"] == "X05")
    assert (item["points"], item["max_points"], item["index"], item["grade"], item["provisional"]) == (
        "81.60",
        "98.00",
        "83.27",
        "Tốt",
        False,
    )
    assert item["parts"] == WORKED_PARTS
    assert [(a["code"], a["points"], a["max_points"]) for a in item["areas"]] == WORKED_AREAS
