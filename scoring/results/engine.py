"""Stored results of a framework: totals, index, grade, rank, area ranks and year-on-year change.

Set-based: a recompute is a fixed handful of statements whatever the number of units:
  1. per table (assessment results, area results) the sums of the leaves grouped in SQL, written by
     one INSERT … SELECT … ON CONFLICT … WHERE <some column differs> for a save's assessments (over
     assessments × leaf criteria ⟕ their scores), or for a whole framework (from its score rows
     folded into groups, plus the leaves without a score row per unit and area) by an UPDATE … FROM
     of the rows that changed, ranks included, then an INSERT of the missing ones; rows whose
     figures did not move are not rewritten;
  2. one UPDATE … FROM (SELECT RANK() OVER …) per table for ranks, within each ranking group, units
     assessed but not ranked left without a place and out of the others' ranks (a whole framework
     whose write ranked every row skips them);
  3. year on year: one UPDATE … FROM over the previous year's stored results of the same level
     (the unit's own, else its predecessors' pooled), whichever authority ran them.

Arithmetic is exact on SQLite and PostgreSQL alike: points (two decimals) are summed as integer
hundredths, and the index is rounded half-up in integer arithmetic:
    index × 10^d = floor((2 · points · 100 · 10^d + max) / (2 · max))
so 82.58 of 95.5 at 3 decimals is floor((2·8258·100·1000 + 9550) / 19100) = 86471 → 86.471.
The rounded index is then clamped to 0–100 (a bonus never lifts it above 100 unless the framework
is not capped, a penalty never below 0); grade and rank follow the clamped index, points and the
bonus itself stay unclamped.

A leaf is not applicable as Score.is_not_applicable says (the appraiser's decision, else the unit's
proposal). Each result also stores its parts (the final points of the self, survey and office score
leaves, bonus, penalty), the self-assessed part on its own (self points over the self-assessable
max, and its index) and, per source, the leaves applicable and scored, so that pages show
provisional figures without recomputing anything.

A save (`results_recompute(framework, assessment_ids=…)`) writes only its own assessments' rows:
ranks, area ranks and year on year of the framework follow from one coalesced ranking job
(`ranks_refresh` → scoring.tasks.results_rank_task → `results_rank_job`: after commit, debounced,
one at a time per framework under an advisory lock), or at once in the same transaction with eager
Celery (development and tests). Whole-framework operations recompute everything synchronously.
No save locks or writes the framework row (scoring.locking says which rows a save locks).

scoring.results.reference holds the same rules in plain Decimal arithmetic; property-based tests require
this module to agree with it.
"""

import logging
import re
from collections.abc import Callable, Collection, Iterable
from datetime import datetime

from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Q

from parindex.db import advisory_xact_lock
from scoring.models import AreaResult, Assessment, Framework, FrameworkStatus

logger = logging.getLogger(__name__)

# Per leaf: final points = appraised where present, else self; a leaf is not applicable as the
# appraiser decided (confirmed, imposed or refused) or, while undecided, as the unit proposed
# (Score.is_not_applicable); a not-applicable leaf leaves both the numerator and the denominator.
# Values become integer hundredths so sums are exact everywhere. `scope` selects the assessments
# (scoring.results.forecast reads the same rows for the previous year's and the current assessments).
_LEAF_ROWS = """
    SELECT a.id AS assessment_id, a.framework_id AS framework_id, c.id AS criterion_id, c.code AS code,
           c.area_id AS area_id, c.kind AS kind, c.source AS source,
           CAST(ROUND(c.max_points * 100) AS INTEGER) AS max_c,
           CASE WHEN COALESCE(s.appraised_not_applicable, s.not_applicable) THEN 1 ELSE 0 END AS na0,
           CAST(ROUND(COALESCE(s.appraised_points, s.self_points) * 100) AS INTEGER) AS final_c,
           CAST(ROUND(s.self_points * 100) AS INTEGER) AS self_c,
           CASE WHEN s.appraised_points IS NOT NULL OR s.self_points IS NOT NULL THEN 1 ELSE 0 END AS scored
    FROM scoring_assessment a
    JOIN scoring_criterion c ON c.framework_id = a.framework_id AND c.is_leaf
    LEFT JOIN scoring_score s ON s.assessment_id = a.id AND s.criterion_id = c.id
    WHERE {scope}
"""

_SCORES_JOIN = "LEFT JOIN scoring_score s ON"
assert _SCORES_JOIN in _LEAF_ROWS  # the recompute narrows the scores by replacing this join
_FRAMEWORK_SCORES = """
    SELECT s0.assessment_id, s0.criterion_id, s0.appraised_not_applicable, s0.not_applicable,
           s0.appraised_points, s0.self_points
    FROM scoring_score s0
    WHERE s0.criterion_id IN (SELECT c0.id FROM scoring_criterion c0 WHERE c0.framework_id = %s AND c0.is_leaf)
          {only_s}
"""

# With an optional survey, a unit none of whose applicable survey leaves is scored ("no survey
# result at all") leaves its survey leaves out too: it is indexed on its remaining applicable max.
# `na` is the final "leaves the sums" flag; `na0` the not-applicable decision alone.
_LEAVES = """
    SELECT l1.*, CASE WHEN l1.na0 = 1 OR ({optional} = 1 AND l1.source = 'survey' AND l1.survey_any = 0)
                      THEN 1 ELSE 0 END AS na
    FROM (SELECT l0.*,
                 MAX(CASE WHEN l0.source = 'survey' AND l0.na0 = 0 THEN l0.scored ELSE 0 END)
                     OVER (PARTITION BY l0.assessment_id) AS survey_any
          FROM ({rows}) l0) l1
"""


_LEAVES_PLAIN = """
    SELECT l0.*, l0.na0 AS na FROM ({rows}) l0
"""


