"""manage.py reopen --framework CODE --reason "…": the framework goes back one phase (from published:
to final, every unit given back its own state), through the same service as the web (framework_step_back).
Refused with a non-zero exit and nothing changed without a reason or from the first phase."""

from django.core.management.base import BaseCommand, CommandError

from parindex.errors import ServiceError, bilingual
from scoring import access
from scoring.frameworks.services import framework_step_back
from scoring.management.commands._common import check_access, get_framework, get_user, refused
from scoring.models import Via


class Command(BaseCommand):
    help = "Take a framework back one phase (a published one back to final results), with a reason."

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument("--reason", required=True, help="why the framework goes back a step")
        parser.add_argument("--user", help="username to attribute the change to")

    def handle(self, *args, **options):
        framework = get_framework(options["framework"])
        actor = get_user(options.get("user"))
        if actor is not None:  # the web's rule: the framework's appraisers; reopening, an administrator
            framework = check_access(actor, access.get_framework_for_management, framework.code)
            if framework.is_published and not actor.is_superuser:
                raise CommandError(bilingual("Only an administrator reopens a published framework."))
        try:
            framework = framework_step_back(
                framework=framework, reason=options["reason"], actor=actor, via=Via.COMMAND
            )
        except ServiceError as error:
            raise refused(error) from error
        self.stdout.write(
            bilingual(
                "Framework %(code)s is back in the phase “%(phase)s”.",
                code=framework.code,
                phase=framework.get_status_display(),
            )
        )
