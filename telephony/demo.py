"""Demo calls and messages (idempotent: fixed external ids, linked by the real service).

Jane Doe has called many times (the customer page's charts have something to show);
an unknown caller rings and then texts, and stays one person; Chen Wei texts from a
number held as Other, which becomes Mobile + SMS; another caller texts STOP. The texts
wait in the SMS inbox.
"""

from datetime import timedelta

from django.utils import timezone

from telephony import messaging, services
from telephony.models import Assistant, Call, Message, TelephonySettings

OUR_LINE = "+18005550100"
ASSISTANTS = [("Front desk", "Answers every inbound call first"), ("Billing bot", "Invoices")]

# (days ago, assistant, duration s, satisfaction, reason)
JANE_CALLS = [
    (70, "Front desk", 240, 2, "Billing question"),
    (56, "Billing bot", 180, 3, "Billing question"),
    (41, "Front desk", 95, 3, "Appointment change"),
    (30, "Front desk", 310, 4, "Technical support"),
    (23, "Billing bot", 150, 4, "Billing question"),
    (16, "Front desk", 60, 5, "Appointment change"),
    (9, "Front desk", 420, 4, "Technical support"),
    (4, "Billing bot", 130, 5, "Billing question"),
    (1, "Front desk", 75, 5, "Appointment change"),
]


def _call(
    index: int, number: str, days: float, assistant: str, duration: int, score: int, reason: str
) -> bool:
    started = timezone.now() - timedelta(days=days, hours=index % 5)
    return services.call_record(
        external_id=f"demo-call-{index:04d}",
        direction="inbound",
        from_number=number,
        to_number=OUR_LINE,
        channel="assistant",
        facts=services.CallFacts(
            status=Call.Status.COMPLETED,
            started_at=started,
            ended_at=started + timedelta(seconds=duration),
            duration_seconds=duration,
            satisfaction=score,
            reason=reason,
            assistant=assistant,
            transcript=(
                f"Assistant: Thanks for calling, how can I help?\n"
                f"Caller: It's about a {reason.lower()}.\n"
                f"Assistant: Let me look into that for you."
            ),
        ),
    ).created


def _text(index: int, number: str, days: float, body: str) -> bool:
    return services.message_record(
        external_id=f"demo-sms-{index:04d}",
        direction="inbound",
        from_number=number,
        to_number=OUR_LINE,
        body=body,
        sent_at=timezone.now() - timedelta(days=days),
    ).created


def seed(stdout) -> None:
    config = TelephonySettings.load()
    if not config.sms_from:
        # Replies to customers who never texted go out from our demo line.
        config.sms_from = OUR_LINE
        config.save()
    for name, description in ASSISTANTS:
        Assistant.objects.get_or_create(name=name, defaults={"description": description})
    made = 0
    for i, (days, assistant, duration, score, reason) in enumerate(JANE_CALLS):
        made += _call(i, "+16789998212", days, assistant, duration, score, reason)
    made += _call(100, "+13125550150", 12, "Front desk", 200, 4, "Billing question")
    made += _call(101, "+14045550142", 6, "Front desk", 90, 3, "Appointment change")
    # Someone new rings, then texts: one profile, the number becomes Mobile + SMS.
    made += _call(200, "+17025550123", 3, "Front desk", 45, 4, "New customer enquiry")
    made += _text(200, "+17025550123", 2.9, "Hi, I just called about opening an account.")
    made += _text(201, "+18327234097", 5, "Running 10 minutes late, sorry!")  # Chen Wei
    made += _text(202, "+16789998212", 0.5, "Thanks for the help yesterday.")
    # A caller texts STOP: the number shows opted out of SMS (docs/messaging.md).
    made += not Message.objects.filter(external_id="demo-sms-0203").exists()
    messaging.message_receive(
        external_id="demo-sms-0203", from_number="+13125550150", to_number=OUR_LINE, body="STOP"
    )
    stdout.write(
        f"telephony: {made} demo calls and messages added "
        f"({Call.objects.count()} calls, {Message.objects.count()} messages in total)."
    )
