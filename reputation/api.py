"""REST API of the add-on (Administrators only): numbers with reputation, monitor,
unmonitor, and the usage figures of the dashboard."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reputation import selectors, services
from reputation.errors import ReputationRefused
from reputation.models import MonitoredNumber
from telephony.models import OwnedNumber


class IsReputationAdministrator(BasePermission):
    message = "Only Administrators can see and change reputation monitoring."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("reputation.change_monitorednumber"))


class SourceResultSerializer(serializers.Serializer):
    carrier = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    score = serializers.IntegerField(allow_null=True)
    flagged = serializers.BooleanField()


class ReputationSerializer(serializers.ModelSerializer):
    results = SourceResultSerializer(many=True, read_only=True)

    class Meta:
        model = MonitoredNumber
        fields = [
            "status",
            "checked_at",
            "flagged_at",
            "flagged_sources",
            "sources",
            "results",
            "at_risk",
            "answer_rate_recent",
            "answer_rate_before",
            "monitored_at",
            "last_error",
        ]
        read_only_fields = fields


class ReputationNumberSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    monitored = serializers.SerializerMethodField()
    reputation = serializers.SerializerMethodField()

    class Meta:
        model = OwnedNumber
        fields = ["id", "number", "label", "status", "replaced_by", "monitored", "reputation"]
        read_only_fields = fields

    def _monitored(self, obj: OwnedNumber) -> MonitoredNumber | None:
        try:
            return obj.reputation
        except MonitoredNumber.DoesNotExist:
            return None

    @extend_schema_field(serializers.BooleanField())
    def get_monitored(self, obj: OwnedNumber) -> bool:
        return self._monitored(obj) is not None

    @extend_schema_field(ReputationSerializer(allow_null=True))
    def get_reputation(self, obj: OwnedNumber) -> dict[str, Any] | None:
        monitored = self._monitored(obj)
        return ReputationSerializer(monitored).data if monitored else None


class ByNumber(CursorPagination):
    ordering = ("number", "id")
    page_size_query_param = "page_size"
    max_page_size = 500


class MonitoredNumberListApi(generics.ListAPIView):
    """``GET /api/reputation/numbers/``: our numbers with their reputation."""

    serializer_class = ReputationNumberSerializer
    permission_classes = [IsAuthenticated, IsReputationAdministrator]
    pagination_class = ByNumber

    def get_queryset(self) -> QuerySet[OwnedNumber]:
        return selectors.owned_numbers_with_reputation()


class MessageSerializer(serializers.Serializer):
    detail = serializers.CharField()


class MonitoredNumberMonitorApi(APIView):
    """``POST /api/reputation/numbers/{id}/monitor/``: start monitoring (pre-screened now).

    201 when monitoring starts, 200 when it was monitored already, 409 with a message when
    no slot is free or the add-on is off.
    """

    permission_classes = [IsAuthenticated, IsReputationAdministrator]

    @extend_schema(
        request=None,
        responses={
            201: ReputationNumberSerializer,
            200: ReputationNumberSerializer,
            409: OpenApiResponse(MessageSerializer, description="No free slot, or add-on off."),
        },
    )
    def post(self, request: Request, id: int) -> Response:
        number = get_object_or_404(OwnedNumber, pk=id)
        try:
            outcome = services.numbers_monitor(owned_number_ids=[number.pk], by=request.user)
        except ReputationRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        number = selectors.owned_numbers_with_reputation().get(pk=number.pk)
        code = status.HTTP_201_CREATED if outcome.monitored else status.HTTP_200_OK
        return Response(ReputationNumberSerializer(number).data, status=code)


class MonitoredNumberUnmonitorApi(APIView):
    """``POST /api/reputation/numbers/{id}/unmonitor/``: stop (the slot stays used this cycle)."""

    permission_classes = [IsAuthenticated, IsReputationAdministrator]

    @extend_schema(request=None, responses={200: ReputationNumberSerializer})
    def post(self, request: Request, id: int) -> Response:
        number = get_object_or_404(OwnedNumber, pk=id)
        services.numbers_unmonitor(owned_number_ids=[number.pk], by=request.user)
        number = selectors.owned_numbers_with_reputation().get(pk=number.pk)
        return Response(ReputationNumberSerializer(number).data)


class UsageSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    capacity = serializers.IntegerField()
    clean = serializers.IntegerField()
    flagged = serializers.IntegerField()
    flagged_24h = serializers.IntegerField()
    flagged_7d = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    monitored = serializers.IntegerField()
    pending = serializers.IntegerField()
    enabled = serializers.BooleanField()
    cycle_start = serializers.DateField()
    cycle_end = serializers.DateField(source="cycle_last_day")


class ReputationUsageApi(APIView):
    """``GET /api/reputation/usage/``: the dashboard's figures."""

    permission_classes = [IsAuthenticated, IsReputationAdministrator]

    @extend_schema(responses={200: UsageSerializer})
    def get(self, request: Request) -> Response:
        return Response(UsageSerializer(selectors.usage()).data)
