import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from parindex.csv_export import EXCEL_VI, MACHINE, csv_text
from parindex.numbers import as_json_decimal
from scoring.frameworks.selectors import framework_by_code
from scoring.models import Framework
from scoring.results.selectors import ranking


def _dec(value, places=2):
    return as_json_decimal(value, places)


def _number(value):
    """The decimal strings of the JSON shape as numbers again, for the CSV writer's decimal mark."""
    return Decimal(value) if isinstance(value, str) and value else value


def ranking_as_dicts(framework: Framework, group: str | None = None) -> list[dict]:
    """The ranking in the JSON shape of DESIGN §5: decimals as strings, best first (group by group);
    only the ranking group named `group` when given."""
    places = framework.index_decimals
    items = []
    for line in ranking(framework, group=group):
        change = None
        if line.points_change is not None:
            change = {
                "points": _dec(line.points_change),
                "index": _dec(line.index_change, places),
                "rank": line.rank_change,
            }
        items.append(
            {
                "rank": line.rank,
                "unit_code": line.unit_code,
                "unit_name": line.unit_name,
                "points": _dec(line.points),
                "max_points": _dec(line.max_points),
                "index": _dec(line.index, places),
                "grade": line.grade or None,
                "provisional": line.provisional,
                "areas": [
                    {
                        "code": area.code,
                        "points": _dec(area.points),
                        "max_points": _dec(area.max_points),
                        "index": _dec(area.index, places),
                        "rank": area.rank,
                    }
                    for area in line.areas
                ],
                "change": change,
                "group": line.group,
                "ranked": line.ranked,
                "not_ranked_reason": line.not_ranked_reason or None,
                "self_points": _dec(line.self_points),
                "bonus_points": _dec(line.bonus_points),
                "penalty_points": _dec(line.penalty_points),
                "status": line.status,
                "parts": {
                    "self": _dec(line.self_part_points),
                    "survey": _dec(line.survey_points),
                    "office": _dec(line.office_points),
                    "bonus": _dec(line.bonus_points),
                    "penalty": _dec(line.penalty_points),
                },
            }
        )
    return items


CSV_COLUMNS = [
    "rank",
    "unit_code",
    "unit_name",
    "points",
    "max_points",
    "index",
    "grade",
    "provisional",
    "change_points",
    "change_index",
    "change_rank",
    "self_points",
    "bonus_points",
    "penalty_points",
    "status",
    "group",
    "ranked",
]


class Command(BaseCommand):
    help = "Print the ranking of a framework (xếp hạng) as JSON or CSV, best first, from the stored results."

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--group", help="only the ranking group of this name")
        parser.add_argument(
            "--sep",
            choices=[",", ";"],
            default=",",
            help='CSV for programs with "," and decimal dots (default), or ";" for Excel in a Vietnamese '
            "locale (semicolons, decimal commas, UTF-8 BOM)",
        )

    def handle(self, *args, framework, format, group=None, sep=",", **options):
        try:
            fw = framework_by_code(framework)
        except Framework.DoesNotExist as exc:
            raise CommandError(
                f"Không có bộ chỉ số mã “{framework}”. / There is no framework with code “{framework}”."
            ) from exc
        if group is not None and not fw.ranking_groups.filter(name=group).exists():
            names = ", ".join(fw.ranking_groups.values_list("name", flat=True)) or "—"
            raise CommandError(
                f"Bộ chỉ số {fw.code} không có nhóm xếp hạng “{group}” (các nhóm: {names}). / "
                f"Framework {fw.code} has no ranking group “{group}” (groups: {names})."
            )
        items = ranking_as_dicts(fw, group=group)
        out = self.stdout
        if format == "json":
            out.write(json.dumps(items, ensure_ascii=False, indent=2))
            return
        area_codes = [area["code"] for area in items[0]["areas"]] if items else []
        header = list(CSV_COLUMNS)
        for code in area_codes:
            header += [
                f"area_{code}_points",
                f"area_{code}_max_points",
                f"area_{code}_index",
                f"area_{code}_rank",
            ]
        # The decimal columns: points, max, index, their changes, the parts, and each area's figures.
        numbers = {3, 4, 5, 8, 9, 11, 12, 13} | {
            len(CSV_COLUMNS) + 4 * i + j for i in range(len(area_codes)) for j in range(3)
        }
        rows = []
        for item in items:
            change = item["change"] or {}
            row = [
                item["rank"],
                item["unit_code"],
                item["unit_name"],
                item["points"],
                item["max_points"],
                item["index"],
                item["grade"] or "",
                "true" if item["provisional"] else "false",
                change.get("points", ""),
                change.get("index", ""),
                change.get("rank", ""),
                item["self_points"],
                item["bonus_points"],
                item["penalty_points"],
                item["status"],
                item["group"] or "",
                "true" if item["ranked"] else "false",
            ]
            by_code = {area["code"]: area for area in item["areas"]}
            for code in area_codes:
                area = by_code.get(code, {})
                row += [
                    area.get("points", ""),
                    area.get("max_points", ""),
                    area.get("index", ""),
                    area.get("rank", ""),
                ]
            rows.append([_number(value) if i in numbers else value for i, value in enumerate(row)])
        # One CSV writer (parindex.csv_export); OutputWrapper adds no newline to a text that ends with one.
        out.write(csv_text(header, rows, EXCEL_VI if sep == ";" else MACHINE), ending="")
