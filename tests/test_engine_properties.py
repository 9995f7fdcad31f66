"""The SQL engine (scoring.results.engine) agrees exactly with the reference model (scoring.results.reference).

Hypothesis generates frameworks (areas of score, bonus and penalty leaves whose sources self, survey
and office mix within an area; 0–4 index decimals; grade bands; the index capped or not; the survey
required or optional), 1–8 units with statuses, not-applicable proposals and the appraiser's
decisions on them (confirmed, refused, imposed), self/appraised points (some leaves unscored, some
units tied), ranking groups (some units in none) and units assessed but not ranked, builds them in the database (the framework through the
framework service, assessments and scores in bulk), recomputes, and compares every stored figure
with the reference. Each example runs in its own rolled-back transaction. Runs on SQLite and,
with DATABASE_URL=postgres://…, on PostgreSQL.
"""

import os
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from scoring.frameworks.services import Band, CriterionRow, framework_create
from scoring.models import AreaResult, Assessment, AssessmentResult, Criterion, Framework, RankingGroup, Score
from scoring.results import reference as ref
from scoring.results.engine import results_recompute
from units.models import UnitKind

from .factories import make_unit

settings.register_profile(
    "engine",
    max_examples=int(os.environ.get("ENGINE_EXAMPLES", 500)),
    deadline=None,
    database=None,  # no example database: every run draws afresh
    suppress_health_check=[HealthCheck.too_slow],
)

STATUSES = ["draft", "submitted", "returned", "appraised", "published"]
MAX_UNITS = 8


def hundredths(low: int, high: int):
    return st.integers(low, high).map(lambda c: D(c).scaleb(-2))


@st.composite
def frameworks(draw) -> ref.Framework:
    """1–4 areas of 1–4 leaves; a score area mixes self, survey and office leaves and may hold a bonus
    or penalty leaf; bonus and penalty areas have leaves of their own kind (self or office). Max
    points up to 2 decimals."""
    leaves, areas = [], {}
    for a in range(1, draw(st.integers(1, 4)) + 1):
        kind = draw(st.sampled_from(["score", "score", "score", "bonus", "penalty"]))
        areas[str(a)] = kind
        count = draw(st.integers(1, 4))
        area_is_leaf = count == 1 and draw(st.booleans())
        for i in range(1, count + 1):
            leaf_kind = kind
            if kind == "score" and count > 1 and draw(st.integers(0, 5)) == 0:
                leaf_kind = draw(st.sampled_from(["bonus", "penalty"]))
            if leaf_kind == "score":
                source = draw(st.sampled_from(["self", "self", "survey", "office"]))
            else:
                source = draw(st.sampled_from(["self", "self", "office"]))
            max_points = draw(st.one_of(hundredths(0, 3000), st.sampled_from([D("1"), D("10"), D("0.01")])))
            code = str(a) if area_is_leaf else f"{a}.{i}"
            leaves.append(
                ref.Leaf(code=code, area=str(a), max_points=max_points, kind=leaf_kind, source=source)
            )
    minimums = draw(
        st.lists(
            st.one_of(
                st.integers(0, 100_000).map(lambda m: D(m).scaleb(-3)),
                st.sampled_from([D(0), D(50), D(70), D(80), D(90), D(100)]),
            ),
            max_size=5,
            unique=True,
        )
    )
    bands = tuple(ref.Band(f"G{n}", m) for n, m in enumerate(minimums))
    return ref.Framework(
        leaves=tuple(leaves),
        areas=areas,
        decimals=draw(st.integers(0, 4)),
        bands=bands,
        index_cap=draw(st.sampled_from([ref.HUNDRED, ref.HUNDRED, None])),
        survey_optional=draw(st.booleans()),
    )


def points_for(leaf: ref.Leaf):
    cents = int(leaf.max_points * 100)
    return st.one_of(st.none(), st.just(leaf.max_points), st.just(D(0)), hundredths(0, cents))


