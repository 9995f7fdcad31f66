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

Set-based: three temporary tables (the leaves scored or not applicable, straight from the
framework's score rows; the score leaves left to forecast, the only unit × leaf rows built; last year's points per
leaf code, read only for those), then one statement for every unit's forecast, or one for the leaves at risk (of some
units or, with a limit, the largest across the framework), whatever the number of units.
"""

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils.translation import gettext_lazy as _

from scoring.models import Framework, GradeBand
from scoring.results.engine import (
    _clamped,
    _half_up_div,
    _in_list,
    _no_nested_loops,
    _previous_year_frameworks,
    _scaled_index,
    grade_sql,
    previous_results_ctes,
    rank_sql,
)

HUNDREDTH = Decimal("0.01")
# A leaf is at risk when its ratio (forecast or final points ÷ max) is below 0.5.
_AT_RISK = "fl.max_c > 0 AND 2 * fl.fc < fl.max_c"

# Where a leaf's forecast points come from.
SCORED, OWN, PREDECESSORS, MEAN, NONE = "scored", "own", "predecessors", "mean", "none"
BASIS_LABELS = {
    SCORED: _("scored"),
    OWN: _("its own last year"),
    PREDECESSORS: _("its predecessors last year"),
    MEAN: _("other units' mean"),
    NONE: _("no data: 0"),
}


# Temporary tables of one forecast (created and dropped inside its transaction).
_FC_SCORED = "parindex_fc_scored"
_FC_TODO = "parindex_fc_todo"
_FC_PREV = "parindex_fc_prev"

# A score row's not-applicable decision, and whether it holds points.
_NA = "COALESCE(s.appraised_not_applicable, s.not_applicable, FALSE)"
_HAS_POINTS = "(s.appraised_points IS NOT NULL OR s.self_points IS NOT NULL)"


def _create_forecast_tables(cursor, framework: Framework) -> None:
    """Three temporary tables the forecast's statements read, none of them a unit × leaf product:
    - `parindex_fc_scored`: the leaves decided, straight from the framework's score rows: scored or
      not applicable (aid, criterion_id, code, kind, max_c, final_c, na: the engine's leaf rows,
      `engine._LEAF_ROWS`, with scored = 1 or na0 = 1; the sums read those with na = 0);
    - `parindex_fc_todo`: the applicable score leaves left to forecast (aid, criterion_id, code,
      max_c): every unit × score leaf not in the first table (an anti-join against it, narrower
      than the score table, which holds every year; only its result kept);
    - `parindex_fc_prev`: per (aid, code) of a leaf left to forecast, last year's points and max on
      that code (y_pts, y_max: the unit's own result used for year on year,
      `engine.previous_results_ctes`, else its predecessors' pooled) and whether they are its own
      (has_own); last year's leaves read with their own frameworks' rules (an optional survey left
      out when none of its leaves was scored), only those with the codes left to forecast.
    Leaves not applicable, and bonus and penalty leaves not scored, add nothing to a forecast: no
    table holds them. Built once each, then joined by their keys: never a join of two large derived
    tables, whose sizes neither planner can estimate."""
    from units.models import Unit

    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {_FC_SCORED} AS
        SELECT s.assessment_id AS aid, c.id AS criterion_id, c.code AS code, c.kind AS kind,
               CAST(ROUND(c.max_points * 100) AS INTEGER) AS max_c,
               CAST(ROUND(COALESCE(s.appraised_points, s.self_points) * 100) AS INTEGER) AS final_c,
               CASE WHEN {_NA} THEN 1 ELSE 0 END AS na
        FROM scoring_score s
        JOIN scoring_criterion c ON c.id = s.criterion_id
        JOIN scoring_assessment a ON a.id = s.assessment_id AND a.framework_id = c.framework_id
        WHERE c.framework_id = %s AND c.is_leaf AND ({_NA} OR {_HAS_POINTS})
        """,
        [framework.pk],
    )
    if connection.vendor != "postgresql":
        # SQLite looks this table up by (aid, criterion_id) below (PostgreSQL hashes it).
        cursor.execute(f"CREATE INDEX {_FC_SCORED}_key ON {_FC_SCORED} (aid, criterion_id)")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {_FC_TODO} AS
        SELECT a.id AS aid, c.id AS criterion_id, c.code AS code,
               CAST(ROUND(c.max_points * 100) AS INTEGER) AS max_c
        FROM scoring_assessment a
        JOIN scoring_criterion c ON c.framework_id = a.framework_id AND c.is_leaf AND c.kind = 'score'
        WHERE a.framework_id = %s
          AND NOT EXISTS (SELECT 1 FROM {_FC_SCORED} d WHERE d.aid = a.id AND d.criterion_id = c.id)
        """,
        [framework.pk],
    )
    if connection.vendor != "postgresql":
        # SQLite looks this table up by aid (PostgreSQL hashes it).
        cursor.execute(f"CREATE INDEX {_FC_TODO}_key ON {_FC_TODO} (aid, code)")

    previous = _previous_year_frameworks(framework)
    previous_ctes, previous_params = previous_results_ctes(framework, previous)
    predecessors = Unit.predecessors.through._meta.db_table
    optional_previous = [int(f.pk) for f in previous if f.survey_optional]
    # With an optional survey, a previous assessment none of whose applicable survey leaves was scored
    # leaves its survey leaves out (engine._LEAVES): `sa` lists those with some survey leaf scored.
    # The ids are integers from the database: inlined, so that the statement's parameters stay in order.
    # Every previous assessment drawn on (`best`) is in one of those frameworks: their leaves and score
    # rows alone are read (integers from the database, inlined; no framework before: none at all).
    previous_ids = ", ".join(str(int(f.pk)) for f in previous) or "NULL"
    survey_any, survey_rule = "", ""
    if optional_previous:
        optional_ids = ", ".join(str(pk) for pk in optional_previous)
        survey_any = """,
        sa AS (
            SELECT DISTINCT s.assessment_id AS paid FROM scoring_score s
            JOIN scoring_criterion c ON c.id = s.criterion_id
            WHERE s.assessment_id IN (SELECT paid FROM map) AND c.is_leaf AND c.source = 'survey'
              AND NOT COALESCE(s.appraised_not_applicable, s.not_applicable, FALSE)
              AND (s.appraised_points IS NOT NULL OR s.self_points IS NOT NULL)
        )"""
        survey_rule = f"""
          AND NOT (pa.framework_id IN ({optional_ids}) AND pc.source = 'survey'
                   AND NOT EXISTS (SELECT 1 FROM sa WHERE sa.paid = pa.id))"""
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {_FC_PREV} AS
        WITH cur AS (
            SELECT a.id AS aid, a.unit_id AS unit_id FROM scoring_assessment a
            WHERE a.id IN (SELECT l.aid FROM {_FC_TODO} l)
        ),
        {previous_ctes},
        map AS (
            SELECT c.aid AS aid, b.paid AS paid, 1 AS own FROM cur c JOIN best b ON b.unit_id = c.unit_id
            UNION ALL
            SELECT c.aid, b.paid, 0 FROM cur c
            JOIN {predecessors} q ON q.from_unit_id = c.unit_id
            JOIN best b ON b.unit_id = q.to_unit_id
            -- a unit's predecessors count only when it has no previous result of its own
            WHERE NOT EXISTS (SELECT 1 FROM best o WHERE o.unit_id = c.unit_id)
        ){survey_any}
        -- Driven by the leaves left to forecast: each meets the leaf with its code in the previous
        -- assessments it draws on (an applicable score leaf, as engine._LEAF_ROWS reads it), and only
        -- their score rows are looked up.
        SELECT n.aid AS aid, n.code AS code,
               SUM(COALESCE(CAST(ROUND(COALESCE(s.appraised_points, s.self_points) * 100) AS INTEGER), 0)) AS y_pts,
               SUM(CAST(ROUND(pc.max_points * 100) AS INTEGER)) AS y_max, MAX(m.own) AS has_own
        FROM {_FC_TODO} n
        JOIN map m ON m.aid = n.aid
        JOIN scoring_assessment pa ON pa.id = m.paid
        JOIN scoring_criterion pc ON pc.framework_id = pa.framework_id AND pc.code = n.code AND pc.is_leaf
        LEFT JOIN (
            SELECT s0.assessment_id, s0.criterion_id, s0.appraised_not_applicable, s0.not_applicable,
                   s0.appraised_points, s0.self_points
            FROM scoring_score s0
            WHERE s0.criterion_id IN (SELECT c0.id FROM scoring_criterion c0
                                      WHERE c0.framework_id IN ({previous_ids}) AND c0.is_leaf AND c0.kind = 'score')
        ) s ON s.assessment_id = m.paid AND s.criterion_id = pc.id
        WHERE pc.kind = 'score' AND pc.framework_id IN ({previous_ids})
          AND NOT COALESCE(s.appraised_not_applicable, s.not_applicable, FALSE){survey_rule}
        GROUP BY n.aid, n.code
        """,
        previous_params,
    )
    if connection.vendor != "postgresql":
        # SQLite looks this table up by (aid, code) from every leaf row.
        cursor.execute(f"CREATE INDEX {_FC_PREV}_key ON {_FC_PREV} (aid, code)")


