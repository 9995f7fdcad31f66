from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from scoring.exchange.workbooks import framework_export
from scoring.management.commands._common import get_framework


class Command(BaseCommand):
    help = "Write a framework as a framework file (.xlsx or .csv) that import_framework reads back."

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True)
        parser.add_argument("--out", required=True, help="FILE.xlsx or FILE.csv")

    def handle(self, *args, **options):
        framework = get_framework(options["framework"])
        framework_export(framework, options["out"])
        self.stdout.write(
            _("Written %(file)s: %(count)s criteria.")
            % {"file": options["out"], "count": framework.criteria.count()}
        )