@st.composite
def leaf_scores(draw, leaf: ref.Leaf) -> ref.LeafScore:
    # Survey and office points are the office's: they live in appraised_points, never in self_points.
    self_points = None if leaf.source != "self" else draw(points_for(leaf))
    appraised = draw(st.one_of(st.none(), points_for(leaf))) if draw(st.booleans()) else None
    return ref.LeafScore(
        self_points,
        appraised,
        not_applicable=draw(st.integers(0, 5)) == 0,
        # The appraiser's decision: mostly undecided; confirmed or imposed (True), refused (False).
        appraised_not_applicable=draw(st.sampled_from([None, None, None, True, False])),
    )


@st.composite
def cases(draw):
    framework = draw(frameworks())
    sheets = []
    for _ in range(draw(st.integers(1, MAX_UNITS))):
        if sheets and draw(st.integers(0, 3)) == 0:  # a copy of an earlier unit: a tie
            sheet = draw(st.sampled_from(sheets))
        else:
            sheet = {
                leaf.code: draw(leaf_scores(leaf)) for leaf in framework.leaves if draw(st.integers(0, 6))
            }
        sheets.append(sheet)
    # Ranking groups: none, or 2–3 groups with some units in no group; some units assessed but not ranked.
    group_count = draw(st.sampled_from([0, 0, 2, 3]))
    groups = [None, *[f"G{g}" for g in range(1, group_count + 1)]] if group_count else [None]
    assessments = [
        ref.Assessment(
            key=n,
            scores=s,
            status=draw(st.sampled_from(STATUSES)),
            group=draw(st.sampled_from(groups)),
            ranked=draw(st.integers(0, 5)) > 0,
        )
        for n, s in enumerate(sheets)
    ]
    return framework, assessments


def criterion_rows(framework: ref.Framework) -> list[CriterionRow]:
    """Every row of source self: the sources of the leaves are set afterwards (mixed in an area)."""
    rows = []
    for area, kind in framework.areas.items():
        leaves = [leaf for leaf in framework.leaves if leaf.area == area]
        if leaves[0].code != area:  # an area holding leaves: its max is theirs
            total = sum((leaf.max_points for leaf in leaves), D(0))
            rows.append(CriterionRow(code=area, title=f"Lĩnh vực {area}", max_points=total, kind=kind))
        rows += [
            CriterionRow(
                code=leaf.code,
                title=f"Tiêu chí {leaf.code}",
                max_points=leaf.max_points,
                kind=leaf.kind,
            )
            for leaf in leaves
        ]
    return rows


def figures_of(result, areas) -> dict:
    """The stored figures of one assessment, in the reference model's terms."""
    return {
        "self_points": result.self_points,
        "score_points": result.score_points,
        "bonus_points": result.bonus_points,
        "penalty_points": result.penalty_points,
        "points": result.points,
        "max_points": result.max_points,
        "index": result.index,
        "grade": result.grade,
        "rank": result.rank,
        "provisional": result.provisional,
        "leaves_applicable": result.leaves_applicable,
        "leaves_scored": result.leaves_scored,
        **{name: getattr(result, name) for name in PART_FIGURES},
        "areas": {a.area.code: (a.self_points, a.points, a.max_points, a.index, a.rank) for a in areas},
    }


FIGURES = (
    "self_points score_points bonus_points penalty_points points max_points index grade rank provisional"
)
PART_FIGURES = [
    "self_part_points",
    "survey_points",
    "office_points",
    "self_max_points",
    "self_index",
    "self_leaves_applicable",
    "self_leaves_scored",
    "survey_leaves_applicable",
    "survey_leaves_scored",
    "office_leaves_applicable",
    "office_leaves_scored",
]
UNIT_FIGURES = (*FIGURES.split(), "leaves_applicable", "leaves_scored", *PART_FIGURES)


def expected_of(figures: ref.UnitFigures) -> dict:
    out = {name: getattr(figures, name) for name in UNIT_FIGURES}
    out["areas"] = {
        code: (a.self_points, a.points, a.max_points, a.index, a.rank) for code, a in figures.areas.items()
    }
    return out


