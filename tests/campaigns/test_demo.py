from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.demo import DEMO_CAMPAIGN
from campaigns.models import Campaign, CampaignPhone, Contact

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_a_campaign_for_the_demo_caller_once(role_groups, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    campaign = Campaign.objects.get(name=DEMO_CAMPAIGN)
    assert list(campaign.callers.values_list("username", flat=True)) == ["caller"]
    assert Contact.objects.filter(campaign=campaign).count() == 7  # 9 rows: 1 merged, 1 bad
    shared = CampaignPhone.objects.get(campaign=campaign, number="+16789998212")
    assert shared.contact_count == 2