# The terms the sums add up, per leaf row (`_LEAF_TERMS`), or per group of leaf rows sharing their
# unit, area, kind, source and not-applicable flags (`_GROUP_TERMS`, over `_FRAMEWORK_GROUPS`): a
# whole framework first folds its score rows into those groups with six plain sums, then adds the
# groups up with the eighteen conditional sums below over far fewer rows.
_LEAF_TERMS = {
    "final": "COALESCE(final_c, 0)",
    "self": "COALESCE(self_c, 0)",
    "max": "max_c",
    "entered": "CASE WHEN self_c IS NOT NULL THEN 1 ELSE 0 END",
    "one": "1",
    "scored": "scored",
}
_GROUP_TERMS = {
    "final": "g_final",
    "self": "g_self",
    "max": "g_max",
    "entered": "g_entered",
    "one": "g_n",
    "scored": "g_scored",
}
# The groups of a whole framework (`_FRAMEWORK_GROUP_CTES`, then `_FRAMEWORK_GROUPS`), without the
# assessment × leaf product: the framework's score rows alone, folded into groups per unit, area,
# kind, source and not-applicable decision (the cost grows with the score rows, as a plain
# aggregation's), plus per unit and (area, kind, source) one group of the leaves it has no score row
# for — applicable, unscored, worth the leaves' max less the max of those that have one (left out when
# there are none). The sums of a group are of two-decimal points, multiplied by 100 once summed: the
# same integer hundredths as the per-leaf terms. The groups' sums are INTEGER (a few leaves of one
# unit: hundredths far below 2^31): PostgreSQL then adds them up in 64-bit integers, not in NUMERIC
# as it adds BIGINTs. With an optional survey, `survey_any` is taken over the groups (a group of
# applicable survey leaves with some scored leaf), so `na` comes out as in `_LEAVES`; without one,
# no window (no sort). Parameters: the framework's id, four times (the CTEs' first).
_FRAMEWORK_GROUPS = """
    SELECT g1.*, CASE WHEN g1.na0 = 1 OR ({optional} = 1 AND g1.source = 'survey' AND g1.survey_any = 0)
                      THEN 1 ELSE 0 END AS na
    FROM (SELECT g0.*, {survey_any} AS survey_any
          FROM (
            SELECT * FROM scored_groups
            WHERE assessment_id IN (SELECT sa.id FROM scoring_assessment sa WHERE sa.framework_id = %s)
            UNION ALL
            SELECT a.id AS assessment_id, k.area_id, k.kind, k.source, 0 AS na0, 0 AS g_final, 0 AS g_self,
                   CAST(k.k_max - COALESCE(SUM(sg.g_max), 0) AS INTEGER) AS g_max, 0 AS g_entered,
                   CAST(k.k_n - COALESCE(SUM(sg.g_n), 0) AS INTEGER) AS g_n, 0 AS g_scored
            FROM scoring_assessment a
            CROSS JOIN leaf_kinds k
            LEFT JOIN scored_groups sg ON sg.assessment_id = a.id AND sg.area_id = k.area_id
                 AND sg.kind = k.kind AND sg.source = k.source
            WHERE a.framework_id = %s
            GROUP BY a.id, k.area_id, k.kind, k.source, k.k_max, k.k_n
            HAVING k.k_n > COALESCE(SUM(sg.g_n), 0)
          ) g0) g1
"""
_SURVEY_ANY = """MAX(CASE WHEN g0.source = 'survey' AND g0.na0 = 0 AND g0.g_scored > 0 THEN 1 ELSE 0 END)
                     OVER (PARTITION BY g0.assessment_id)"""
_FRAMEWORK_GROUP_CTES = """
    WITH leaf_kinds AS (
        SELECT c.area_id AS area_id, c.kind AS kind, c.source AS source, COUNT(*) AS k_n,
               SUM(CAST(ROUND(c.max_points * 100) AS INTEGER)) AS k_max
        FROM scoring_criterion c WHERE c.framework_id = %s AND c.is_leaf
        GROUP BY c.area_id, c.kind, c.source
    ),
    scored_groups AS (
        SELECT s.assessment_id AS assessment_id, c.area_id AS area_id, c.kind AS kind, c.source AS source,
               CASE WHEN COALESCE(s.appraised_not_applicable, s.not_applicable) THEN 1 ELSE 0 END AS na0,
               CAST(ROUND(COALESCE(SUM(COALESCE(s.appraised_points, s.self_points)), 0) * 100) AS INTEGER) AS g_final,
               CAST(ROUND(COALESCE(SUM(s.self_points), 0) * 100) AS INTEGER) AS g_self,
               CAST(ROUND(SUM(c.max_points) * 100) AS INTEGER) AS g_max,
               CAST(COUNT(s.self_points) AS INTEGER) AS g_entered, CAST(COUNT(*) AS INTEGER) AS g_n,
               CAST(SUM(CASE WHEN s.appraised_points IS NOT NULL OR s.self_points IS NOT NULL THEN 1 ELSE 0 END)
                    AS INTEGER) AS g_scored
        FROM scoring_score s
        JOIN scoring_criterion c ON c.id = s.criterion_id
        WHERE c.framework_id = %s AND c.is_leaf
        GROUP BY s.assessment_id, c.area_id, c.kind, c.source,
                 CASE WHEN COALESCE(s.appraised_not_applicable, s.not_applicable) THEN 1 ELSE 0 END
    )
"""


def _sums(t: dict[str, str]) -> str:
    def part(source: str, what: str) -> str:
        return f"SUM(CASE WHEN kind = 'score' AND source = '{source}' AND na = 0 THEN {what} ELSE 0 END)"

    return f"""
    SUM(CASE WHEN kind = 'score' AND na = 0 THEN {t["final"]} ELSE 0 END) AS score_c,
    SUM(CASE WHEN kind = 'score' AND na = 0 THEN {t["max"]} ELSE 0 END) AS max_c,
    {part("self", t["self"])} AS self_c,
    {part("self", t["final"])} AS self_part_c,
    {part("survey", t["final"])} AS survey_c,
    {part("office", t["final"])} AS office_c,
    {part("self", t["max"])} AS self_max_c,
    {part("self", t["entered"])} AS self_entered,
    SUM(CASE WHEN kind = 'bonus' AND na = 0 THEN {t["final"]} ELSE 0 END) AS bonus_c,
    SUM(CASE WHEN kind = 'penalty' AND na = 0 THEN {t["final"]} ELSE 0 END) AS penalty_c,
    SUM(CASE WHEN kind = 'score' AND na = 0 THEN {t["one"]} ELSE 0 END) AS applicable,
    SUM(CASE WHEN kind = 'score' AND na = 0 THEN {t["scored"]} ELSE 0 END) AS scored,
    SUM(CASE WHEN source = 'self' AND na0 = 0 THEN {t["one"]} ELSE 0 END) AS self_applicable,
    SUM(CASE WHEN source = 'self' AND na0 = 0 THEN {t["scored"]} ELSE 0 END) AS self_scored,
    SUM(CASE WHEN source = 'survey' AND na0 = 0 THEN {t["one"]} ELSE 0 END) AS survey_applicable,
    SUM(CASE WHEN source = 'survey' AND na0 = 0 THEN {t["scored"]} ELSE 0 END) AS survey_scored,
    SUM(CASE WHEN source = 'office' AND na0 = 0 THEN {t["one"]} ELSE 0 END) AS office_applicable,
    SUM(CASE WHEN source = 'office' AND na0 = 0 THEN {t["scored"]} ELSE 0 END) AS office_scored
"""


