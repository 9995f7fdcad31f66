from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from parindex.errors import bilingual
from scoring.assessments.services import unit_kind_error
from scoring.exchange.workbooks import assessment_workbook
from scoring.management.commands._common import get_framework, refused
from units.models import Unit


class Command(BaseCommand):
    help = "Write the self-assessment workbook of a unit in a framework (the same file the web offers)."

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True)
        parser.add_argument("--unit", required=True)
        parser.add_argument("--out", required=True, help="FILE.xlsx")

    def handle(self, *args, **options):
        framework = get_framework(options["framework"])
        unit = Unit.objects.filter(code=options["unit"]).first()
        if unit is None:
            raise CommandError(bilingual("Unknown unit %(code)s.", code=options["unit"]))
        refusal = unit_kind_error(unit, framework)
        if refusal is not None:
            raise refused(refusal)
        assessment_workbook(unit=unit, framework=framework).save(options["out"])
        self.stdout.write(_("Written %(file)s.") % {"file": options["out"]})
