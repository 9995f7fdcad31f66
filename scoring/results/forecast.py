"""The forecast (dự báo kết quả) of a framework before its results are final (DESIGN §2.4).

For each assessment, leaf by applicable score leaf:
- a leaf already scored keeps its final points (appraised where present, else self: the engine's
  leaf rows, `engine._LEAF_ROWS`, the one definition);
- a leaf not yet scored takes the unit's own ratio (points ÷ max) on the leaf with the same code in
  last year's results used for year on year (`engine.previous_results_ctes`: its own result, else
  its predecessors' taken together, their points and max on that code pooled), else the mean ratio of
  this framework's units that have scored that leaf, else 0; points = ratio × max, half-up to two
  decimals (integer hundredths throughout, so SQLite and PostgreSQL agree exactly);
- bonus and penalty leaves keep their final points (0 while unscored): they are no criterion a
  unit is expected to reach, and never count in the max.
Applicability is the not-applicable decision alone (with an optional survey, a unit's unscored
survey leaves are forecast like any other: the survey is expected to come).
Index, grade and rank then follow the engine's rules (`engine._scaled_index`, `_clamped`,
`grade_sql`, `rank_sql`): rounded half-up to the framework's decimals, clamped, ranked within each
ranking group, a unit assessed but not ranked without a place. `certain`: every applicable score
leaf is scored. At risk: the applicable score leaves whose (forecast or final) ratio is below 0.5,
most points lost first, then in the framework's order.

Set-based: one statement for every unit's forecast, one for the leaves at risk (of some units or,
with a limit, the largest across the framework), whatever the number of units.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils.translation import gettext_lazy as _

from scoring.models import Framework, GradeBand
from scoring.results.engine import (
    _LEAF_ROWS,
    _LEAVES,
    _clamped,
    _half_up_div,
    _in_list,
    _scaled_index,
    grade_sql,
    previous_results_ctes,
    rank_sql,
)

HUNDREDTH = Decimal("0.01")

# Where a leaf's forecast points come from.
SCORED, OWN, PREDECESSORS, MEAN, NONE = "scored", "own", "predecessors", "mean", "none"
BASIS_LABELS = {
    SCORED: _("scored"),
    OWN: _("its own last year"),
    PREDECESSORS: _("its predecessors last year"),
    MEAN: _("other units' mean"),
    NONE: _("no data: 0"),
}


def _forecast_ctes(framework: Framework) -> tuple[str, list]:
    """`WITH …` ending in the CTE `fl`: one row per assessment × applicable leaf of the framework
    (aid, criterion_id, code, kind, max_c, scored, fc — the forecast points in hundredths — and
    basis), and the CTE `cur` (aid, unit_id) of the framework's assessments."""
    from units.models import Unit

    previous_ctes, previous_params = previous_results_ctes(framework)
    predecessors = Unit.predecessors.through._meta.db_table
    optional_previous = Framework.objects.filter(year=framework.year - 1, survey_optional=True).values_list(
        "pk", flat=True
    )
    in_optional, optional_ids = _in_list("l1.framework_id", list(optional_previous))
    # The ids are integers from the database: inlined, so that the statement's parameters stay in order.
    for pk in optional_ids:
        in_optional = in_optional.replace("%s", str(int(pk)), 1)
    previous_leaves = _LEAVES.format(
        rows=_LEAF_ROWS.format(scope="a.id IN (SELECT paid FROM src)"),
        optional=f"(CASE WHEN {in_optional} THEN 1 ELSE 0 END)",
    )
    current_leaves = _LEAVES.format(rows=_LEAF_ROWS.format(scope="a.framework_id = %s"), optional=0)
    sql = f"""
        WITH cur AS (
            SELECT a.id AS aid, a.unit_id AS unit_id FROM scoring_assessment a WHERE a.framework_id = %s
        ),
        {previous_ctes},
        src AS (
            SELECT c.aid AS aid, b.paid AS paid, 1 AS own FROM cur c JOIN best b ON b.unit_id = c.unit_id
            UNION ALL
            SELECT c.aid AS aid, b.paid AS paid, 0 AS own
            FROM cur c JOIN {predecessors} q ON q.from_unit_id = c.unit_id JOIN best b ON b.unit_id = q.to_unit_id
            WHERE NOT EXISTS (SELECT 1 FROM best o WHERE o.unit_id = c.unit_id)
        ),
        lastyear AS (
            SELECT s.aid AS aid, pl.code AS code, SUM(COALESCE(pl.final_c, 0)) AS pts_c,
                   SUM(pl.max_c) AS max_c, MAX(s.own) AS own
            FROM src s JOIN ({previous_leaves}) pl ON pl.assessment_id = s.paid
            WHERE pl.kind = 'score' AND pl.na = 0
            GROUP BY s.aid, pl.code
        ),
        cl AS ({current_leaves}),
        mean AS (
            SELECT criterion_id, COUNT(*) AS n, SUM(final_c) AS pts_c
            FROM cl WHERE kind = 'score' AND na = 0 AND scored = 1
            GROUP BY criterion_id
        ),
        fl AS (
            SELECT l.assessment_id AS aid, l.criterion_id AS criterion_id, l.code AS code, l.kind AS kind,
                   l.max_c AS max_c, l.scored AS scored,
                   CASE WHEN l.scored = 1 OR l.kind <> 'score' THEN COALESCE(l.final_c, 0)
                        WHEN y.max_c > 0 THEN {_half_up_div("y.pts_c * l.max_c", "y.max_c")}
                        WHEN m.n > 0 THEN {_half_up_div("m.pts_c", "m.n")}
                        ELSE 0 END AS fc,
                   CASE WHEN l.scored = 1 THEN '{SCORED}'
                        WHEN l.kind <> 'score' THEN '{NONE}'
                        WHEN y.max_c > 0 THEN CASE WHEN y.own = 1 THEN '{OWN}' ELSE '{PREDECESSORS}' END
                        WHEN m.n > 0 THEN '{MEAN}'
                        ELSE '{NONE}' END AS basis
            FROM cl l
            LEFT JOIN lastyear y ON y.aid = l.assessment_id AND y.code = l.code
            LEFT JOIN mean m ON m.criterion_id = l.criterion_id
            WHERE l.na = 0
        )
    """
    return sql, [framework.pk, *previous_params, framework.pk]


