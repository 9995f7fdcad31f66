from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from parindex.spreadsheets import command_failure, file_label
from units.importers import import_units_file


class Command(BaseCommand):
    help = "Import or update units from a units file (.xlsx or .csv): Mã đơn vị, Tên đơn vị, Loại, …"

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            result = import_units_file(file)
        except ValidationError as error:
            raise command_failure(self.stderr, error, file_label(file)) from error
        self.stdout.write(
            _("%(file)s: %(created)s unit(s) created, %(updated)s updated.")
            % {"file": file_label(file), "created": result.created, "updated": result.updated}
        )
