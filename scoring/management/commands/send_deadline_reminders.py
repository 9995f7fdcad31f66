from django.core.management.base import BaseCommand

from scoring.assessments.notifications import send_deadline_reminders


class Command(BaseCommand):
    help = "E-mail reminders three days before self-assessment and appraisal deadlines (each sent once; for cron)."

    def handle(self, *args, **options):
        sent = send_deadline_reminders()
        self.stdout.write(f"Đã gửi {sent} thư nhắc hạn. / Sent {sent} deadline reminder(s).")
