"""Which state an area code serves, and the other area codes of that state.

Auto-replacement buys in the old number's area code and, when none is left, elsewhere in
the same state (``docs/reputation.md``). libphonenumber's geocoding data names either the
state ("Georgia") or a city and its state ("San Francisco, CA"); both become the state.
"""

from functools import lru_cache

import phonenumbers

_ABBREVIATIONS = {
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
# Exchanges probed per area code: the data holds an entry for the area code or its cities.
_PROBES = ("200", "555", "321", "456", "789", "902")


def area_code(e164: str) -> str | None:
    """The three-digit NANP area code of a +1 number, else None."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return e164[2:5]
    return None


def _state(description: str) -> str:
    tail = description.rsplit(", ", 1)[-1].strip()
    return _ABBREVIATIONS.get(tail, tail)


@lru_cache(maxsize=1)
def _states() -> dict[str, str]:
    # Imported here: the geocoding data is about 100 MB in memory, and only a process
    # that replaces a number needs it, not every web and worker process that loads the app.
    from phonenumbers import geocoder

    states = {}
    for npa in range(200, 1000):
        for exchange in _PROBES:
            parsed = phonenumbers.parse(f"+1{npa}{exchange}1234")
            description = geocoder.description_for_valid_number(parsed, "en")
            if description:
                states[str(npa)] = _state(description)
                break
    return states


def state_of(npa: str) -> str | None:
    return _states().get(npa)


def same_state_area_codes(npa: str) -> list[str]:
    """The other area codes of ``npa``'s state, in numeric order (none when unknown)."""
    state = state_of(npa)
    if state is None:
        return []
    return sorted(code for code, s in _states().items() if s == state and code != npa)
