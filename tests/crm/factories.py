import factory

from crm.models import Customer, PhoneNumber


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    source = Customer.Source.MANUAL


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"+1678555{n % 10000:04d}")
    type = PhoneNumber.Type.OTHER
