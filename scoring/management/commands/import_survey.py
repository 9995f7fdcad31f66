from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from parindex.spreadsheets import command_failure, file_label
from scoring import access
from scoring.exchange.importers import import_survey_file
from scoring.management.commands._common import check_access, get_framework, get_user


class Command(BaseCommand):
    help = (
        "Import survey results (one row per unit, one column per survey criterion) into a framework: "
        "points or percentages, KAD for not applicable, optional sample sizes."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--user", help="username to attribute the change to")
        parser.add_argument(
            "--as",
            dest="mode",
            choices=("points", "percent"),
            help="the file's values are points (default) or percentages satisfied, converted to "
            "max × p ÷ 100 (by default, as the file says in a 'Cách nhập' cell above the table)",
        )

    def handle(self, *args, **options):
        path = options["file"]
        framework = get_framework(options["framework"])
        actor = get_user(options.get("user"))
        if actor is not None:
            framework = check_access(actor, access.get_framework_for_change, framework.code)
        try:
            data, result = import_survey_file(
                path,
                framework=framework,
                actor=actor,
                as_percent=None if options.get("mode") is None else options["mode"] == "percent",
            )
        except ValidationError as error:
            raise command_failure(self.stderr, error, file_label(path)) from error
        self.stdout.write(
            _(
                "Survey points of %(framework)s: %(units)s unit(s), %(changed)s score(s) changed, %(unchanged)s unchanged."
            )
            % {
                "framework": framework.code,
                "units": len(data.entries),
                "changed": result.changed,
                "unchanged": result.unchanged,
            }
        )