_SUMS = _sums(_LEAF_TERMS)
# Integers stay integers (PostgreSQL sums bigints as numeric, and the index divides them).
_GROUP_SUMS = re.sub(r"(SUM\(.*\)) AS (\w+)", r"CAST(\1 AS BIGINT) AS \2", _sums(_GROUP_TERMS))


_SUM_NAMES = re.findall(r" AS (\w+)", _SUMS)
_AREA_SUMS = "parindex_area_sums"


def _scaled_index(points_c: str, max_c: str, scale: int) -> str:
    """SQL for the index × 10^d rounded half-up (half away from zero), NULL when nothing applies."""
    k = 2 * 100 * scale
    return (
        f"CASE WHEN {max_c} > 0 THEN CASE WHEN {points_c} >= 0 "
        f"THEN ({k} * {points_c} + {max_c}) / (2 * {max_c}) "
        f"ELSE -(({k} * -({points_c}) + {max_c}) / (2 * {max_c})) END END"
    )


def _clamped(scaled_sql: str, scale: int, capped: bool = True) -> str:
    """SQL clamping an index × 10^d to 0 … 100: a bonus never lifts it above 100 (unless the
    framework is not capped), a penalty never below 0 (points and the bonus stay unclamped)."""
    if not capped:
        return f"(CASE WHEN {scaled_sql} < 0 THEN 0 ELSE {scaled_sql} END)"
    top = 100 * scale
    return f"(CASE WHEN {scaled_sql} > {top} THEN {top} WHEN {scaled_sql} < 0 THEN 0 ELSE {scaled_sql} END)"


def grade_sql(index_scaled: str, decimals: int) -> str:
    """SQL of the grade: the band with the highest minimum at or below the rounded index (compared
    ×10^4); one parameter, the framework's id."""
    return (
        "(SELECT b.name FROM scoring_gradeband b WHERE b.framework_id = %s "
        f"AND CAST(ROUND(b.min_index * 10000) AS INTEGER) <= {index_scaled} * {10 ** (4 - decimals)} "
        "ORDER BY b.min_index DESC LIMIT 1)"
    )


def rank_sql(index: str, ranked: str = "a.ranked", group: str = "a.ranking_group_id") -> str:
    """SQL of the competition rank (1, 2, 2, 4) on a rounded index, highest first, within each
    ranking group (the units in no group together); a unit assessed but not ranked holds no place
    and, partitioned apart, is left out of the others' ranks."""
    return (
        f"CASE WHEN {index} IS NULL OR NOT {ranked} THEN NULL "
        f"ELSE RANK() OVER (PARTITION BY {ranked}, COALESCE({group}, 0), ({index} IS NULL) "
        f"ORDER BY {index} DESC) END"
    )


def _as_decimal(integer_sql: str, divisor: int) -> str:
    # PostgreSQL divides NUMERIC exactly; SQLite stores REAL, which Django reads back quantized.
    cast = "NUMERIC" if connection.vendor == "postgresql" else "REAL"
    return f"(CAST({integer_sql} AS {cast}) / {divisor})"


def _moved(table: str) -> str:
    """The rank differs (NULL-safe, portable): rows whose place did not move are not rewritten."""
    rank = f'{table}."rank"'
    return f"({rank} <> r.rnk OR ({rank} IS NULL AND r.rnk IS NOT NULL) OR ({rank} IS NOT NULL AND r.rnk IS NULL))"


def _only(assessment_ids: Collection[int] | None, column: str = "a.id") -> tuple[str, list[int]]:
    if assessment_ids is None:
        return "", []
    ids = [int(i) for i in assessment_ids]
    return f"AND {column} IN ({', '.join(['%s'] * len(ids))})", ids


def _changed(table: str, columns: Iterable[str], new: str = "excluded") -> str:
    """SQL for an upsert's DO UPDATE … WHERE (or an UPDATE … FROM's WHERE, `new` naming the row of
    new values): some column differs from the proposed row (NULL-safe), so that a recompute rewrites
    only the rows whose figures moved."""
    op = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return " OR ".join(f'{table}."{c}" {op} {new}."{c}"' for c in columns)


def _write(
    cursor: CursorWrapper,
    table: str,
    key: list[str],
    columns: list[str],
    fixed: dict[str, str],
    select: str,
    params: list,
    upsert: bool,
    insert_select: str | None = None,
) -> tuple[int, int]:
    """Write the rows of `select` (one column per name of key + columns, in that order) into
    `table`, leaving alone the rows whose columns did not change; `fixed`: columns set on insertion
    only (SQL). Answers the numbers of rows updated and inserted.

    upsert (a save's few rows): one INSERT … ON CONFLICT DO UPDATE … WHERE <changed>. A whole
    framework: an UPDATE … FROM of the rows that changed, then an INSERT of the missing ones — an
    upsert would lock (write) every conflicting row even when its WHERE leaves it unchanged, which
    for tens of thousands of unchanged rows costs more than computing them. `insert_select`: the
    rows of `select` possibly missing from the table (cheaper to compute than all of them)."""
    names = [*key, *columns]
    inserted = ", ".join([*(f'"{c}"' for c in names), *(f'"{c}"' for c in fixed)])
    values = ", ".join([*(f'n."{c}"' for c in names), *fixed.values()])
    if upsert:
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in [*columns, *fixed_updates(fixed)])
        cursor.execute(
            f"""
            INSERT INTO {table} ({inserted}) SELECT {values} FROM ({select}) n WHERE 1 = 1
            ON CONFLICT ({", ".join(key)}) DO UPDATE SET {updates}
            WHERE {_changed(table, columns)}
            """,
            params,
        )
        return max(cursor.rowcount, 0), 0
    on_key = " AND ".join(f'{table}."{c}" = n."{c}"' for c in key)
    updates = ", ".join(
        [*(f'"{c}" = n."{c}"' for c in columns), *(f'"{c}" = {fixed[c]}' for c in fixed_updates(fixed))]
    )
    cursor.execute(
        f"UPDATE {table} SET {updates} FROM ({select}) n WHERE {on_key} AND ({_changed(table, columns, 'n')})",
        params,
    )
    written = max(cursor.rowcount, 0)
    cursor.execute(
        f"""
        INSERT INTO {table} ({inserted}) SELECT {values} FROM ({insert_select or select}) n
        WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {on_key})
        ON CONFLICT ({", ".join(key)}) DO NOTHING
        """,
        params,
    )
    return written, max(cursor.rowcount, 0)


def fixed_updates(fixed: dict[str, str]) -> list[str]:
    """Of the columns set on insertion, those an update refreshes too (when the row was computed)."""
    return [c for c in fixed if c == "computed_at"]


