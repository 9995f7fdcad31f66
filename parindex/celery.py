import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parindex.settings")

app = Celery("parindex")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
