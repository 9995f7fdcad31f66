"""Year on year against any framework, following the 2025 mergers: the one rule the report workbook's
year sheet and change columns and the annexes' Phụ lục III share."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from parindex.numbers import round_half_up
from scoring.models import Framework
from scoring.results.engine import previous_framework
from scoring.results.selectors import RankingLine, ranking
from units.models import Unit

ZERO = Decimal("0")


@dataclass
class YearLine:
    line: RankingLine
    compared_with: list[str]
    previous_points: Decimal | None
    previous_index: Decimal | None
    previous_rank: int | None
    points_change: Decimal | None
    index_change: Decimal | None
    rank_change: int | None


def year_lines(framework: Framework, compare: Framework, lines: list[RankingLine]) -> list[YearLine]:
    """Year on year for every unit, following mergers: the unit's own result in the compared
    framework, else its predecessors' (one: its figures; several: points averaged, index pooled).

    When the compared framework is the previous year's, the stored previous_* figures are used as
    they are (they are what the dashboard shows); for any other framework they are derived here
    with the same rule from that framework's stored results."""
    places = framework.index_decimals
    idx = lambda value: None if value is None else round_half_up(value, places)  # noqa: E731
    before = {line.unit_id: line for line in ranking(compare, with_areas=False)}  # 1 query
    predecessors: dict[int, list[int]] = defaultdict(list)
    for unit_id, predecessor_id in Unit.predecessors.through.objects.filter(  # 1 query
        from_unit_id__in=[line.unit_id for line in lines]
    ).values_list("from_unit_id", "to_unit_id"):
        predecessors[unit_id].append(predecessor_id)
    use_stored = previous_framework(framework) == compare  # 1 query
    previous_indices = sorted((r.index for r in before.values() if r.index is not None), reverse=True)
    result = []
    for line in lines:
        unit_id = line.unit_id
        refs = (
            [before[unit_id]]
            if unit_id in before
            else [before[p] for p in predecessors.get(unit_id, ()) if p in before]
        )
        refs.sort(key=lambda r: r.unit_code)
        codes = [r.unit_code for r in refs]
        if use_stored:
            result.append(
                YearLine(
                    line,
                    codes,
                    line.previous_points,
                    line.previous_index,
                    line.previous_rank,
                    line.points_change,
                    line.index_change,
                    line.rank_change,
                )
            )
            continue
        prev_points = prev_index = prev_rank = None
        if len(refs) == 1:
            prev_points, prev_index, prev_rank = refs[0].points, idx(refs[0].index), refs[0].rank
        elif refs:
            pooled_points = sum((r.points for r in refs), ZERO)
            prev_points = round_half_up(pooled_points / len(refs), 2)
            pooled_max = sum((r.max_points for r in refs), ZERO)
            if pooled_max > 0:
                prev_index = round_half_up(pooled_points * 100 / pooled_max, places)
                own = [r.index for r in refs if r.index is not None]
                prev_rank = (
                    1
                    + sum(1 for i in previous_indices if i > prev_index)
                    - sum(1 for i in own if i > prev_index)
                )
        result.append(
            YearLine(
                line,
                codes,
                prev_points,
                prev_index,
                prev_rank,
                None if prev_points is None else line.points - prev_points,
                None if prev_index is None or line.index is None else line.index - prev_index,
                None if prev_rank is None or line.rank is None else prev_rank - line.rank,
            )
        )
    return result
