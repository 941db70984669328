"""Loading the app must not load libphonenumber's geocoding data (about 100 MB per process)."""

import subprocess
import sys


def test_the_geocoding_data_is_loaded_only_by_whoever_replaces_a_number():
    script = (
        "import sys, django; django.setup()\n"
        "import reputation.replacements, reputation.admin, telephony.admin\n"
        "print('phonenumbers.geocoder' in sys.modules)\n"
        "from reputation.area_codes import state_of\n"
        "print(state_of('404'), 'phonenumbers.geocoder' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["False", "Georgia", "True"]