_AREA_COLUMNS = ["self_points", "points", "max_points", "index"]
_RESULT_COLUMNS = [
    "self_points", "score_points", "bonus_points", "penalty_points", "points", "max_points", "index",
    "grade", "provisional", "leaves_applicable", "leaves_scored", "self_part_points", "survey_points",
    "office_points", "self_max_points", "self_index", "self_leaves_applicable", "self_leaves_scored",
    "survey_leaves_applicable", "survey_leaves_scored", "office_leaves_applicable", "office_leaves_scored",
]  # fmt: skip


# Rows written by one statement from which the planner's statistics of the table are refreshed
# (ANALYZE) before the statements that join it: a first recompute after a bulk load otherwise plans
# the rank updates on an "empty" table (nested loops, minutes instead of a fraction of a second).
ANALYZE_AFTER_ROWS = 500
# The tables a recompute reads: their statistics are refreshed first when they lag behind.
STATISTICS_TABLES = [
    "scoring_score", "scoring_assessment", "scoring_criterion", "scoring_gradeband", "scoring_rankinggroup",
    "scoring_assessmentresult", "scoring_arearesult", "units_unit", "units_unit_predecessors",
]  # fmt: skip
RANKS_LOCK = "scoring.results.ranks"
RANKS_PENDING_KEY = "parindex:ranks-pending:{}"
RANKS_PENDING_TTL = 120  # seconds: a lost job holds later ones back at most this long
RANKS_TASK = "scoring.tasks.results_rank_task"
# When the last ranking job began reading (epoch seconds): every save answered before that time is
# in the ranks shown now. Pages may show it; the benchmark measures the ranking lag with it.
RANKS_AS_OF_KEY = "parindex:ranks-as-of:{}"


def results_recompute(framework: Framework, assessment_ids: Collection[int] | None = None) -> None:
    """Recompute the stored results of a framework.

    With `assessment_ids` (a save of some units' rows): only those assessments' own results (points,
    index, grade, area points) are written in the caller's transaction, which locks nothing but
    those rows; ranks, area ranks and year on year follow from `ranks_refresh` (at once with eager
    Celery, else by one coalesced job per framework after commit). Without: everything, now."""
    if assessment_ids is not None:
        if not assessment_ids:
            return
        if len(assessment_ids) <= 500:  # a whole-framework pass is cheaper than a very long IN list
            _results_own(framework, assessment_ids)
            ranks_refresh(framework)
            return
    _results_all(framework)


@transaction.atomic
def _results_own(framework: Framework, assessment_ids: Collection[int]) -> None:
    _compute(framework, assessment_ids)


@transaction.atomic
def _results_all(framework: Framework) -> None:
    """The whole framework in one transaction: results, ranks, year on year (its own and the
    following year's), then `results_computed_at`. Waits for a ranking job in progress."""
    advisory_xact_lock(RANKS_LOCK, framework.pk)
    _analyze_stale(STATISTICS_TABLES)
    # The leaf rows are aggregated by hashing: sorting 50 rows per unit first costs more.
    with _no_nested_loops(enable_sort="off"):
        written, final_ranks = _compute(framework, None)
    if written >= ANALYZE_AFTER_ROWS:
        _analyze(["scoring_assessmentresult", "scoring_arearesult"])
    _rank_framework(framework, ranks=not final_ranks)
    Framework.objects.filter(pk=framework.pk).update(results_computed_at=_now())