# --- every unit's forecast -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskLeaf:
    """An applicable score leaf's forecast (its final points when scored); at risk when its ratio is
    below 0.5."""

    assessment_id: int
    criterion_id: int
    code: str
    title: str
    points: Decimal
    max_points: Decimal
    scored: bool
    basis: str  # scored | own | predecessors | mean | none
    unit_code: str = ""
    unit_name: str = ""

    @property
    def lost(self) -> Decimal:
        return self.max_points - self.points

    @property
    def basis_label(self) -> str:
        return str(BASIS_LABELS.get(self.basis, self.basis))


@dataclass
class ForecastLine:
    assessment_id: int
    unit_id: int
    unit_code: str
    unit_name: str
    group: str | None
    group_id: int | None
    ranked: bool
    points: Decimal
    max_points: Decimal
    index: Decimal | None
    grade: str
    rank: int | None
    certain: bool
    leaves_applicable: int
    leaves_scored: int
    next_grade: str | None = None
    to_next_grade: Decimal | None = None  # index points still missing for the next grade
    at_risk: list[RiskLeaf] = field(default_factory=list)


@dataclass
class Forecast:
    framework: Framework
    lines: list[ForecastLine]

    def __iter__(self):
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def average_index(self) -> Decimal | None:
        """The authority's average forecast: the mean of its units' forecast indices, half-up to the
        framework's decimals."""
        indices = [line.index for line in self.lines if line.index is not None]
        if not indices:
            return None
        places = Decimal(1).scaleb(-int(self.framework.index_decimals))
        return (sum(indices, Decimal(0)) / len(indices)).quantize(places, rounding=ROUND_HALF_UP)

    @property
    def certain_count(self) -> int:
        return sum(1 for line in self.lines if line.certain)

    def grade_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for line in self.lines:
            if line.grade:
                counts[line.grade] = counts.get(line.grade, 0) + 1
        return list(counts.items())


def _hundredths(value) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(HUNDREDTH)