# `WITH …` over the two tables: `fu`, one row per applicable score leaf left to forecast (aid,
# criterion_id, code, max_c, fc — its forecast points in hundredths — and basis), the others' mean per
# criterion by one GROUP BY (no window, no sort); `fl`, every applicable score leaf (the scored ones
# with their final points, basis "scored", then `fu`). Scored leaves are read from the table alone.
_FL_CTES = f"""
    WITH mean AS (
        SELECT criterion_id, SUM(final_c) AS m_pts, COUNT(*) AS m_n FROM {_FC_SCORED}
        WHERE kind = 'score' AND na = 0
        GROUP BY criterion_id
    ),
    fu AS (
        SELECT l.aid AS aid, l.criterion_id AS criterion_id, l.code AS code, l.max_c AS max_c,
               CASE WHEN p.y_max > 0 THEN {_half_up_div("p.y_pts * l.max_c", "p.y_max")}
                    WHEN m.m_n > 0 THEN {_half_up_div("m.m_pts", "m.m_n")}
                    ELSE 0 END AS fc,
               CASE WHEN p.y_max > 0 THEN CASE WHEN p.has_own = 1 THEN '{OWN}' ELSE '{PREDECESSORS}' END
                    WHEN m.m_n > 0 THEN '{MEAN}'
                    ELSE '{NONE}' END AS basis
        FROM {_FC_TODO} l
        LEFT JOIN {_FC_PREV} p ON p.aid = l.aid AND p.code = l.code
        LEFT JOIN mean m ON m.criterion_id = l.criterion_id
    ),
    fl AS (
        SELECT l.aid AS aid, l.criterion_id AS criterion_id, l.code AS code, l.max_c AS max_c,
               COALESCE(l.final_c, 0) AS fc, '{SCORED}' AS basis, 1 AS scored
        FROM {_FC_SCORED} l WHERE l.kind = 'score' AND l.na = 0
        UNION ALL
        SELECT fu.aid, fu.criterion_id, fu.code, fu.max_c, fu.fc, fu.basis, 0 FROM fu
    )
"""


