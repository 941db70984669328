"""The WSGI module gunicorn's master imports before forking its workers (preload_app)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a process of its own: what importing the module loads, as gunicorn's master sees it
# (on each run's database: the settings it reads are that run's).
PROBE = """
import gc, json, sys
import crm.wsgi
from django.db import connections
from crm import phones
from crm.celery import app
print(json.dumps({
    "views": "telephony.webhooks" in sys.modules and "campaigns.views" in sys.modules,
    "phone_patterns": sorted(phones._NANP_PATTERNS),
    "tasks_registered": app.finalized and "telephony.tasks.caller_numbers_identify" in app.tasks,
    "connections_open": [c.alias for c in connections.all() if c.connection is not None],
    "frozen": gc.get_freeze_count(),
}))
"""


def test_the_master_loads_the_views_tasks_and_patterns_and_opens_no_connection(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    facts = json.loads(done.stdout.splitlines()[-1])

    # Loaded once here instead of on each forked worker's first requests...
    assert facts["views"] is True
    assert facts["phone_patterns"] == [False, True]
    assert facts["tasks_registered"] is True
    # ...and out of the garbage collector's walks (the views alone are thousands of objects).
    assert facts["frozen"] > 10_000
    # ...and no database connection for the workers to inherit and share.
    assert facts["connections_open"] == []
