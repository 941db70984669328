"""Demo numbers for the reputation add-on, so the Phone numbers page is alive at first run.

Five of the team's numbers; four monitored through the real service (a slot each, a
pre-screening by the configured provider, the sandbox by default) with the five days of
daily checks before today. The sandbox flags numbers by their ending (docs/reputation.md):
"Spring promo" ends in 666 (every carrier: SPAM, flagged today after two days of growing
flags), "Marietta office" in 66 (T-Mobile alone: SAFE, below the majority). Outbound calls
to the demo customers make "Atlanta follow-ups" at risk (its answer rate fell, the early
warning) and give "Atlanta sales" calls today.

Seeded once: when the demo numbers exist, nothing is touched, so an Administrator who
switched the add-on off or stopped monitoring a number keeps it so (``make run`` seeds at
every start).
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from reputation import services
from reputation.errors import ReputationRefused
from reputation.models import CheckKind, ReputationSettings, SourceCheck
from reputation.providers.sandbox import SandboxReputationProvider
from telephony.models import OwnedNumber
from telephony.selectors import team_today
from telephony.services import CallFacts, call_record

# (number, label, monitored)
DEMO_NUMBERS = [
    ("+14045550110", "Atlanta sales", True),
    ("+14045550111", "Atlanta follow-ups", True),
    ("+16785550166", "Marietta office", True),
    ("+14045550666", "Spring promo", True),
    ("+13125550113", "Chicago (spare)", False),
]
HISTORY_DAYS = 5
# The promo line's carriers before today: clean, then AT&T, then AT&T and Verizon.
PROMO_FLAGS = {5: (), 4: (), 3: (), 2: ("AT&T",), 1: ("AT&T", "Verizon")}


def seed(stdout) -> None:
    numbers = [n for n, _, _ in DEMO_NUMBERS]
    if OwnedNumber.objects.filter(number__in=numbers).exists():
        stdout.write("reputation: demo numbers present.")
        return
    owned = OwnedNumber.objects.bulk_create(
        OwnedNumber(number=number, label=label, provider_id=f"PNdemo{number[-4:]}")
        for number, label, _ in DEMO_NUMBERS
    )
    config = ReputationSettings.load()
    if not config.addon_enabled:
        config.addon_enabled = True
        services.reputation_settings_save(config=config)
    watched = [o for o, (_, _, monitored) in zip(owned, DEMO_NUMBERS, strict=True) if monitored]
    try:
        services.numbers_monitor(owned_number_ids=[o.pk for o in watched], by=None)
    except ReputationRefused as exc:  # the blocks bought are full
        stdout.write(f"reputation: {len(owned)} demo numbers added, not monitored: {exc}")
        return
    SourceCheck.objects.bulk_create(_history(watched))
    _calls()
    services.monitored_risk_refresh()
    stdout.write(
        f"reputation: {len(owned)} demo numbers added, {len(watched)} monitored with "
        f"{HISTORY_DAYS} days of checks."
    )


# Demo customers (crm/demo.py, telephony/demo.py) the team calls.
CALLEES = ("+16789998212", "+13125550150", "+14045550142", "+18327234097")
# (from, days ago, answered): 10 of 12 answered in the 14 days before the last 3, then 2
# of 8 (at risk: 25% against 83%, below the 60% default); six calls today from sales.
OUTBOUND = (
    [("+14045550111", 4 + i, i not in (3, 8)) for i in range(12)]
    + [("+14045550111", 0.3 + i * 0.3, i in (2, 5)) for i in range(8)]
    + [("+14045550110", None, True) for _ in range(6)]  # None: today, whatever the hour
)


def _calls() -> None:
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    for i, (number, days, answered) in enumerate(OUTBOUND):
        # Today's calls spread between midnight and now, so they are today's even at 00:05.
        started = (
            midnight + (now - midnight) * (i % 7) / 7
            if days is None
            else now - timedelta(days=days)
        )
        duration = 120 if answered else 0
        call_record(
            external_id=f"demo-outbound-{i:04d}",
            direction="outbound",
            from_number=number,
            to_number=CALLEES[i % len(CALLEES)],
            channel="twilio",
            facts=CallFacts(
                status="completed" if answered else "no-answer",
                started_at=started,
                ended_at=started + timedelta(seconds=duration),
                duration_seconds=duration,
            ),
        )


def _history(watched: list[OwnedNumber]) -> list[SourceCheck]:
    sandbox = SandboxReputationProvider()
    today = team_today()
    rows = []
    for days_ago in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=days_ago)
        checked_at = timezone.make_aware(datetime.combine(day, time(6, 5)))
        answers = sandbox.check([str(o.number) for o in watched])
        for number in watched:
            e164 = str(number.number)
            for result in answers[e164]:
                flagged = result.flagged
                if e164.endswith("666"):  # the promo line turned SPAM only today
                    flagged = result.carrier in PROMO_FLAGS[days_ago]
                rows.append(
                    SourceCheck(
                        owned_number=number,
                        number=e164,
                        day=day,
                        source=result.carrier,
                        label="Spam Likely" if flagged else "",
                        score=result.score if flagged else min(result.score or 0, 39),
                        flagged=flagged,
                        kind=CheckKind.DAILY,
                        checked_at=checked_at,
                    )
                )
    return rows
