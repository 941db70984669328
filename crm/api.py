from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from crm import selectors
from crm.models import Customer, PhoneNumber
from crm.phones import InvalidPhoneNumber, normalize


class PhoneNumberSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)

    class Meta:
        model = PhoneNumber
        fields = ["id", "number", "type", "sms", "type_source", "updated_at"]


class CustomerSerializer(serializers.ModelSerializer):
    numbers = PhoneNumberSerializer(source="phone_numbers", many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "source",
            "numbers",
            "interaction_count",
            "first_interaction_at",
            "last_interaction_at",
            "created_at",
            "updated_at",
        ]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "phone",
                OpenApiTypes.STR,
                description="A phone number in any format, e.g. (678)-999 8212.",
            ),
            OpenApiParameter("search", OpenApiTypes.STR, description="Name or email prefix."),
        ]
    )
)
class CustomerListDetailApi(viewsets.ReadOnlyModelViewSet):
    serializer_class = CustomerSerializer
    queryset = Customer.objects.none()  # for DjangoModelPermissions; real one below

    def get_queryset(self) -> QuerySet[Customer]:
        queryset = selectors.customer_with_numbers()
        if self.action != "list":
            return queryset
        phone = self.request.query_params.get("phone")
        if phone is not None:
            try:
                queryset = selectors.customer_filter_by_phone(queryset, normalize(phone))
            except InvalidPhoneNumber as exc:
                raise ValidationError({"phone": [str(exc)]}) from exc
        search = self.request.query_params.get("search")
        if search:
            queryset = selectors.customer_search(queryset, search)
        return queryset
