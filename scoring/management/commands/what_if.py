import json

from django.core.management.base import BaseCommand, CommandError

from parindex.errors import bilingual
from parindex.numbers import as_json_decimal
from scoring.management.commands._common import get_framework
from scoring.models import Assessment
from scoring.results.what_if import what_if


def what_if_as_dicts(assessment: Assessment, top: int | None = None) -> list[dict]:
    """The what-if in the JSON shape of DESIGN §5: decimals as strings, best first."""
    places = assessment.framework.index_decimals
    return [
        {
            "code": item.code,
            "title": item.title,
            "points": as_json_decimal(item.points),
            "max_points": as_json_decimal(item.max_points),
            "gain_points": as_json_decimal(item.gain_points),
            "index": as_json_decimal(item.index, places),
            "rank": item.rank,
            "places_gained": item.places_gained,
        }
        for item in what_if(assessment, top=top)
    ]


class Command(BaseCommand):
    help = (
        "Which criteria would gain a unit the most places: each applicable criterion below its max "
        "raised alone to its max, with the index and place it would give, best first (JSON)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--unit", required=True, help="unit code")
        parser.add_argument("--format", choices=["json"], default="json")
        parser.add_argument("--top", type=int, help="only the N best criteria")

    def handle(self, *args, framework, unit, format, top=None, **options):
        fw = get_framework(framework)
        assessment = (
            Assessment.objects.select_related("framework", "unit")
            .filter(framework=fw, unit__code=unit)
            .first()
        )
        if assessment is None:
            raise CommandError(
                bilingual("Unit %(unit)s has no assessment in framework %(code)s.", unit=unit, code=fw.code)
            )
        if top is not None and top < 1:
            raise CommandError(bilingual("--top must be a positive number."))
        self.stdout.write(json.dumps(what_if_as_dicts(assessment, top=top), ensure_ascii=False, indent=2))
