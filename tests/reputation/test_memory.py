"""Placing a number must not load libphonenumber's geocoding data (about 100 MB per
process): the area code table is telephony's (telephony/data/area_code_states.json)."""

import subprocess
import sys

from telephony.data import area_code_state, same_state_area_codes


def test_a_replacement_places_numbers_without_the_geocoding_data():
    script = (
        "import sys, django; django.setup()\n"
        "import reputation.replacements, reputation.admin, telephony.admin\n"
        "from reputation.replacements import _area\n"
        "area = _area('+14045550100', 'state')\n"
        "print(area.where.replace(' ', '_'), 'phonenumbers.geocoder' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["area_code_404_or_elsewhere_in_Georgia", "False"]


def test_one_table_serves_the_state_fallback():
    assert area_code_state("404") == "Georgia"
    assert {"470", "678", "770"} <= set(same_state_area_codes("404"))
    assert "404" not in same_state_area_codes("404")
    assert same_state_area_codes("999") == []
