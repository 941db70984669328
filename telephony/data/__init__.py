"""The state or province each NANP area code serves: one table for the whole app.

``area_code_states.json`` is read from libphonenumber's geocoding data once, by
``build_area_code_states.py`` (run it after upgrading phonenumbers), so no web or worker
process loads that data (about 100 MB in memory) to place a number. Caller ID choice
(``docs/dialing.md``) and auto-replacement's same-state fallback (``docs/reputation.md``)
both read it.
"""

import json
from functools import lru_cache
from pathlib import Path

STATES_FILE = Path(__file__).with_name("area_code_states.json")


@lru_cache(maxsize=1)
def area_code_states() -> dict[str, str]:
    """Area code ("404") -> the state or province it serves ("Georgia")."""
    states: dict[str, str] = json.loads(STATES_FILE.read_text())
    return states


def area_code(e164: str) -> str | None:
    """The three-digit NANP area code of a +1 number, else None."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return e164[2:5]
    return None


def area_code_state(npa: str) -> str | None:
    return area_code_states().get(npa)


@lru_cache(maxsize=256)
def _same_state(npa: str) -> tuple[str, ...]:
    state = area_code_state(npa)
    if state is None:
        return ()
    return tuple(sorted(c for c, s in area_code_states().items() if s == state and c != npa))


def same_state_area_codes(npa: str) -> list[str]:
    """The other area codes of ``npa``'s state, in numeric order (none when unknown)."""
    return list(_same_state(npa))