def _compute(framework: Framework, assessment_ids: Collection[int] | None) -> tuple[int, bool]:
    """Upsert the result rows (assessment results first, then area results: the order in which the
    ranking job locks them) of the framework or of some assessments; unchanged rows are left alone.
    Answers the number of rows written, and whether the ranks and area ranks written are final: a
    whole framework whose rows were all updated (ranked among all) or all inserted (none before)."""
    decimals = int(framework.index_decimals)
    scale = 10**decimals
    only, only_params = _only(assessment_ids)
    only_s, _ = _only(assessment_ids, "s0.assessment_id")
    # The score rows are narrowed to this framework's leaves (and, for a save, to its assessments)
    # before any join: the score table holds every year's rows, and a recompute reads only its own.
    rows = _LEAF_ROWS.format(scope=f"a.framework_id = %s {only}").replace(
        _SCORES_JOIN, f"LEFT JOIN ({_FRAMEWORK_SCORES.format(only_s=only_s)}) s ON", 1
    )
    # Without an optional survey no leaf depends on its unit's other leaves: no window (no sort).
    leaves = (
        _LEAVES.format(rows=rows, optional=1)
        if framework.survey_optional
        else _LEAVES_PLAIN.format(rows=rows)
    )
    base_params = [framework.pk, *only_params, framework.pk, *only_params]
    written = 0
    final_ranks = once = assessment_ids is None
    # Per assessment and per area, the sums of the leaves. A whole framework builds them once, into a
    # temporary table both upserts read (the leaf join is the costly part); a save's few assessments
    # inline them in each statement (no table created per save).
    by_area = f"SELECT assessment_id, area_id, {_SUMS} FROM ({leaves}) l GROUP BY assessment_id, area_id"
    by_area_params: list[int] = base_params

    with connection.cursor() as cursor:
        if once:
            optional = framework.survey_optional
            groups = _FRAMEWORK_GROUPS.format(
                optional=1 if optional else 0, survey_any=_SURVEY_ANY if optional else "1"
            )
            by_area = f"{_FRAMEWORK_GROUP_CTES} SELECT assessment_id, area_id, {_GROUP_SUMS} FROM ({groups}) g GROUP BY assessment_id, area_id"
            cursor.execute(f"CREATE TEMPORARY TABLE {_AREA_SUMS} AS {by_area}", [framework.pk] * 4)
            by_area, by_area_params = f"SELECT * FROM {_AREA_SUMS}", []
        by_assessment = (
            "SELECT assessment_id, "
            # integers stay integers (PostgreSQL sums bigints as numeric): the index divides them
            + ", ".join(f"CAST(SUM({name}) AS BIGINT) AS {name}" for name in _SUM_NAMES)
            + f" FROM ({by_area}) sa GROUP BY assessment_id"
        )
        # Assessment results: totals, index and grade.
        points_c = "(t.score_c + t.bonus_c - t.penalty_c)"
        index_scaled = (
            f"(CASE WHEN t.scored > 0 THEN "
            f"{_clamped(_scaled_index(points_c, 't.max_c', scale), scale, framework.index_capped)} END)"
        )
        # The self-assessed part alone (item of the provisional figures): self points over the
        # self-assessable max, no index until some self leaf has self points.
        self_index = f"(CASE WHEN t.self_entered > 0 THEN {_clamped(_scaled_index('t.self_c', 't.self_max_c', scale), scale)} END)"
        grade = grade_sql(index_scaled, decimals)
        # A whole framework holds every unit's row here: its ranks are written with the figures, in
        # the same pass (a first recompute otherwise writes every row twice; the rank statements
        # that follow then find nothing moved). A save's rows leave ranks to the ranking job.
        ranked = ["rank"] if once else []
        rank_column = (
            f', {rank_sql(index_scaled, "a.ranked", "a.ranking_group_id")} AS "rank"' if once else ""
        )
        results = f"""
            SELECT t.assessment_id AS assessment_id, {_as_decimal("t.self_c", 100)} AS self_points,
                   {_as_decimal("t.score_c", 100)} AS score_points, {_as_decimal("t.bonus_c", 100)} AS bonus_points,
                   {_as_decimal("t.penalty_c", 100)} AS penalty_points, {_as_decimal(points_c, 100)} AS points,
                   {_as_decimal("t.max_c", 100)} AS max_points, {_as_decimal(index_scaled, scale)} AS "index",
                   COALESCE({grade}, '') AS grade, (a.status NOT IN ('appraised', 'published')) AS provisional,
                   t.applicable AS leaves_applicable, t.scored AS leaves_scored,
                   {_as_decimal("t.self_part_c", 100)} AS self_part_points,
                   {_as_decimal("t.survey_c", 100)} AS survey_points,
                   {_as_decimal("t.office_c", 100)} AS office_points,
                   {_as_decimal("t.self_max_c", 100)} AS self_max_points,
                   {_as_decimal(self_index, scale)} AS self_index,
                   t.self_applicable AS self_leaves_applicable, t.self_scored AS self_leaves_scored,
                   t.survey_applicable AS survey_leaves_applicable, t.survey_scored AS survey_leaves_scored,
                   t.office_applicable AS office_leaves_applicable, t.office_scored AS office_leaves_scored
                   {rank_column}
            FROM ({by_assessment}) t
            JOIN scoring_assessment a ON a.id = t.assessment_id
        """
        fixed = {"framework_id": str(int(framework.pk)), "computed_at": "CURRENT_TIMESTAMP"}
        if not once:
            fixed["rank"] = "NULL"
        if once:
            # Rows inserted next to existing ones are ranked among themselves only (see below).
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM scoring_assessmentresult WHERE framework_id = %s),"
                " EXISTS (SELECT 1 FROM scoring_arearesult WHERE framework_id = %s)",
                [framework.pk, framework.pk],
            )
            had_results, had_areas = cursor.fetchone()
        updated, inserted = _write(
            cursor,
            "scoring_assessmentresult",
            ["assessment_id"],
            [*_RESULT_COLUMNS, *ranked],
            fixed,
            results,
            [framework.pk, *by_area_params],
            upsert=not once,
            # Only the units without a result are aggregated for the insertion (none, once computed):
            # their ranks there are among themselves, and the rank statements that follow correct them.
            insert_select=results.replace(
                f"FROM ({by_area}) sa",
                f"FROM ({by_area} m WHERE NOT EXISTS (SELECT 1 FROM scoring_assessmentresult r"
                " WHERE r.assessment_id = m.assessment_id)) sa",
            )
            if once
            else None,
        )
        written += updated + inserted
        final_ranks = final_ranks and not (inserted and had_results)

        # Area results: one row per assessment × area of kind "score".
        area_index = _scaled_index("t.score_c", "t.max_c", scale)
        # As `_rank_areas` ranks them: within each area and ranking group, on the rounded index.
        area_rank_column = (
            f", CASE WHEN {area_index} IS NULL OR NOT a.ranked THEN NULL ELSE RANK() OVER ("
            f"PARTITION BY t.area_id, a.ranked, COALESCE(a.ranking_group_id, 0), ({area_index} IS NULL) "
            f'ORDER BY {area_index} DESC) END AS "rank"'
            if once
            else ""
        )
        areas = f"""
            SELECT t.assessment_id AS assessment_id, t.area_id AS area_id,
                   {_as_decimal("t.self_c", 100)} AS self_points, {_as_decimal("t.score_c", 100)} AS points,
                   {_as_decimal("t.max_c", 100)} AS max_points, {_as_decimal(area_index, scale)} AS "index"
                   {area_rank_column}
            FROM ({by_area}) t
            JOIN scoring_criterion ar ON ar.id = t.area_id
            JOIN scoring_assessment a ON a.id = t.assessment_id
            WHERE ar.kind = 'score'
        """
        updated, inserted = _write(
            cursor,
            "scoring_arearesult",
            ["assessment_id", "area_id"],
            [*_AREA_COLUMNS, *ranked],
            {"framework_id": str(int(framework.pk))}
            if once
            else {"framework_id": str(int(framework.pk)), "rank": "NULL"},
            areas,
            by_area_params,
            upsert=not once,
            insert_select=areas.replace(
                f"FROM ({by_area}) t",
                f"FROM ({by_area} m WHERE NOT EXISTS (SELECT 1 FROM scoring_arearesult r"
                " WHERE r.assessment_id = m.assessment_id AND r.area_id = m.area_id)) t",
            )
            if once
            else None,
        )
        written += updated + inserted
        final_ranks = final_ranks and not (inserted and had_areas)
        if once:
            cursor.execute(f"DROP TABLE {_AREA_SUMS}")
    return written, final_ranks


def _rank_framework(framework: Framework, *, ranks: bool = True) -> None:
    """Ranks, area ranks (unless `ranks` is false: the caller wrote them already) and year on year
    of the whole framework (and the following year's year on year), in the caller's transaction.
    Whole-table joins: nested loops are switched off for them, so that stale planner statistics can
    never turn them quadratic."""
    with _no_nested_loops():
        for step in _rank_steps(framework, one_statement_per_area=False, ranks=ranks):
            step()


def _rank_steps(
    framework: Framework, *, one_statement_per_area: bool = True, ranks: bool = True
) -> list[Callable[[], None]]:
    """The statements of a re-rank, in order: ranks, area ranks, year on year, the following year's.
    The ranking job ranks one area per statement (and per short transaction: each locks, and holds
    from the saves, fewer rows); a whole-framework recompute, in one transaction anyway, every area
    in one statement."""
    areas: list[int | None] = list(_score_areas(framework)) if one_statement_per_area else [None]
    return [
        *([lambda: _rank(framework)] if ranks else []),
        *[lambda area=area: _rank(framework, area=area, areas=True) for area in (areas if ranks else [])],
        lambda: _year_on_year(framework),
        *[
            lambda following=following: _year_on_year(following)
            for following in _following_frameworks(framework)
        ],
    ]


def _score_areas(framework: Framework) -> list[int]:
    """The areas holding area results: those of kind "score" of the framework's leaves."""
    leaf_areas = framework.criteria.filter(is_leaf=True).values("area_id")
    return list(framework.criteria.filter(kind="score", pk__in=leaf_areas).values_list("pk", flat=True))


