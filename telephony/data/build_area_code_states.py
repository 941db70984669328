"""Rebuild area_code_states.json: the state or province each NANP area code serves.

Read once from libphonenumber's geocoding data (about 100 MB in memory), so web and
worker processes choosing a caller ID load 20 KB instead. Run after upgrading
phonenumbers: ``python telephony/data/build_area_code_states.py``.
"""

import json
from pathlib import Path

import phonenumbers
from phonenumbers import geocoder

ABBREVIATIONS = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington State", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "DC": "Washington D.C.", "PR": "Puerto Rico", "VI": "US Virgin Islands",
    "ON": "Ontario", "QC": "Quebec", "BC": "British Columbia", "AB": "Alberta",
}  # fmt: skip
PROBES = ("200", "555", "321", "456", "789", "902")


def build() -> dict[str, str]:
    states = {}
    for npa in range(200, 1000):
        for exchange in PROBES:
            number = phonenumbers.parse(f"+1{npa}{exchange}0100")
            description = geocoder.description_for_number(number, "en")
            if description:
                tail = description.rsplit(", ", 1)[-1].strip()
                states[str(npa)] = ABBREVIATIONS.get(tail, tail)
                break
    return states


if __name__ == "__main__":
    target = Path(__file__).with_name("area_code_states.json")
    target.write_text(json.dumps(build(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {target}")
