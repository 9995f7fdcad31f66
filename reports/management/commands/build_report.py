from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from parindex.errors import ServiceError, bilingual
from reports.jobs import report_build_file
from scoring.management.commands._common import get_framework, refused


class Command(BaseCommand):
    help = (
        "Build the comparative report workbook of a framework synchronously, with the same code as the "
        "report jobs (Xếp hạng, Theo lĩnh vực, So sánh năm, Điểm bị trừ, Thẩm định)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="framework code")
        parser.add_argument(
            "--compare", help="code of the framework to compare with (usually the previous year)"
        )
        parser.add_argument("--out", required=True, help="the .xlsx file to write")

    def handle(self, *args, framework, compare=None, out, **options):
        fw = get_framework(framework)
        other = get_framework(compare) if compare else None
        path = Path(out)
        if path.suffix.lower() != ".xlsx":
            raise CommandError(bilingual("The output file must end in .xlsx: %(path)s", path=out))
        if not path.parent.is_dir():
            raise CommandError(bilingual("The folder %(folder)s does not exist.", folder=str(path.parent)))
        try:
            report_build_file(fw, other, path, generated_by="manage.py build_report")
        except ServiceError as error:
            raise refused(error) from error
        except OSError as exc:
            raise CommandError(
                bilingual("Could not write %(path)s: %(error)s", path=out, error=str(exc))
            ) from exc
        self.stdout.write(bilingual("Report written to %(path)s.", path=out))
