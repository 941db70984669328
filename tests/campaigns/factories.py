import factory

from campaigns.ingest import rules
from campaigns.models import Account, Campaign, CampaignPhone, Contact


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"Company {n}")


class CampaignPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignPhone

    campaign = factory.SubFactory(CampaignFactory)
    number = factory.Sequence(lambda n: f"+1678555{n % 10000:04d}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    dedup_key = factory.LazyAttribute(lambda o: rules.email_key(o.email))