def label(framework: ref.Framework, assessments: list[ref.Assessment], expected: dict) -> None:
    """Name what the example exercises (shown by --hypothesis-show-statistics)."""
    for a in assessments:
        for s in a.scores.values():
            if s.not_applicable and s.appraised_not_applicable is False:
                event("N/A refused")
            elif not s.not_applicable and s.appraised_not_applicable:
                event("N/A imposed")
    for figures in expected.values():
        if (
            framework.survey_optional
            and figures["survey_leaves_applicable"]
            and not figures["survey_leaves_scored"]
        ):
            event("no survey: indexed on the remaining max")
        if figures["office_leaves_scored"]:
            event("office leaves scored")
        if figures["index"] is None:
            event("a unit without index")
        elif figures["index"] > 100:
            event("index above 100 (not capped)")
        elif figures["points"] > figures["max_points"]:
            event("index clamped at 100")
        elif figures["points"] < 0:
            event("index clamped at 0")
    ranks = [f["rank"] for f in expected.values() if f["rank"] is not None]
    if len(ranks) != len(set(ranks)):
        event("units tied (or equal places in different groups)")
    if any(a.group is not None for a in assessments):
        event("ranking groups")
    if any(not a.ranked for a in assessments):
        event("a unit assessed but not ranked")


def differences(actual: dict, expected: dict) -> list:
    """(unit, figure, engine, reference) for every figure that differs; [] when they agree."""
    out = [(key, None, "missing", None) for key in expected if key not in actual]
    for key, figures in expected.items():
        out += [
            (key, name, actual.get(key, {}).get(name), value)
            for name, value in figures.items()
            if key in actual and actual[key].get(name) != value
        ]
    return out


def engine_figures(authority, units, framework: ref.Framework, assessments: list[ref.Assessment]) -> dict:
    """Build the case in the database, run the SQL engine, read back what it stored."""
    fw = framework_create(
        code="PROP",
        authority=authority,
        unit_kind=UnitKind.COMMUNE,
        year=2024,
        name="Bộ chỉ số thử",
        rows=criterion_rows(framework),
        bands=[Band(b.name, b.min_index) for b in framework.bands],
        index_decimals=framework.decimals,
    )
    Framework.objects.filter(pk=fw.pk).update(
        index_capped=framework.index_cap is not None, survey_optional=framework.survey_optional
    )
    fw.refresh_from_db()
    for source in ("survey", "office"):  # sources mix within an area
        codes = [leaf.code for leaf in framework.leaves if leaf.source == source]
        Criterion.objects.filter(framework=fw, code__in=codes).update(source=source)
    criteria = {c.code: c for c in fw.criteria.filter(is_leaf=True)}
    names = sorted({a.group for a in assessments if a.group is not None})
    groups = {
        name: RankingGroup.objects.create(framework=fw, name=name, order=n) for n, name in enumerate(names)
    }
    stored = Assessment.objects.bulk_create(
        Assessment(
            unit=units[a.key],
            framework=fw,
            status=a.status,
            ranking_group=groups.get(a.group) if a.group is not None else None,
            ranked=a.ranked,
            not_ranked_reason="" if a.ranked else "Mới thành lập",
        )
        for a in assessments
    )
    Score.objects.bulk_create(
        Score(
            assessment=row,
            criterion=criteria[code],
            self_points=s.self_points,
            appraised_points=s.appraised_points,
            not_applicable=s.not_applicable,
            appraised_not_applicable=s.appraised_not_applicable,
        )
        for a, row in zip(assessments, stored, strict=True)
        for code, s in a.scores.items()
    )
    results_recompute(fw)
    results = {r.assessment_id: r for r in AssessmentResult.objects.filter(framework=fw)}
    areas: dict[int, list] = {row.pk: [] for row in stored}
    for area in AreaResult.objects.filter(framework=fw).select_related("area"):
        areas[area.assessment_id].append(area)
    return {
        a.key: figures_of(results[row.pk], areas[row.pk]) for a, row in zip(assessments, stored, strict=True)
    }


