from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from parindex.spreadsheets import command_failure, file_label
from scoring import access
from scoring.exchange.importers import (
    INDEX_CAPPED,
    INDEX_UNCAPPED,
    SURVEY_OPTIONAL,
    SURVEY_REQUIRED,
    import_framework_file,
)
from scoring.frameworks.services import DEFAULT_BANDS
from scoring.management.commands._common import check_access, get_user
from units.models import Unit


class Command(BaseCommand):
    help = "Create a framework (Bộ chỉ số) from a framework file (.xlsx first sheet, or .csv)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--code", required=True, help="unique code of the new framework")
        parser.add_argument("--authority", required=True, help="code of the issuing unit")
        parser.add_argument(
            "--unit-kind",
            required=True,
            help="kinds of unit assessed, separated by commas: province, district, department, commune, ward, "
            "special_zone, township",
        )
        parser.add_argument(
            "--groups",
            default="",
            help='ranking groups, e.g. "Xã:commune,special_zone;Phường:ward" (unit kinds or unit codes)',
        )
        parser.add_argument("--year", required=True, type=int)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--bands", default=DEFAULT_BANDS, help='e.g. "Xuất sắc:90,Tốt:80,Khá:70,Trung bình:50,Yếu:0"'
        )
        parser.add_argument("--decimals", type=int, default=2, help="decimals of the index (0-4)")
        parser.add_argument("--legal-basis", default="")
        parser.add_argument(
            "--index-cap",
            choices=[INDEX_CAPPED, INDEX_UNCAPPED],
            help="100: the index never exceeds 100; none: bonus points may lift it higher "
            "(default: what an exported workbook says, else 100)",
        )
        parser.add_argument(
            "--survey",
            choices=[SURVEY_REQUIRED, SURVEY_OPTIONAL],
            help="optional: a unit with no survey result is indexed on its remaining applicable max "
            "(default: what an exported workbook says, else required)",
        )
        parser.add_argument("--user", help="username to attribute the change to")

    def handle(self, *args, **options):
        path = options["file"]
        actor = get_user(options.get("user"))
        if actor is not None and Unit.objects.filter(code=options["authority"]).exists():
            # An unknown authority is the importer's error, reported with the file's other problems.
            check_access(actor, access.get_unit_for_change, options["authority"])
        try:
            framework = import_framework_file(
                path,
                code=options["code"],
                authority=options["authority"],
                unit_kind=options["unit_kind"],
                year=options["year"],
                name=options["name"],
                bands=options["bands"],
                decimals=options["decimals"],
                legal_basis=options["legal_basis"],
                index_capped=None if options["index_cap"] is None else options["index_cap"] == INDEX_CAPPED,
                survey_optional=None if options["survey"] is None else options["survey"] == SURVEY_OPTIONAL,
                groups=options["groups"],
                actor=actor,
            )
        except ValidationError as error:
            raise command_failure(self.stderr, error, file_label(path)) from error
        criteria = framework.criteria.count()
        leaves = framework.criteria.filter(is_leaf=True).count()
        self.stdout.write(
            _("Framework %(code)s created: %(criteria)s criteria (%(leaves)s scored), %(bands)s grade bands.")
            % {
                "code": framework.code,
                "criteria": criteria,
                "leaves": leaves,
                "bands": framework.grade_bands.count(),
            }
        )
