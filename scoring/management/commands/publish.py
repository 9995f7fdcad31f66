"""manage.py publish --framework CODE --decision "4769/QĐ-UBND" --date 2024-12-25 [--exclude UNIT --reason "…"]…

The same service and rules as the publication page (framework_publish): refused, with every problem
listed in Vietnamese and English, a non-zero exit and nothing changed, while the framework is not final,
a unit is neither appraised nor excluded, the appeal deadline has not passed, or the decision is
missing or dated in the future."""

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from parindex.errors import ServiceError, bilingual
from scoring import access
from scoring.frameworks.services import framework_publish
from scoring.management.commands._common import check_access, get_framework, get_user, refused
from scoring.models import Via


class Command(BaseCommand):
    help = (
        "Publish a framework's final results by the approval decision and lock it; units not appraised "
        "are published only when excluded by name with a reason (--exclude UNIT --reason TEXT, repeatable)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--decision", required=True, help='decision number, e.g. "4769/QĐ-UBND"')
        parser.add_argument("--date", required=True, help="decision date, YYYY-MM-DD")
        parser.add_argument(
            "--exclude", action="append", default=[], metavar="UNIT", help="unit code to leave out"
        )
        parser.add_argument(
            "--reason",
            action="append",
            default=[],
            metavar="TEXT",
            help="why the preceding --exclude is left out",
        )
        parser.add_argument("--user", help="username to attribute the publication to")

    def handle(self, *args, **options):
        framework = get_framework(options["framework"])
        actor = get_user(options.get("user"))
        if actor is not None:
            framework = check_access(actor, access.get_framework_for_change, framework.code)
        try:
            decision_date = date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(
                bilingual("The decision date %(date)s is not a date (YYYY-MM-DD).", date=options["date"])
            ) from None
        excluded, reasons = options["exclude"], options["reason"]
        if len(excluded) != len(reasons):
            raise CommandError(bilingual("Give one --reason after each --exclude."))
        try:
            framework = framework_publish(
                framework=framework,
                decision_number=options["decision"],
                decision_date=decision_date,
                exclusions=dict(zip(excluded, reasons, strict=True)),
                actor=actor,
                via=Via.COMMAND,
            )
        except ServiceError as error:
            raise refused(error) from error
        except ValidationError as error:  # pragma: no cover - the service refuses with ServiceError
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            bilingual(
                "Framework %(code)s is published (decision %(number)s).",
                code=framework.code,
                number=framework.decision_number,
            )
        )
