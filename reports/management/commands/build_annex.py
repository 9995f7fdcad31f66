from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from parindex.errors import ServiceError, bilingual
from reports.jobs import KIND_FORMATS, annex_build_file
from reports.models import ReportKind
from scoring.management.commands._common import get_framework, refused

FORMATS = KIND_FORMATS[ReportKind.ANNEX]


class Command(BaseCommand):
    help = (
        "Build the annexes (Phụ lục I ranking by group, II areas, III year on year, IV criteria per unit) "
        "and the draft decision of a framework as Word or PDF, with the same code as the report jobs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument(
            "--compare",
            help="code of the framework to compare with in Phụ lục III (default: the engine's previous year)",
        )
        parser.add_argument(
            "--format", required=True, choices=FORMATS, dest="file_format", help="docx or pdf"
        )
        parser.add_argument("--out", required=True, help="the .docx or .pdf file to write")

    def handle(self, *args, framework, compare=None, file_format, out, **options):
        fw = get_framework(framework)
        other = get_framework(compare) if compare else None
        path = Path(out)
        if path.suffix.lower() != f".{file_format}":
            raise CommandError(
                bilingual(
                    "The output file must end in %(suffix)s: %(path)s", suffix=f".{file_format}", path=out
                )
            )
        if not path.parent.is_dir():
            raise CommandError(bilingual("The folder %(folder)s does not exist.", folder=str(path.parent)))
        try:
            annex_build_file(fw, other, file_format, path)
        except ServiceError as error:
            raise refused(error) from error
        except OSError as exc:
            raise CommandError(
                bilingual("Could not write %(path)s: %(error)s", path=out, error=str(exc))
            ) from exc
        self.stdout.write(bilingual("Annexes written to %(path)s.", path=out))
