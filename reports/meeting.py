"""The steering committee's meeting (issue 17): where the index will land, what is at risk, and what
last year lost and what has been fixed since — one printable page for the leader and the office.

Reads only: the forecast (scoring.results.forecast), last year's leaves of the framework this one
continues (scoring.results.engine.previous_framework; the engine's leaf rows, so that points lost
are counted as the results count them) and last year's remediation items. A fixed number of queries
whatever the number of units, the inspections' open recommendations included (one query)."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q

from reports.models import RemediationItem, RemediationStatus
from scoring.inspections.selectors import open_recommendations
from scoring.models import Framework
from scoring.results.engine import _LEAF_ROWS, _LEAVES, previous_framework
from scoring.results.forecast import Forecast, forecast


@dataclass
class LostLastYear:
    """One criterion of last year's framework: the points the units lost on it, and its remediation."""

    code: str
    title: str
    lost: Decimal  # max − final points, summed over the units (applicable leaves; unscored lost all)
    units: int  # units that lost points on it
    planned: int = 0  # remediation items on it
    fixed: int = 0  # of which done
    at_risk_now: int = 0  # units whose forecast on the leaf of that code is at risk this year


@dataclass
class Meeting:
    framework: Framework
    board: Forecast
    previous: Framework | None
    lost: list[LostLastYear] = field(default_factory=list)
    recommendations: list = field(default_factory=list)  # the inspections' open recommendations

    @property
    def at_risk_lines(self):
        return [line for line in self.board.lines if line.at_risk]

    @property
    def remediation_total(self) -> tuple[int, int]:
        return sum(x.planned for x in self.lost), sum(x.fixed for x in self.lost)


def steering_meeting(framework: Framework, *, criteria_shown: int = 15) -> Meeting:
    board = forecast(framework)
    previous = previous_framework(framework)
    meeting = Meeting(framework, board, previous, recommendations=open_recommendations(framework))
    if previous is None:
        return meeting
    leaves = _LEAVES.format(
        rows=_LEAF_ROWS.format(scope="a.framework_id = %s"), optional=1 if previous.survey_optional else 0
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT l.code, c.title, SUM(l.max_c - COALESCE(l.final_c, 0)) AS lost_c, COUNT(*) AS units, MIN(c."order")
            FROM ({leaves}) l JOIN scoring_criterion c ON c.id = l.criterion_id
            WHERE l.kind = 'score' AND l.na = 0 AND COALESCE(l.final_c, 0) < l.max_c
            GROUP BY l.code, c.title
            ORDER BY lost_c DESC, MIN(c."order")
            """,
            [previous.pk],
        )
        rows = cursor.fetchall()[:criteria_shown]
    remediation = {
        code: (total, done)
        for code, total, done in RemediationItem.objects.filter(assessment__framework=previous)
        .values("criterion__code")
        .annotate(total=Count("id"), done=Count("id", filter=Q(status=RemediationStatus.DONE)))
        .values_list("criterion__code", "total", "done")
    }
    at_risk_now: dict[str, int] = {}
    for line in board.lines:
        for leaf in line.at_risk:
            at_risk_now[leaf.code] = at_risk_now.get(leaf.code, 0) + 1
    for code, title, lost_c, units, _order in rows:
        planned, fixed = remediation.get(code, (0, 0))
        meeting.lost.append(
            LostLastYear(
                code=code,
                title=title,
                lost=(Decimal(int(lost_c)) / 100).quantize(Decimal("0.01")),
                units=int(units),
                planned=planned,
                fixed=fixed,
                at_risk_now=at_risk_now.get(code, 0),
            )
        )
    return meeting
