"""What-if (DESIGN §2.4): which criteria would gain a unit the most places.

For one assessment and the framework's current results: every applicable score leaf below its max
is raised alone to its max; the unit's points grow by the points missing on that leaf, and its index
follows the engine's rules (`engine._scaled_index`, `_clamped`: half-up to the framework's decimals,
clamped). The place it would hold is that rule's competition rank against the other units' current
(stored) indices in its ranking group: 1 + the number of them strictly above (equal indices share a
place). A unit assessed but not ranked gets no place. Places gained = the current place − that place.
Best first: places gained, then points gained, then the framework's order of the criteria.

The unit's current points and max are the engine's sums (`engine._SUMS`) over its leaf rows
(`engine._LEAF_ROWS`, the one definition of final points and applicability). One statement for the
leaves, one for the unit's current place.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from scoring.models import Assessment, AssessmentResult
from scoring.results.engine import _LEAF_ROWS, _LEAVES, _SUMS, _clamped, _scaled_index

HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class WhatIf:
    criterion_id: int
    code: str
    title: str
    points: Decimal  # the leaf's current final points (0 while unscored)
    max_points: Decimal
    gain_points: Decimal  # max − points: what raising it to its max adds
    index: Decimal | None  # the unit's index with that leaf at its max
    rank: int | None  # the place that index would hold (None: not ranked)
    places_gained: int | None  # None when the unit holds no place now or would hold none


@dataclass
class WhatIfAnswer:
    assessment: Assessment
    current_index: Decimal | None
    current_rank: int | None
    items: list[WhatIf]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _c(value) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(HUNDREDTH)


def what_if(assessment: Assessment, *, top: int | None = None) -> WhatIfAnswer:
    """Each applicable leaf below its max raised alone to its max, best first (`top` of them)."""
    framework = assessment.framework
    decimals = int(framework.index_decimals)
    scale = 10**decimals
    leaves = _LEAVES.format(
        rows=_LEAF_ROWS.format(scope="a.id = %s"), optional=1 if framework.survey_optional else 0
    )
    raised = "(u.score_c + u.bonus_c - u.penalty_c + (l.max_c - COALESCE(l.final_c, 0)))"
    index_scaled = (
        f"(CASE WHEN u.max_c > 0 THEN "
        f"{_clamped(_scaled_index(raised, 'u.max_c', scale), scale, framework.index_capped)} END)"
    )
    sql = f"""
        WITH u AS (SELECT {_SUMS} FROM ({leaves}) l0),
        w AS (
            SELECT l.criterion_id AS criterion_id, l.code AS code, c.title AS title, c."order" AS ord,
                   COALESCE(l.final_c, 0) AS pts_c, l.max_c AS max_c, l.max_c - COALESCE(l.final_c, 0) AS gain_c,
                   {index_scaled} AS idx_s, a.ranked AS ranked,
                   COALESCE(a.ranking_group_id, 0) AS gid, a.id AS aid
            FROM ({leaves}) l
            CROSS JOIN u
            JOIN scoring_criterion c ON c.id = l.criterion_id
            JOIN scoring_assessment a ON a.id = l.assessment_id
            WHERE l.kind = 'score' AND l.na = 0 AND COALESCE(l.final_c, 0) < l.max_c
        )
        SELECT w.criterion_id, w.code, w.title, w.ord, w.pts_c, w.max_c, w.gain_c, w.idx_s,
               CASE WHEN w.ranked AND w.idx_s IS NOT NULL THEN 1 + (
                   SELECT COUNT(*) FROM scoring_assessmentresult r
                   JOIN scoring_assessment o ON o.id = r.assessment_id
                   WHERE r.framework_id = %s AND o.id <> w.aid AND o.ranked
                     AND COALESCE(o.ranking_group_id, 0) = w.gid AND r."index" IS NOT NULL
                     AND CAST(ROUND(r."index" * {scale}) AS INTEGER) > w.idx_s
               ) END AS rnk
        FROM w
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [assessment.pk, assessment.pk, framework.pk])
        rows = cursor.fetchall()
    current = (
        AssessmentResult.objects.filter(assessment=assessment).values_list("index", "rank").first()
    ) or (None, None)
    current_index, current_rank = current
    items = []
    for criterion_id, code, title, order, pts_c, max_c, gain_c, idx_s, rnk in rows:
        items.append(
            (
                order,
                WhatIf(
                    criterion_id=criterion_id,
                    code=code,
                    title=title,
                    points=_c(pts_c),
                    max_points=_c(max_c),
                    gain_points=_c(gain_c),
                    index=None if idx_s is None else Decimal(int(idx_s)).scaleb(-decimals),
                    rank=rnk,
                    places_gained=None if rnk is None or current_rank is None else current_rank - rnk,
                ),
            )
        )
    items.sort(key=lambda pair: (-(pair[1].places_gained or 0), -pair[1].gain_points, pair[0]))
    ordered = [item for _order, item in items]
    if top is not None:
        ordered = ordered[: max(int(top), 0)]
    return WhatIfAnswer(assessment, current_index, current_rank, ordered)