def _rank(framework: Framework, *, area: int | None = None, areas: bool = False) -> None:
    """Ranks of the framework's results or, with `areas`, area ranks (of one area, or all)."""
    with connection.cursor() as cursor:
        if areas:
            _rank_areas(cursor, framework, area)
            return
        # Competition ranks (1, 2, 2, 4) on the rounded index, within each ranking group (the units
        # in no group together); a unit assessed but not ranked holds no place and, partitioned
        # apart, is left out of the others' ranks.
        cursor.execute(
            """
            UPDATE scoring_assessmentresult SET "rank" = r.rnk
            FROM (SELECT res.assessment_id AS aid, {rank} AS rnk
                  FROM scoring_assessmentresult res JOIN scoring_assessment a ON a.id = res.assessment_id
                  WHERE res.framework_id = %s) r
            WHERE scoring_assessmentresult.assessment_id = r.aid
              AND scoring_assessmentresult.framework_id = %s
              AND {moved}
            """.replace("{moved}", _moved("scoring_assessmentresult")).replace(
                "{rank}", rank_sql('res."index"')
            ),
            [framework.pk, framework.pk],
        )


def _rank_areas(cursor: CursorWrapper, framework: Framework, area: int | None) -> None:
    """Competition ranks within each area (and ranking group) of one area's results, or all areas'."""
    if area is None:
        one_area, params = "", [framework.pk, framework.pk]
    else:
        one_area, params = "AND {t}.area_id = %s", [framework.pk, area, framework.pk, area]
    cursor.execute(
        """
        UPDATE scoring_arearesult SET "rank" = r.rnk
        FROM (SELECT ar.id AS rid,
                     CASE WHEN ar."index" IS NULL OR NOT a.ranked THEN NULL
                          ELSE RANK() OVER (PARTITION BY ar.area_id, a.ranked, COALESCE(a.ranking_group_id, 0),
                                                         (ar."index" IS NULL)
                                            ORDER BY ar."index" DESC) END AS rnk
              FROM scoring_arearesult ar JOIN scoring_assessment a ON a.id = ar.assessment_id
              WHERE ar.framework_id = %s {one_area_ar}) r
        WHERE scoring_arearesult.id = r.rid AND scoring_arearesult.framework_id = %s
          {one_area} AND {moved}
        """.replace("{moved}", _moved("scoring_arearesult"))
        .replace("{one_area_ar}", one_area.format(t="ar"))
        .replace("{one_area}", one_area.format(t="scoring_arearesult")),
        params,
    )


class _no_nested_loops:
    """PostgreSQL: for the whole-framework statements inside, no nested loops (stale statistics can
    never make them quadratic), no JIT compilation (the aggregates' cost estimates cross its
    threshold, and compiling costs more than these statements run) and room to aggregate the leaf
    rows in memory by hashing rather than sorting them (work_mem); restored after, transaction-local."""

    SETTINGS = {"enable_nestloop": "off", "jit": "off", "work_mem": "64MB"}

    def __init__(self, **more: str) -> None:
        self.settings = {**self.SETTINGS, **more}

    def __enter__(self) -> None:
        self.previous: list[str] | None = None
        if connection.vendor == "postgresql":
            names = list(self.settings)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT "
                    + ", ".join(f"current_setting('{n}'), set_config('{n}', %s, true)" for n in names),
                    [self.settings[n] for n in names],
                )
                row = cursor.fetchone()
                self.previous = [row[2 * i] for i in range(len(names))]

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None and connection.is_usable():
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT " + ", ".join(f"set_config('{n}', %s, true)" for n in self.settings),
                        self.previous,
                    )
            except DatabaseError:
                pass  # the transaction is already aborted: the settings go with it


