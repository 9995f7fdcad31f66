from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from parindex.errors import bilingual
from parindex.spreadsheets import command_failure, file_label
from scoring import access
from scoring.exchange.importers import APPRAISAL, SELF, apply_assessment, read_assessment
from scoring.management.commands._common import check_access, get_framework, get_user


class Command(BaseCommand):
    help = "Import a unit's self-assessment or appraisal workbook (.xlsx or .csv) into a framework."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--unit", help="unit code, when the workbook does not carry it")
        parser.add_argument("--stage", choices=[SELF, APPRAISAL], default=SELF)
        parser.add_argument("--user", help="username to attribute the change to")
        parser.add_argument(
            "--submit",
            action="store_true",
            help="(stage self) submit the assessment after the import, as the Submit button does; "
            "a refused submission keeps nothing of the import",
        )

    def handle(self, *args, **options):
        path = options["file"]
        framework = get_framework(options["framework"])
        actor = get_user(options.get("user"))
        submit = options.get("submit", False)
        if submit and options["stage"] != SELF:
            raise CommandError(
                bilingual(N_("--submit submits a self-assessment; it is not used with --stage appraisal."))
            )
        try:
            data = read_assessment(
                path, framework=framework, stage=options["stage"], unit_code=options.get("unit"), actor=actor
            )
            if actor is not None:
                check_access(
                    actor,
                    access.ensure_assessment_import,
                    framework=framework,
                    unit=data.unit,
                    stage=data.stage,
                )
            result = apply_assessment(data, actor=actor, submit=submit)
        except ValidationError as error:
            raise command_failure(self.stderr, error, file_label(path)) from error
        self.stdout.write(
            _(
                "%(unit)s in %(framework)s: %(rows)s criteria read, %(changed)s changed, %(unchanged)s unchanged."
            )
            % {
                "unit": data.unit.code,
                "framework": framework.code,
                "rows": data.count,
                "changed": result.changed,
                "unchanged": result.unchanged,
            }
        )
        if submit:
            self.stdout.write(_("The self-assessment of %(unit)s is submitted.") % {"unit": data.unit.code})
