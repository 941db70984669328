"""The calling window in the lead's local time (docs/dialing.md, "Calling window")."""

from datetime import UTC, datetime, time

from campaigns.calling_window import is_lawful, lead_zones, number_zones, window_state

EIGHT, NINE_PM = time(8, 0), time(21, 0)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 7, hour, minute, tzinfo=UTC)


def test_zone_from_contact_then_upload_column_then_number():
    assert lead_zones(contact_zone="America/Chicago", extra={}, number="+16785551234") == (
        "America/Chicago",
    )
    assert lead_zones(contact_zone="", extra={"timezone": "Europe/Paris"}, number="+1678") == (
        "Europe/Paris",
    )
    assert lead_zones(contact_zone="Not/AZone", extra={"tz": 5}, number="+16785551234") == (
        "America/New_York",
    )
    assert number_zones("+12085551234") == ("America/Boise", "America/Los_Angeles")


def test_open_and_closed_with_when_it_opens():
    # 13:00 UTC is 08:00 in New York (EST): open; 12:59 is not yet.
    assert window_state(zones=("America/New_York",), start=EIGHT, end=NINE_PM, now=at(13)).open
    closed = window_state(zones=("America/New_York",), start=EIGHT, end=NINE_PM, now=at(12, 59))
    assert not closed.open
    assert closed.opens_at == at(13)
    assert "07:59 EST (America/New_York)" in closed.refusal()
    assert "calls open at Mon Dec 7, 2026 08:00 EST" in closed.refusal()


def test_a_number_spanning_zones_takes_the_most_restrictive():
    zones = ("America/Boise", "America/Los_Angeles")  # Mountain and Pacific
    # 15:30 UTC: 08:30 in Boise, 07:30 in Los Angeles: not yet for the whole area code.
    state = window_state(zones=zones, start=EIGHT, end=NINE_PM, now=at(15, 30))
    assert not state.open
    assert state.zone == "America/Los_Angeles"
    assert state.opens_at == at(16)
    # 04:30 UTC next day: 21:30 Boise (closed), 20:30 Los Angeles (open): closed.
    late = window_state(
        zones=zones, start=EIGHT, end=NINE_PM, now=datetime(2026, 12, 8, 4, 30, tzinfo=UTC)
    )
    assert not late.open


def test_a_window_past_8_to_21_is_not_lawful():
    assert is_lawful(EIGHT, NINE_PM)
    assert is_lawful(time(9), time(17))
    assert not is_lawful(time(7, 30), NINE_PM)
    assert not is_lawful(EIGHT, time(21, 30))