def _analyze(tables: Iterable[str]) -> None:
    """Refresh the planner's statistics of these tables (PostgreSQL; SQLite plans by its indexes)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _analyze_stale(tables: list[str]) -> None:
    """ANALYZE those tables whose statistics lag behind their content (a bulk load or import not yet
    seen by autovacuum): more than a tenth of their rows (and 50) changed since the last analyze, as
    autovacuum's own default threshold says. One catalog query when nothing is stale."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT relname FROM pg_stat_user_tables
            WHERE relname = ANY(%s) AND n_mod_since_analyze > 0.1 * n_live_tup + 50
            """,
            [tables],
        )
        stale = [row[0] for row in cursor.fetchall()]
    _analyze(stale)


def _ranks_inline() -> bool:
    """Whether ranks follow a save in its own transaction: with eager Celery (development, tests),
    unless settings.RESULTS_RANKS_INLINE says otherwise."""
    from django.conf import settings

    return bool(getattr(settings, "RESULTS_RANKS_INLINE", settings.CELERY_TASK_ALWAYS_EAGER))


def ranks_refresh(framework: Framework) -> None:
    """Bring ranks, area ranks and year on year of the framework up to date after a save. Inline
    (eager Celery): now, in the caller's transaction. Otherwise once the transaction commits, by one
    coalesced job per framework (`ranks_schedule`)."""
    if _ranks_inline():
        with transaction.atomic():
            _rank_framework(framework)
            Framework.objects.filter(pk=framework.pk).update(results_computed_at=_now())
        return
    framework_id = int(framework.pk)
    transaction.on_commit(lambda: ranks_schedule(framework_id))


def ranks_schedule(framework_id: int, countdown: float | None = None) -> bool:
    """Queue the framework's ranking job unless one is already pending (the pending mark is a cache
    key the job clears when it starts, before it reads anything: a save committed before that is
    seen by it, a save committed after queues the next one). A burst of saves gives a few jobs.
    Answers whether a job was queued."""
    from django.conf import settings
    from django.core.cache import cache

    from parindex.celery import app as celery_app
    from parindex.queue import task_named

    key = RANKS_PENDING_KEY.format(framework_id)
    if not cache.add(key, 1, timeout=RANKS_PENDING_TTL):
        return False
    if countdown is None:
        countdown = float(getattr(settings, "RESULTS_RANKS_DEBOUNCE_SECONDS", 0.5))
    task = task_named(RANKS_TASK)
    if celery_app.conf.task_always_eager:
        task.apply_async((framework_id,), countdown=countdown or None)
        return True
    try:
        task.apply_async((framework_id,), countdown=countdown or None)
    except Exception:  # the broker is unreachable: the save is committed, never turn it into a 500
        logger.exception("could not queue the ranking job of framework %s", framework_id)
        cache.delete(key)  # the next save tries again
        return False
    return True


def results_rank_job(framework_id: int) -> str:
    """The coalesced ranking job (scoring.tasks.results_rank_task): idempotent, one at a time per
    framework (a transaction-level advisory lock; a job finding it taken queues a later run instead
    of waiting). Answers "ranked", "busy" (queued again, or another job took over), "published"
    (nothing to do) or "gone" (framework deleted)."""
    import time

    from django.core.cache import cache

    started = time.time()
    cache.delete(RANKS_PENDING_KEY.format(framework_id))
    framework = Framework.objects.filter(pk=framework_id).first()
    if framework is None:
        return "gone"
    if framework.status == FrameworkStatus.PUBLISHED:
        return "published"  # frozen: publication stored its final results and ranks
    # One short transaction per statement: the rows a step re-ranks stay locked (and the saves of
    # those units wait) only while that statement runs, not for the whole job.
    for number, step in enumerate(_rank_steps(framework)):
        with transaction.atomic():
            if not advisory_xact_lock(RANKS_LOCK, framework_id, wait=False):
                if number == 0:
                    transaction.on_commit(lambda: ranks_schedule(framework_id, countdown=1.0))
                # Later: a job that began after this one holds it, and brings everything up to date.
                return "busy"
            with _no_nested_loops():
                step()
    # Apart, after the ranks committed and the advisory lock is released: a plain row update
    # (FOR NO KEY UPDATE), which the saves' FOR KEY SHARE on the framework row does not conflict with.
    Framework.objects.filter(pk=framework_id).update(results_computed_at=_now())
    cache.set(RANKS_AS_OF_KEY.format(framework_id), started, timeout=None)
    return "ranked"


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def previous_framework(framework: Framework) -> Framework | None:
    """The previous year's framework whose ranking this one continues (its lineage, `_lineage`):
    places are compared only with it (§2.2). The latest such framework when there are several."""
    lineage = _lineage(framework, _previous_year_frameworks(framework))
    return max(lineage, key=lambda f: f.pk) if lineage else None


def _level_kinds(framework: Framework) -> set[str]:
    """Unit kinds of the level of every kind the framework covers: a unit's previous result counts
    from any framework of its level, whoever issued it (a former district's commune and township
    framework for a province's commune, ward and special-zone one)."""
    from units.models import unit_kinds_of_level

    return {kind for covered in framework.covered_kinds for kind in unit_kinds_of_level(covered)}


def _of_level(frameworks: Iterable[Framework], level: set[str]) -> list[Framework]:
    """The frameworks covering some kind of the level (any covered kind, not only the first)."""
    return [f for f in frameworks if level & set(f.covered_kinds)]


def _previous_year_frameworks(framework: Framework) -> list[Framework]:
    """The year before's frameworks of the same level, whoever issued them. One query."""
    return _of_level(Framework.objects.filter(year=framework.year - 1), _level_kinds(framework))


def _lineage(framework: Framework, previous: list[Framework]) -> list[Framework]:
    """Among the year before's frameworks, those whose ranking `framework` continues: the same
    authority and unit kind, and of those the ones covering the same kinds when some do (a province
    issuing one set for communes and another for wards continues each apart). A place held in any
    other ranking (another former authority, a ranking of another size) is never compared; within
    the lineage a place is compared only when it was held in the same ranking group (`_year_on_year`)."""
    same = [
        f for f in previous if f.authority_id == framework.authority_id and f.unit_kind == framework.unit_kind
    ]
    exact = [f for f in same if set(f.covered_kinds) == set(framework.covered_kinds)]
    return exact or same


def _in_list(column: str, ids: Collection[int]) -> tuple[str, list[int]]:
    """SQL `column IN (…)` with its parameters; never true for an empty list."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return "(1 = 0)", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", ids


def _following_frameworks(framework: Framework) -> list[Framework]:
    """Next year's frameworks of the same level that assessed a unit of this one or a successor."""
    from units.models import Unit

    units = Assessment.objects.filter(framework=framework).values("unit_id")
    successors = Unit.predecessors.through.objects.filter(to_unit_id__in=units).values("from_unit_id")
    following = (
        Framework.objects.filter(year=framework.year + 1)
        .filter(Q(assessments__unit_id__in=units) | Q(assessments__unit_id__in=successors))
        .distinct()
    )
    level = _level_kinds(framework)
    return [f for f in following if _level_kinds(f) & level]


def _half_up_div(num: str, den: str) -> str:
    """SQL integer num ÷ den (den > 0) rounded half away from zero."""
    return f"(CASE WHEN {num} >= 0 THEN (2 * {num} + {den}) / (2 * {den}) ELSE -((2 * -({num}) + {den}) / (2 * {den})) END)"


def previous_results_ctes(framework: Framework, previous: list[Framework] | None = None) -> tuple[str, list]:
    """The previous year's results used for year on year, as two SQL CTEs and their parameters, for
    a statement that first defines a CTE `cur` (one row per current unit, column `unit_id`):
    - `prev`: every stored result of the year before in a framework of the same level (whoever ran
      it): unit_id, paid (its assessment), fid, lin (1: the framework's lineage), grp, rnk, idx,
      pts_c, max_c, idx_s;
    - `best`: per unit of `cur` or predecessor of one, its one previous result (the lineage's
      framework first, then the latest framework).
    A unit's own previous result is its `best` row; without one, its predecessors' `best` rows
    taken together (scoring.results.forecast reads their leaves the same way). `previous`: the year
    before's frameworks of the level (`_previous_year_frameworks`), when the caller has them."""
    from units.models import Unit

    scale = 10 ** int(framework.index_decimals)
    if previous is None:
        previous = _previous_year_frameworks(framework)
    in_previous, previous_params = _in_list("r.framework_id", [f.pk for f in previous])
    in_lineage, lineage_params = _in_list("r.framework_id", [f.pk for f in _lineage(framework, previous)])
    predecessors = Unit.predecessors.through._meta.db_table
    sql = f"""
        prev AS (
            SELECT a.unit_id AS unit_id, r.assessment_id AS paid, r.framework_id AS fid,
                   CASE WHEN {in_lineage} THEN 1 ELSE 0 END AS lin, COALESCE(g.name, '') AS grp,
                   r."rank" AS rnk, r."index" AS idx,
                   CAST(ROUND(r.points * 100) AS INTEGER) AS pts_c,
                   CAST(ROUND(r.max_points * 100) AS INTEGER) AS max_c,
                   CAST(ROUND(r."index" * {scale}) AS INTEGER) AS idx_s
            FROM scoring_assessmentresult r
            JOIN scoring_assessment a ON a.id = r.assessment_id
            LEFT JOIN scoring_rankinggroup g ON g.id = a.ranking_group_id
            WHERE {in_previous}
        ),
        best AS (
            SELECT * FROM (
                SELECT prev.*,
                       ROW_NUMBER() OVER (PARTITION BY prev.unit_id ORDER BY prev.lin DESC, prev.fid DESC) AS pick
                FROM prev
                WHERE prev.unit_id IN (SELECT unit_id FROM cur)
                   OR prev.unit_id IN (SELECT q.to_unit_id FROM {predecessors} q
                                       WHERE q.from_unit_id IN (SELECT unit_id FROM cur))
            ) ranked WHERE pick = 1
        )
    """
    return sql, [*lineage_params, *previous_params]


def _year_on_year(framework: Framework) -> None:
    """Change in points, index and place against the unit's previous-year result, in one statement.

    The previous result is the unit's own result of the year before in any framework of the same
    level (any framework covering a kind of that level, whichever authority issued it; the lineage's
    framework first), else its predecessors' results taken together: points averaged, index pooled
    (sum of points ÷ sum of applicable max, clamped like every index), even across frameworks of
    different former authorities. A change of place is kept only when last year's place was held in
    the same ranking: a framework of this one's lineage (`_lineage`) AND the same ranking group (by
    name; no group on both sides counts as the same). For predecessors, when they all stood in one
    such ranking and group, the place their pooled index would have held among the other units
    ranked there. Figures are compared as integer hundredths and index × 10^d.
    """
    from units.models import Unit

    scale = 10 ** int(framework.index_decimals)
    previous_ctes, previous_params = previous_results_ctes(framework)
    predecessors = Unit.predecessors.through._meta.db_table
    pooled = _clamped(_scaled_index("p.pts_c", "p.max_c", scale), scale)
    prev_index_s = f"(CASE WHEN b.unit_id IS NOT NULL THEN b.idx_s WHEN p.n = 1 THEN p.idx_s_one WHEN p.n > 1 THEN {pooled} END)"
    prev_rank = (
        "(CASE WHEN b.unit_id IS NOT NULL THEN CASE WHEN b.lin = 1 AND b.grp = c.grp THEN b.rnk END"
        " WHEN p.n = 1 THEN CASE WHEN p.lin = 1 AND p.grp_lo = c.grp THEN p.rnk_one END"
        " WHEN p.n > 1 AND p.lin = 1 AND p.fid_lo = p.fid_hi AND p.grp_lo = c.grp AND p.grp_hi = c.grp"
        " AND p.all_ranked = 1 AND p.max_c > 0 THEN"
        f" 1 + (SELECT COUNT(*) FROM prev o WHERE o.fid = p.fid_lo AND o.grp = c.grp AND o.rnk IS NOT NULL"
        f" AND o.idx_s > {pooled})"
        f" - (SELECT COUNT(*) FROM {predecessors} q JOIN best o ON o.unit_id = q.to_unit_id"
        f" WHERE q.from_unit_id = c.unit_id AND o.idx_s > {pooled}) END)"
    )
    prev_points_c = (
        "(CASE WHEN b.unit_id IS NOT NULL THEN b.pts_c WHEN p.n = 1 THEN p.pts_c"
        f" WHEN p.n > 1 THEN {_half_up_div('p.pts_c', 'p.n')} END)"
    )
    fields = "y.pp, y.pi, y.pr, y.dp, y.di, y.dr"
    sql = f"""
        WITH cur AS (
            SELECT r.assessment_id AS aid, a.unit_id AS unit_id, r."rank" AS rnk, COALESCE(g.name, '') AS grp,
                   CAST(ROUND(r.points * 100) AS INTEGER) AS pts_c,
                   CAST(ROUND(r."index" * {scale}) AS INTEGER) AS idx_s
            FROM scoring_assessmentresult r JOIN scoring_assessment a ON a.id = r.assessment_id
            LEFT JOIN scoring_rankinggroup g ON g.id = a.ranking_group_id
            WHERE r.framework_id = %s
        ),
        {previous_ctes},
        pooled AS (
            SELECT q.from_unit_id AS unit_id, COUNT(*) AS n, SUM(b.pts_c) AS pts_c, SUM(b.max_c) AS max_c,
                   MIN(b.lin) AS lin, MIN(b.fid) AS fid_lo, MAX(b.fid) AS fid_hi,
                   MIN(b.grp) AS grp_lo, MAX(b.grp) AS grp_hi,
                   MIN(CASE WHEN b.rnk IS NULL THEN 0 ELSE 1 END) AS all_ranked,
                   MAX(b.idx_s) AS idx_s_one, MAX(b.rnk) AS rnk_one, MAX(b.idx) AS idx_one
            FROM {predecessors} q JOIN best b ON b.unit_id = q.to_unit_id
            WHERE q.from_unit_id IN (SELECT unit_id FROM cur)
            GROUP BY q.from_unit_id
        )
        UPDATE scoring_assessmentresult
        SET previous_points = y.pp, previous_index = y.pi, previous_rank = y.pr,
            points_change = y.dp, index_change = y.di, rank_change = y.dr
        FROM (
            SELECT z.aid, {_as_decimal("z.pp_c", 100)} AS pp,
                   CASE WHEN z.own_idx IS NOT NULL THEN z.own_idx ELSE {_as_decimal("z.pi_s", scale)} END AS pi,
                   z.pr, {_as_decimal("z.pts_c - z.pp_c", 100)} AS dp,
                   {_as_decimal("z.idx_s - z.pi_s", scale)} AS di, z.pr - z.rnk AS dr
            FROM (
                SELECT c.aid, c.pts_c, c.idx_s, c.rnk, {prev_points_c} AS pp_c, {prev_index_s} AS pi_s,
                       {prev_rank} AS pr,
                       CASE WHEN b.unit_id IS NOT NULL THEN b.idx WHEN p.n = 1 THEN p.idx_one END AS own_idx
                FROM cur c
                LEFT JOIN best b ON b.unit_id = c.unit_id
                LEFT JOIN pooled p ON p.unit_id = c.unit_id AND b.unit_id IS NULL
            ) z
        ) y
        WHERE scoring_assessmentresult.assessment_id = y.aid AND ({_moved_any(fields)})
    """
    # In the order of the placeholders: cur, then prev (lineage, then the year's frameworks).
    params = [framework.pk, *previous_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


_YOY_FIELDS = [
    "previous_points",
    "previous_index",
    "previous_rank",
    "points_change",
    "index_change",
    "rank_change",
]


def _moved_any(new_values: str) -> str:
    """SQL: some year-on-year column differs (NULL-safe, portable) from the new values, in order."""
    checks = []
    for name, value in zip(_YOY_FIELDS, [v.strip() for v in new_values.split(",")], strict=True):
        column = f"scoring_assessmentresult.{name}"
        checks.append(f"({column} <> {value} OR ({column} IS NULL) <> ({value} IS NULL))")
    return " OR ".join(checks)


def framework_results_stale(framework: Framework) -> bool:
    """True when some assessment has no stored result (e.g. created in bulk outside the services)."""
    return Assessment.objects.filter(framework=framework, result__isnull=True).exists()


__all__ = ["results_recompute", "previous_framework", "framework_results_stale", "AreaResult"]