@contextmanager
def _forecast_tables(framework: Framework) -> Iterator[CursorWrapper]:
    """The forecast's temporary tables, for the statements run with the cursor yielded; in one
    transaction (PostgreSQL: no nested loops over tables without statistics), dropped after."""
    with (
        transaction.atomic(savepoint=False),
        _no_nested_loops(enable_sort="off"),
        connection.cursor() as cursor,
    ):
        _create_forecast_tables(cursor, framework)
        yield cursor
        for table in (_FC_PREV, _FC_TODO, _FC_SCORED):
            cursor.execute(f"DROP TABLE {table}")


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

    @property
    def at_risk_lost(self) -> Decimal:
        """The points the leaves at risk stand to lose."""
        return sum((leaf.lost for leaf in self.at_risk), Decimal(0))


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

    def largest_risks(self, limit: int) -> list[RiskLeaf]:
        """What to push: the `limit` leaves at risk with the most points lost across the units (then
        by unit code, then in each unit's order)."""
        leaves = [
            (leaf.lost, line.unit_code, i, leaf) for line in self.lines for i, leaf in enumerate(line.at_risk)
        ]
        leaves.sort(key=lambda item: (-item[0], item[1], item[2]))
        return [leaf for *_key, leaf in leaves[:limit]]

    def grade_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for line in self.lines:
            if line.grade:
                counts[line.grade] = counts.get(line.grade, 0) + 1
        return list(counts.items())


