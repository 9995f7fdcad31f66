from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from parindex.errors import ServiceError
from scoring.backup.archive import year_export
from scoring.management.commands._common import get_framework, refused


class Command(BaseCommand):
    help = (
        "Write one archive (zip) of a framework's year: units involved, framework and criteria, "
        "assessments, scores, evidence files and uploaded originals, audit, results, remediation; "
        "with a manifest and checksums. import_year restores it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--out", required=True, help="FILE.zip")

    def handle(self, *args, **options):
        framework = get_framework(options["framework"])
        try:
            manifest = year_export(framework=framework, out=options["out"])
        except ServiceError as error:
            raise refused(error) from None
        self.stdout.write(
            _("Written %(file)s: %(rows)s rows, %(files)s files.")
            % {
                "file": options["out"],
                "rows": sum(manifest["counts"].values()),
                "files": len(manifest["files"]),
            }
        )
