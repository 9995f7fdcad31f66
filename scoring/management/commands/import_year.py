from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from parindex.errors import ServiceError, bilingual
from scoring.backup.archive import year_import
from scoring.management.commands._common import refused


class Command(BaseCommand):
    help = (
        "Restore an archive written by export_year, all or nothing, into a database that does not "
        "hold its framework (units already there identically are reused)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="FILE.zip written by export_year")

    def handle(self, *args, **options):
        try:
            with open(options["file"], "rb") as source:
                framework = year_import(source=source)
        except OSError as exc:
            raise CommandError(bilingual("Cannot read %(file)s.", file=options["file"])) from exc
        except ServiceError as error:
            raise refused(error) from None
        self.stdout.write(
            _("Restored framework %(code)s (%(year)s): %(assessments)s assessments.")
            % {"code": framework.code, "year": framework.year, "assessments": framework.assessments.count()}
        )