@lru_cache(maxsize=1 << 16)
def _hundredths(value) -> Decimal:
    # Exact: an integer number of hundredths, two decimal places (as quantize(HUNDREDTH) would give).
    # Cached (Decimals are immutable): tens of thousands of leaves share a few thousand values.
    return Decimal(int(value)).scaleb(-2)


def forecast(framework: Framework, *, with_at_risk: bool = True) -> Forecast:
    """Every unit's forecast, group by group (in the groups' order, no group last), best first,
    units without a place last (by code); with_at_risk: each line's leaves at risk, most points lost
    first. The two temporary tables (`_forecast_tables`), then one statement (the units' lines and, in
    the same pass, their leaves at risk with their criteria), plus the grade bands and the groups,
    whatever the number of units."""
    decimals = int(framework.index_decimals)
    scale = 10**decimals
    points_c = "(t.score_c + t.bonus_c - t.penalty_c)"
    capped = framework.index_capped
    index_scaled = f"(CASE WHEN t.max_c > 0 THEN {_clamped(_scaled_index(points_c, 't.max_c', scale), scale, capped)} END)"
    # The leaves at risk ride in the same result as the lines (row kind 'R', in the same columns), so
    # that the pipeline runs once: the scored ones from the table, those left to forecast from `fu`.
    risk_rows = f"""
        UNION ALL
        SELECT 'R', fl.aid, fl.criterion_id, c.code, c.title, NULL, c."order", NULL, fl.fc, fl.max_c, NULL,
               fl.basis, fl.max_c - fl.fc, NULL, fl.scored
        FROM (SELECT l.aid AS aid, l.criterion_id AS criterion_id, l.max_c AS max_c,
                     COALESCE(l.final_c, 0) AS fc, '{SCORED}' AS basis, 1 AS scored
              FROM {_FC_SCORED} l WHERE l.kind = 'score' AND l.na = 0
              UNION ALL
              SELECT fu.aid, fu.criterion_id, fu.max_c, fu.fc, fu.basis, 0 FROM fu) fl
        JOIN scoring_criterion c ON c.id = fl.criterion_id
        WHERE {_AT_RISK}
    """
    sql = f"""
        {_FL_CTES},
        tot AS (
            SELECT aid,
                   SUM(CASE WHEN kind = 'score' THEN fc ELSE 0 END) AS score_c,
                   SUM(CASE WHEN kind = 'bonus' THEN fc ELSE 0 END) AS bonus_c,
                   SUM(CASE WHEN kind = 'penalty' THEN fc ELSE 0 END) AS penalty_c,
                   SUM(CASE WHEN kind = 'score' THEN max_c ELSE 0 END) AS max_c,
                   SUM(CASE WHEN kind = 'score' THEN 1 ELSE 0 END) AS applicable,
                   SUM(CASE WHEN kind = 'score' THEN scored ELSE 0 END) AS scored
            FROM (
                -- the applicable leaves scored, then those left to forecast, then one empty row per
                -- assessment (a line for each, as long as the framework has leaves; not applicable
                -- leaves and unscored bonus and penalty add nothing)
                SELECT l.aid AS aid, l.kind AS kind, 1 AS scored, COALESCE(l.final_c, 0) AS fc, l.max_c AS max_c
                FROM {_FC_SCORED} l WHERE l.na = 0
                UNION ALL
                SELECT fu.aid, 'score', 0, fu.fc, fu.max_c FROM fu
                UNION ALL
                SELECT a.id, '', 0, 0, 0 FROM scoring_assessment a
                WHERE a.framework_id = %s
                  AND EXISTS (SELECT 1 FROM scoring_criterion c WHERE c.framework_id = %s AND c.is_leaf)
            ) v
            GROUP BY aid
        ),
        x AS (
            SELECT t.aid AS aid, a.ranked AS ranked, a.ranking_group_id AS gid, a.unit_id AS unit_id,
                   t.score_c + t.bonus_c - t.penalty_c AS pts_c, t.max_c AS max_c,
                   t.applicable AS applicable, t.scored AS scored, {index_scaled} AS idx_s
            FROM tot t JOIN scoring_assessment a ON a.id = t.aid
        )
        SELECT 'L', x.aid, x.unit_id, u.code, u.name, g.name, x.gid, x.ranked, x.pts_c, x.max_c, x.idx_s,
               COALESCE({grade_sql("x.idx_s", decimals)}, ''), {rank_sql("x.idx_s", "x.ranked", "x.gid")},
               x.applicable, x.scored
        FROM x
        JOIN units_unit u ON u.id = x.unit_id
        LEFT JOIN scoring_rankinggroup g ON g.id = x.gid
        {risk_rows if with_at_risk else ""}
        -- the leaves at risk most points lost first, then in the framework's order (the lines are
        -- sorted below)
        ORDER BY 1, 13 DESC, 7
    """
    with _forecast_tables(framework) as cursor:
        cursor.execute(sql, [framework.pk, framework.pk, framework.pk])
        rows = cursor.fetchall()
    bands = sorted(GradeBand.objects.filter(framework=framework).values_list("min_index", "name"))
    group_order = dict(framework.ranking_groups.values_list("pk", "order"))
    lines = []
    risk_rows_fetched = []
    for row in rows:
        if row[0] == "R":
            risk_rows_fetched.append(row)
            continue
        (
            _kind,
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
        ) = row
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
    # Group by group (the groups' order, then name; no group last), best first, no place last.
    lines.sort(
        key=lambda line: (
            line.group_id is None,
            group_order.get(line.group_id or 0, 0),
            line.group or "",
            line.rank is None,
            line.rank or 0,
            line.unit_code,
        )
    )
    if with_at_risk and risk_rows_fetched:
        by_line = {line.assessment_id: line for line in lines}
        for (
            _kind,
            aid,
            criterion_id,
            code,
            title,
            _g,
            _o,
            _r,
            fc,
            max_c,
            _i,
            basis,
            _lost,
            _a,
            scored,
        ) in risk_rows_fetched:
            line = by_line[aid]
            line.at_risk.append(RiskLeaf(
                assessment_id=aid,
                criterion_id=criterion_id,
                code=code,
                title=title,
                points=_hundredths(fc),
                max_points=_hundredths(max_c),
                scored=bool(scored),
                basis=basis,
                unit_code=line.unit_code,
                unit_name=line.unit_name,
            ))  # fmt: skip
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
    where, where_params = "1 = 1", list[int]()
    if assessment_ids is not None:
        where, where_params = _in_list("fl.aid", assessment_ids)
    risk = _AT_RISK if at_risk_only else "1 = 1"
    order = (
        '(fl.max_c - fl.fc) DESC, u.code, c."order"'
        if limit
        else 'fl.aid, (fl.max_c - fl.fc) DESC, c."order"'
    )
    sql = f"""
        {_FL_CTES}
        SELECT fl.aid, fl.criterion_id, fl.code, c.title, fl.fc, fl.max_c, fl.scored, fl.basis, u.code, u.name
        FROM fl
        JOIN scoring_criterion c ON c.id = fl.criterion_id
        JOIN scoring_assessment a ON a.id = fl.aid
        JOIN units_unit u ON u.id = a.unit_id
        WHERE {risk} AND {where}
        ORDER BY {order}
        {"LIMIT %s" if limit else ""}
    """
    with _forecast_tables(framework) as cursor:
        cursor.execute(sql, [*where_params, *([int(limit)] if limit else [])])
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
