import csv
import json

from django.core.management.base import BaseCommand

from parindex.numbers import as_json_decimal
from scoring.management.commands._common import get_framework
from scoring.models import Framework
from scoring.results.forecast import forecast


def forecast_as_dicts(framework: Framework) -> list[dict]:
    """The forecast in the JSON shape of DESIGN §5: decimals as strings, best first (group by group)."""
    places = framework.index_decimals
    return [
        {
            "unit_code": line.unit_code,
            "unit_name": line.unit_name,
            "index": as_json_decimal(line.index, places),
            "grade": line.grade or None,
            "rank": line.rank,
            "certain": line.certain,
            "at_risk": [
                {
                    "code": leaf.code,
                    "points": as_json_decimal(leaf.points),
                    "max_points": as_json_decimal(leaf.max_points),
                }
                for leaf in line.at_risk
            ],
            "points": as_json_decimal(line.points),
            "max_points": as_json_decimal(line.max_points),
            "group": line.group,
            "ranked": line.ranked,
            "next_grade": line.next_grade,
            "to_next_grade": as_json_decimal(line.to_next_grade, places),
        }
        for line in forecast(framework)
    ]


CSV_COLUMNS = [
    "unit_code",
    "unit_name",
    "index",
    "grade",
    "rank",
    "certain",
    "at_risk",
    "points",
    "max_points",
    "group",
    "ranked",
    "next_grade",
    "to_next_grade",
]


class Command(BaseCommand):
    help = (
        "Print the forecast of a framework (dự báo kết quả) as JSON or CSV, best first: each unit's "
        "forecast index, grade and rank, whether it is certain, and the criteria at risk."
    )

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args, framework, format, **options):
        items = forecast_as_dicts(get_framework(framework))
        if format == "json":
            self.stdout.write(json.dumps(items, ensure_ascii=False, indent=2))
            return
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for item in items:
            # at_risk in one cell: code:points/max_points;…
            risk = ";".join(f"{x['code']}:{x['points']}/{x['max_points']}" for x in item["at_risk"])
            row = {**item, "at_risk": risk}
            row["certain"] = "true" if item["certain"] else "false"
            row["ranked"] = "true" if item["ranked"] else "false"
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
