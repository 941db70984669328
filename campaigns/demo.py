"""Demo campaign: leads with shared numbers, assigned to the demo caller.

Keller Williams' office line is shared by its contacts; Jane Doe's mobile is also her
husband's pet-shop line; John Smith (Keller Williams) and John R. Smith (KW Realty) share
a mobile under two emails. Idempotent: uploading the same rows again adds nothing.
"""

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from campaigns import dialing, services
from campaigns.models import Campaign, LeadUpload
from crm.models import StaffProfile
from telephony.models import OwnedNumber

DEMO_CAMPAIGN = "Demo: Atlanta realtors"
DEMO_LEADS = """first_name,last_name,email,company,title,phone,mobile,notes
John,Smith,john.smith@kw.example.com,Keller Williams,Broker,+1-212-761-2846,1 678-999-8212,retired?
Priya,Patel,priya.patel@kw.example.com,Keller Williams,Agent,(212) 761-2846,646 555 0112,
John R.,Smith,jrsmith@kwrealty.example.com,KW Realty,Agent,404 555 0100,(678)-999 8212,
Jane,Doe,jane.doe@example.com,Doe Realty,Owner,,+1 (832) 723-4097,
Mark,Doe,mark@petshop.example.com,Petshop Supply,Owner,832 723 4097,,
Olivia,Brown,olivia.brown@example.com,Brown Homes,Agent,312 555 0150,312 555 0160,
OLIVIA,BROWN,Olivia.Brown@Example.com,Brown Homes,Agent,,312 555 0150,duplicate row
Noah,Wilson,noah.wilson@example.com,Wilson Group,,not a number,415-555-0133,
Liam,Martinez,liam.martinez@example.com,,,,555-01,
"""


def seed(stdout) -> None:
    campaign, created = Campaign.objects.get_or_create(
        name=DEMO_CAMPAIGN,
        defaults={
            "description": (
                "Demo leads: an office line, a mobile and a pet shop shared between contacts."
            )
        },
    )
    caller = get_user_model().objects.filter(username="caller").first()
    if caller is not None:
        campaign.callers.add(caller)
        # "Call me first" rings the caller's own phone: the offline voice provider
        # completes every call, so the demo works through Start calling end to end.
        StaffProfile.objects.get_or_create(user=caller, defaults={"phone": "+14045550199"})
    dialing.campaign_outcomes_ensure(campaign=campaign)
    owned = OwnedNumber.objects.filter(status=OwnedNumber.Status.ACTIVE).first()
    if owned is not None:
        campaign.caller_ids.add(owned)
    if not LeadUpload.objects.filter(campaign=campaign, status="completed").exists():
        upload = services.lead_upload_create(
            campaign=campaign,
            file=ContentFile(DEMO_LEADS.encode(), name="demo-leads.csv"),
            uploaded_by=None,
        )
        services.lead_upload_import(upload_id=upload.pk)
    stdout.write(
        f"campaigns: demo campaign {'added' if created else 'present'} "
        f"({campaign.contacts.count()} contacts, {campaign.phones.count()} numbers)."
    )
