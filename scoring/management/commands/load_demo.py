from django.core.management.base import BaseCommand

from scoring.demo import DEMO_PASSWORD, demo_load
from scoring.models import AssessmentStatus


class Command(BaseCommand):
    help = (
        "Load the demo province across the 2025 reform (two former districts' published 2024 commune "
        "indexes, the merger into new communes and wards, the province's 2025 commune-level and "
        "department frameworks, users for every role). Idempotent: what already exists is left as it is."
    )

    def handle(self, *args, **options):
        summary = demo_load()
        out = self.stdout
        out.write(
            f"Units: {summary.units_created} created" if summary.units_created else "Units: already present"
        )

        out.write("")
        out.write("Frameworks:")
        for framework, created in summary.frameworks:
            counts = dict.fromkeys(AssessmentStatus.values, 0)
            for status in framework.assessments.values_list("status", flat=True):
                counts[status] += 1
            states = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            decision = (
                f" — {framework.decision_number} {framework.decision_date:%d/%m/%Y}"
                if framework.is_published
                else ""
            )
            note = "created" if created else "already present, left as it is"
            out.write(
                f"  {framework.code:<16} {framework.year} {framework.status:<9} ({states}){decision} [{note}]"
            )

        out.write("")
        out.write("Demo logins (demo data only):")
        rows = [("username", "role", "unit", "password")]
        rows += [(login.username, login.role, login.unit or "—", DEMO_PASSWORD) for login in summary.logins]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for number, row in enumerate(rows):
            out.write(
                "  "
                + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
            )
            if number == 0:
                out.write("  " + "  ".join("-" * width for width in widths))
        created_users = sum(login.created for login in summary.logins)
        if created_users < len(summary.logins):
            out.write("  (accounts that already existed keep their password)")
        out.write(self.style.SUCCESS("Demo ready."))