@pytest.mark.django_db
def test_sql_engine_agrees_with_the_reference_model():
    authority = make_unit("PROP-H", kind=UnitKind.DISTRICT)
    units = [make_unit(f"PROP-X{n}", kind=UnitKind.COMMUNE, parent=authority) for n in range(MAX_UNITS)]
    examples = []

    @settings(settings.get_profile("engine"))
    @given(case=cases())
    def agrees(case):
        framework, assessments = case
        expected = {key: expected_of(f) for key, f in ref.compute(framework, assessments).items()}
        # An uncapped index is stored with 5 integer digits: leave out the absurd (a bonus of 30 on
        # an applicable max of 0,01).
        assume(all(f["index"] is None or f["index"] < 10_000 for f in expected.values()))
        with transaction.atomic():
            actual = engine_figures(authority, units, framework, assessments)
            transaction.set_rollback(True)
        label(framework, assessments, expected)
        assert differences(actual, expected) == []
        examples.append(case)

    agrees()
    assert len(examples) >= settings.get_profile("engine").max_examples


# --- the reference model on DESIGN's published figures ---------------------------------------------


def one_area(*maxima, decimals=2, kinds=None, bands=()):
    kinds = kinds or ["score"] * len(maxima)
    leaves = tuple(
        ref.Leaf(f"1.{i}", "1", D(m), kind) for i, (m, kind) in enumerate(zip(maxima, kinds, strict=True), 1)
    )
    return ref.Framework(leaves=leaves, areas={"1": "score"}, decimals=decimals, bands=bands)


def scored(key, *points, status="draft", not_applicable=()):
    return ref.Assessment(
        key,
        {
            f"1.{i}": ref.LeafScore(None if p is None else D(p), not_applicable=f"1.{i}" in not_applicable)
            for i, p in enumerate(points, 1)
        },
        status,
    )


def test_reference_82_58_of_95_5_applicable_points_is_86_471_with_3_decimals():
    framework = one_area("95.5", "4.5", decimals=3)
    figures = ref.compute(framework, [scored("D", "82.58", None, not_applicable={"1.2"})])["D"]
    assert (figures.points, figures.max_points, figures.index) == (D("82.58"), D("95.5"), D("86.471"))


def test_reference_68_32_of_84_is_81_33():
    figures = ref.compute(one_area("84"), [scored("BDT", "68.32")])["BDT"]
    assert figures.index == D("81.33")


def test_reference_bonus_over_the_max_clamps_the_index_not_the_points():
    framework = one_area(
        "100", "5", kinds=["score", "bonus"], bands=(ref.Band("Xuất sắc", D(100)), ref.Band("Tốt", D(80)))
    )
    figures = ref.compute(framework, [scored("U", "98", "3")])["U"]
    assert (figures.points, figures.bonus_points, figures.index, figures.grade) == (
        D("101"),
        D("3"),
        D("100"),
        "Xuất sắc",
    )
    uncapped = ref.Framework(framework.leaves, framework.areas, index_cap=None)
    assert ref.compute(uncapped, [scored("U", "98", "3")])["U"].index == D("101")


def test_reference_ties_share_a_rank_and_skip_the_next():
    framework = one_area("100", decimals=0)
    results = ref.compute(
        framework, [scored(k, p) for k, p in zip("ABCD", ["91", "86.4", "85.6", "70"], strict=True)]
    )
    assert [results[k].rank for k in "ABCD"] == [1, 2, 2, 4]
    assert results["A"].areas["1"].rank == 1 and results["D"].areas["1"].rank == 4


def test_reference_penalty_below_zero_clamps_to_zero_and_half_up_rounding():
    framework = one_area("80", "5", kinds=["score", "penalty"], decimals=3)
    results = ref.compute(framework, [scored("A", "69.09", None), scored("B", "1", "5")])
    assert results["A"].index == D("86.363")  # 86.3625: half-up, not to even
    assert (results["B"].points, results["B"].index) == (D("-4"), D("0"))
