"""The scoring rules of DESIGN §2 in plain Python and `Decimal`: the specification of the engine.

`scoring.results.engine` computes the stored results in set-based SQL; this module computes the same
figures one unit at a time, as a reader would by hand, so that tests can require both to agree.
No Django, no SQL: a framework is a list of leaves, an assessment a mapping of leaf scores.

The rules:
- The final points of a leaf are its appraised points where present, else its self points (for a
  provisional and an appraised assessment alike; the status only marks the result provisional).
  Leaves of every source (self, survey, office) count alike by their final points.
- A leaf is not applicable as the appraiser decided (confirmed or imposed: yes; refused: no) or,
  while the appraiser has not decided, as the unit proposed. A not-applicable leaf leaves both the
  numerator and the denominator (bonus and penalty leaves too). An applicable leaf not yet scored
  counts 0.
- With an optional survey, a unit none of whose applicable survey leaves is scored leaves its
  survey leaves out as well: it is indexed on its remaining applicable max.
- Points = points of the applicable score leaves + bonus points − penalty points; the max is the
  sum of the max points of the applicable score leaves (bonus and penalty never count in it).
- Index = points ÷ max × 100, rounded half-up to the framework's decimals, then clamped to
  0 … cap (100 unless the framework allows more). Points and bonus are reported unclamped.
- Parts: the final points of the applicable score leaves of each source (self, survey, office),
  bonus and penalty; self + survey + office + bonus − penalty = points.
- The self-assessed part on its own: the self points of the applicable self score leaves over
  their max, and that part's index (no index until one of them has self points).
- Per source, counts of the leaves (every kind) that are not applicable-marked and of those
  scored (self or appraised points).
- Grade: the band with the highest minimum at or below the (rounded, clamped) index.
- Rank: by that index, highest first; equal indices share a rank and the next is skipped (1, 2, 2, 4).
  Ranks are within a ranking group (the units in no group rank together); a unit assessed but not
  ranked has no rank and is left out of the others' ranks (its figures are computed all the same).
- Areas (of kind score): their points are the points of their applicable score leaves over the max
  of those leaves, indexed and ranked the same way, within the area (and the group).

Where DESIGN is silent the engine's choice is written down here as the rule:
- an assessment none of whose applicable score leaves is scored yet (self or appraised) has no
  index, grade or rank (it is not started), whereas an area's index only needs an applicable max;
- nothing applicable (max 0) means no index;
- bonus or penalty leaves placed inside a score area count in the unit's points, not in the area's.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

ZERO = Decimal("0")
HUNDRED = Decimal("100")
FINAL_STATUSES = ("appraised", "published")


@dataclass(frozen=True)
class Leaf:
    code: str
    area: str  # code of the area (depth-0 node) the leaf belongs to
    max_points: Decimal
    kind: str = "score"  # score | bonus | penalty
    source: str = "self"  # self | survey | office


@dataclass(frozen=True)
class Band:
    name: str
    min_index: Decimal


@dataclass(frozen=True)
class Framework:
    leaves: tuple[Leaf, ...]
    areas: Mapping[str, str]  # area code → kind; areas of kind "score" get area results
    decimals: int = 2
    bands: tuple[Band, ...] = ()
    index_cap: Decimal | None = HUNDRED  # None: the index may exceed 100 (`--index-cap none`)
    survey_optional: bool = False  # `--survey optional`


@dataclass(frozen=True)
class LeafScore:
    self_points: Decimal | None = None
    appraised_points: Decimal | None = None
    not_applicable: bool = False  # the unit's proposal
    appraised_not_applicable: bool | None = None  # the appraiser's decision; None: undecided

    @property
    def is_not_applicable(self) -> bool:
        if self.appraised_not_applicable is not None:
            return self.appraised_not_applicable
        return self.not_applicable

    @property
    def final(self) -> Decimal | None:
        return self.appraised_points if self.appraised_points is not None else self.self_points


@dataclass(frozen=True)
class Assessment:
    key: object  # anything that names the unit
    scores: Mapping[str, LeafScore]  # by leaf code; a missing leaf is unscored and applicable
    status: str = "draft"
    group: str | None = None  # the ranking group; None: the units in no group
    ranked: bool = True  # False: assessed but not ranked


@dataclass
class AreaFigures:
    self_points: Decimal
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    rank: int | None = None


@dataclass
class UnitFigures:
    self_points: Decimal  # the self-assessed part: self points of applicable self-sourced score leaves
    score_points: Decimal
    bonus_points: Decimal
    penalty_points: Decimal
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    grade: str
    provisional: bool
    leaves_applicable: int
    leaves_scored: int
    self_part_points: Decimal = ZERO
    survey_points: Decimal = ZERO
    office_points: Decimal = ZERO
    self_max_points: Decimal = ZERO
    self_index: Decimal | None = None
    self_leaves_applicable: int = 0
    self_leaves_scored: int = 0
    survey_leaves_applicable: int = 0
    survey_leaves_scored: int = 0
    office_leaves_applicable: int = 0
    office_leaves_scored: int = 0
    rank: int | None = None
    areas: dict[str, AreaFigures] = field(default_factory=dict)


def index_of(
    points: Decimal, max_points: Decimal, decimals: int, cap: Decimal | None = HUNDRED
) -> Decimal | None:
    """points ÷ max × 100, half-up to `decimals`, clamped to 0 … cap; None when nothing applies.

    >>> index_of(Decimal("82.58"), Decimal("95.5"), 3)
    Decimal('86.471')
    """
    if max_points <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60  # exact enough that a half-way quotient is never mistaken
        raw = points * HUNDRED / max_points
    index = raw.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    index = max(index, ZERO)
    return index if cap is None else min(index, cap)


def grade_of(index: Decimal | None, bands: Iterable[Band]) -> str:
    """The band with the highest minimum at or below the index ('' when none)."""
    fitting = [b for b in bands if index is not None and b.min_index <= index]
    return max(fitting, key=lambda b: b.min_index).name if fitting else ""


def competition_ranks(indices: Mapping[object, Decimal | None]) -> dict[object, int | None]:
    """Highest first; equal indices share a rank and the next is skipped (1, 2, 2, 4); None unranked."""
    ranked = [i for i in indices.values() if i is not None]
    return {
        key: None if i is None else 1 + sum(1 for other in ranked if other > i) for key, i in indices.items()
    }


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    """Sum of the figures present: an unscored leaf counts 0."""
    return sum((v for v in values if v is not None), ZERO)


def _area(leaves: list[tuple[Leaf, LeafScore]], decimals: int, cap: Decimal | None) -> AreaFigures:
    """An area from its applicable score leaves: its own points over its own max."""
    points, max_points = _sum(s.final for _, s in leaves), _sum(leaf.max_points for leaf, _ in leaves)
    return AreaFigures(
        self_points=_sum(s.self_points for leaf, s in leaves if leaf.source == "self"),
        points=points,
        max_points=max_points,
        index=index_of(points, max_points, decimals, cap),
    )


SOURCES = ("self", "survey", "office")


def _counts(leaves: list[tuple[Leaf, LeafScore]], source: str) -> tuple[int, int]:
    """How many of the leaves are of that source, and how many of those have points."""
    mine = [s for leaf, s in leaves if leaf.source == source]
    return len(mine), sum(1 for s in mine if s.final is not None)


def compute(framework: Framework, assessments: Iterable[Assessment]) -> dict[object, UnitFigures]:
    """The results of every assessment of one framework, ranked among each other (within groups)."""
    assessments = list(assessments)
    d, cap = framework.decimals, framework.index_cap
    score_areas = [area for area, kind in framework.areas.items() if kind == "score"]
    out: dict[object, UnitFigures] = {}
    for assessment in assessments:
        sheet = [(leaf, assessment.scores.get(leaf.code, LeafScore())) for leaf in framework.leaves]
        decided = [(leaf, s) for leaf, s in sheet if not s.is_not_applicable]
        no_survey = not any(leaf.source == "survey" and s.final is not None for leaf, s in decided)
        applicable = [
            (leaf, s)
            for leaf, s in decided
            if not (framework.survey_optional and no_survey and leaf.source == "survey")
        ]
        score = [(leaf, s) for leaf, s in applicable if leaf.kind == "score"]
        own = [(leaf, s) for leaf, s in score if leaf.source == "self"]
        own_entered = [s.self_points for _, s in own if s.self_points is not None]
        own_max = _sum(leaf.max_points for leaf, _ in own)
        own_points = _sum(own_entered)

        self_counts, survey_counts, office_counts = (_counts(decided, source) for source in SOURCES)
        score_points = _sum(s.final for _, s in score)
        bonus = _sum(s.final for leaf, s in applicable if leaf.kind == "bonus")
        penalty = _sum(s.final for leaf, s in applicable if leaf.kind == "penalty")
        max_points = _sum(leaf.max_points for leaf, _ in score)
        scored = sum(1 for _, s in score if s.final is not None)
        points = score_points + bonus - penalty
        index = index_of(points, max_points, d, cap) if scored else None
        out[assessment.key] = UnitFigures(
            self_points=own_points,
            score_points=score_points,
            bonus_points=bonus,
            penalty_points=penalty,
            points=points,
            max_points=max_points,
            index=index,
            grade=grade_of(index, framework.bands),
            provisional=assessment.status not in FINAL_STATUSES,
            leaves_applicable=len(score),
            leaves_scored=scored,
            self_part_points=_sum(s.final for _, s in own),
            survey_points=_sum(s.final for leaf, s in score if leaf.source == "survey"),
            office_points=_sum(s.final for leaf, s in score if leaf.source == "office"),
            self_max_points=own_max,
            self_index=index_of(own_points, own_max, d) if own_entered else None,
            self_leaves_applicable=self_counts[0],
            self_leaves_scored=self_counts[1],
            survey_leaves_applicable=survey_counts[0],
            survey_leaves_scored=survey_counts[1],
            office_leaves_applicable=office_counts[0],
            office_leaves_scored=office_counts[1],
            areas={
                area: _area([(leaf, s) for leaf, s in score if leaf.area == area], d, cap)
                for area in score_areas
            },
        )

    ranked_by_group: dict[str | None, list[object]] = {}
    for assessment in assessments:
        if assessment.ranked:
            ranked_by_group.setdefault(assessment.group, []).append(assessment.key)
    for keys in ranked_by_group.values():
        for key, rank in competition_ranks({k: out[k].index for k in keys}).items():
            out[key].rank = rank
        for area in score_areas:
            for key, rank in competition_ranks({k: out[k].areas[area].index for k in keys}).items():
                out[key].areas[area].rank = rank
    return out