def forecast(framework: Framework, *, with_at_risk: bool = True) -> Forecast:
    """Every unit's forecast, group by group (in the groups' order, no group last), best first,
    units without a place last (by code); with_at_risk: each line's leaves at risk (one more
    statement). Three statements whatever the number of units (plus the grade bands)."""
    decimals = int(framework.index_decimals)
    scale = 10**decimals
    ctes, params = _forecast_ctes(framework)
    points_c = "(t.score_c + t.bonus_c - t.penalty_c)"
    index_scaled = f"(CASE WHEN t.max_c > 0 THEN {_clamped(_scaled_index(points_c, 't.max_c', scale), scale, framework.index_capped)} END)"
    sql = f"""
        {ctes},
        tot AS (
            SELECT aid,
                   SUM(CASE WHEN kind = 'score' THEN fc ELSE 0 END) AS score_c,
                   SUM(CASE WHEN kind = 'bonus' THEN fc ELSE 0 END) AS bonus_c,
                   SUM(CASE WHEN kind = 'penalty' THEN fc ELSE 0 END) AS penalty_c,
                   SUM(CASE WHEN kind = 'score' THEN max_c ELSE 0 END) AS max_c,
                   SUM(CASE WHEN kind = 'score' THEN 1 ELSE 0 END) AS applicable,
                   SUM(CASE WHEN kind = 'score' THEN scored ELSE 0 END) AS scored
            FROM fl GROUP BY aid
        ),
        x AS (
            SELECT c.aid AS aid, a.ranked AS ranked, a.ranking_group_id AS gid,
                   COALESCE(t.score_c + t.bonus_c - t.penalty_c, 0) AS pts_c, COALESCE(t.max_c, 0) AS max_c,
                   COALESCE(t.applicable, 0) AS applicable, COALESCE(t.scored, 0) AS scored,
                   {index_scaled} AS idx_s
            FROM cur c JOIN scoring_assessment a ON a.id = c.aid LEFT JOIN tot t ON t.aid = c.aid
        )
        SELECT * FROM (
            SELECT x.aid, u.id AS unit_id, u.code AS unit_code, u.name AS unit_name, g.name AS group_name,
                   x.gid, x.ranked, x.pts_c, x.max_c, x.idx_s,
                   COALESCE({grade_sql("x.idx_s", decimals)}, '') AS grade,
                   {rank_sql("x.idx_s", "x.ranked", "x.gid")} AS rnk,
                   x.applicable, x.scored,
                   CASE WHEN g."order" IS NULL THEN 1 ELSE 0 END AS no_group, g."order" AS group_order
            FROM x
            JOIN scoring_assessment a ON a.id = x.aid
            JOIN units_unit u ON u.id = a.unit_id
            LEFT JOIN scoring_rankinggroup g ON g.id = x.gid
        ) y
        ORDER BY y.no_group, y.group_order, y.group_name, CASE WHEN y.rnk IS NULL THEN 1 ELSE 0 END, y.rnk,
                 y.unit_code
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, framework.pk])
        rows = cursor.fetchall()
    bands = sorted(GradeBand.objects.filter(framework=framework).values_list("min_index", "name"))
    lines = []
    for (
        aid,
        unit_id,
        code,
        name,
        group,
        gid,
        ranked,
        pts_c,
        max_c,
        idx_s,
        grade,
        rnk,
        applicable,
        scored,
        *_rest,
    ) in rows:
        index = None if idx_s is None else Decimal(int(idx_s)).scaleb(-decimals)
        line = ForecastLine(
            assessment_id=aid,
            unit_id=unit_id,
            unit_code=code,
            unit_name=name,
            group=group,
            group_id=gid,
            ranked=bool(ranked),
            points=_hundredths(pts_c),
            max_points=_hundredths(max_c),
            index=index,
            grade=grade,
            rank=rnk,
            certain=int(scored) == int(applicable),
            leaves_applicable=int(applicable),
            leaves_scored=int(scored),
        )
        if index is not None:
            above = [(minimum, band) for minimum, band in bands if minimum > index]
            if above:
                line.next_grade, line.to_next_grade = above[0][1], above[0][0] - index
        lines.append(line)
    if with_at_risk:
        risks: dict[int, list[RiskLeaf]] = {}
        for leaf in forecast_at_risk(framework):
            risks.setdefault(leaf.assessment_id, []).append(leaf)
        for line in lines:
            line.at_risk = risks.get(line.assessment_id, [])
    return Forecast(framework, lines)


def forecast_at_risk(
    framework: Framework, *, assessment_ids: Collection[int] | None = None, limit: int | None = None
) -> list[RiskLeaf]:
    """The leaves at risk (ratio below 0.5), unit by unit (most points lost first, then the
    framework's order) or, with `limit`, the `limit` largest losses across the framework ("what to
    push"); optionally of some assessments only. One statement."""
    return forecast_leaves(framework, assessment_ids=assessment_ids, limit=limit, at_risk_only=True)


def forecast_leaves(
    framework: Framework,
    *,
    assessment_ids: Collection[int] | None = None,
    limit: int | None = None,
    at_risk_only: bool = False,
) -> list[RiskLeaf]:
    """Every applicable score leaf's forecast points and their basis (or only those at risk), in
    the order of forecast_at_risk. One statement."""
    ctes, params = _forecast_ctes(framework)
    where, where_params = ("1 = 1", [])
    if assessment_ids is not None:
        where, where_params = _in_list("fl.aid", assessment_ids)
    risk = "fl.max_c > 0 AND 2 * fl.fc < fl.max_c" if at_risk_only else "1 = 1"
    order = (
        '(fl.max_c - fl.fc) DESC, u.code, c."order"'
        if limit
        else 'fl.aid, (fl.max_c - fl.fc) DESC, c."order"'
    )
    sql = f"""
        {ctes}
        SELECT fl.aid, fl.criterion_id, fl.code, c.title, fl.fc, fl.max_c, fl.scored, fl.basis, u.code, u.name
        FROM fl
        JOIN scoring_criterion c ON c.id = fl.criterion_id
        JOIN scoring_assessment a ON a.id = fl.aid
        JOIN units_unit u ON u.id = a.unit_id
        WHERE fl.kind = 'score' AND {risk} AND {where}
        ORDER BY {order}
        {"LIMIT %s" if limit else ""}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *where_params, *([int(limit)] if limit else [])])
        rows = cursor.fetchall()
    return [
        RiskLeaf(
            assessment_id=aid,
            criterion_id=criterion_id,
            code=code,
            title=title,
            points=_hundredths(fc),
            max_points=_hundredths(max_c),
            scored=bool(scored),
            basis=basis,
            unit_code=unit_code,
            unit_name=unit_name,
        )
        for aid, criterion_id, code, title, fc, max_c, scored, basis, unit_code, unit_name in rows
    ]
