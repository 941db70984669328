import os

from celery import Celery

from crm.broker import use_whole_message_files

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

use_whole_message_files()
app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
