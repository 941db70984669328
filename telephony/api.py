"""REST API: calls (listed with filters, and end-of-call reports from voice-assistant
platforms), and a customer's calls."""

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import NotePermission, NoteSerializer, NoteTextSerializer, note_from_request
from crm.inputs import MomentField, moment_problem
from crm.pagination import BoundedCursorPagination
from crm.phones import InvalidPhoneNumber, normalize
from crm.selectors import customer_queryset
from telephony import selectors, services
from telephony.models import Call, Channel, Direction
from telephony.parties import (
    ADDRESS_MAX_LENGTH,
    NUMBER,
    REPORTABLE_WITHOUT_NUMBER,
    party_identify,
)


class CallSerializer(serializers.ModelSerializer):
    assistant = serializers.CharField(
        source="assistant.name", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Call
        fields = [
            "id",
            "customer",
            "direction",
            "channel",
            "from_number",
            "to_number",
            "external_id",
            "assistant",
            "status",
            "started_at",
            "ended_at",
            "duration_seconds",
            "satisfaction",
            "reason",
            "transcript",
        ]
        read_only_fields = fields


class CallReportSerializer(serializers.Serializer):
    """The platform's end-of-call report; ``from``/``to`` are numbers in any format."""

    external_id = serializers.RegexField(
        r"^[\w.:-]+$", max_length=64, help_text="The platform's call id (unique)."
    )
    from_number = serializers.CharField(
        source="from_number",
        max_length=ADDRESS_MAX_LENGTH,
        help_text="The caller: a number in any format, or anonymous, client:…, sip:….",
    )
    to_number = serializers.CharField(
        source="to_number", max_length=ADDRESS_MAX_LENGTH, allow_blank=True, default=""
    )
    direction = serializers.ChoiceField(choices=Direction.choices, default=Direction.INBOUND)
    assistant = serializers.CharField(max_length=100, required=False, allow_blank=True)
    started_at = MomentField(required=False, allow_null=True)
    ended_at = MomentField(required=False, allow_null=True)
    duration_seconds = serializers.IntegerField(
        min_value=0, max_value=7 * 24 * 3600, required=False, allow_null=True
    )
    satisfaction = serializers.IntegerField(
        min_value=1, max_value=5, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    transcript = serializers.CharField(
        max_length=1_000_000, required=False, allow_blank=True, trim_whitespace=False
    )
    status = serializers.ChoiceField(choices=Call.Status.choices, default=Call.Status.COMPLETED)

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword: declared as from_number, published as from/to.
        fields = super().get_fields()
        fields["from"] = fields.pop("from_number")
        fields["to"] = fields.pop("to_number")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer_side = "from" if attrs["direction"] == Direction.INBOUND else "to"
        raw = attrs.get(f"{customer_side}_number", "")
        if party_identify(raw).kind not in (NUMBER, *REPORTABLE_WITHOUT_NUMBER):
            # A withheld caller, a client or a SIP address is reported as such; anything
            # else on the customer's side is a number the platform mistyped.
            try:
                normalize(raw)
            except InvalidPhoneNumber as exc:
                raise serializers.ValidationError({customer_side: [str(exc)]}) from exc
        started, ended = attrs.get("started_at"), attrs.get("ended_at")
        if started and ended and ended < started:
            raise serializers.ValidationError({"ended_at": ["The call ends before it starts."]})
        duration = attrs.get("duration_seconds")
        if ended and not started and duration is not None:
            problem = moment_problem(ended - timedelta(seconds=duration))
            if problem:
                raise serializers.ValidationError(
                    {"ended_at": [f"ended_at minus duration_seconds {problem}"]}
                )
        return attrs


class NewestCallsFirst(BoundedCursorPagination):
    ordering = ("-started_at", "-id")


class CallFilterSerializer(serializers.Serializer):
    """``GET /api/calls/`` filters; each is answered by an index of the calls table."""

    customer = serializers.IntegerField(min_value=1, required=False, help_text="Profile id.")
    caller = serializers.CharField(
        max_length=64, required=False, help_text="The calling number, in any format."
    )
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    status = serializers.ChoiceField(choices=Call.Status.choices, required=False)
    assistant = serializers.CharField(max_length=100, required=False)
    reason = serializers.CharField(max_length=200, required=False)
    since = MomentField(happened=False, required=False, help_text="Started at or after.")
    until = MomentField(happened=False, required=False, help_text="Started before.")

    def validate_caller(self, value: str) -> str:
        try:
            return normalize(value)
        except InvalidPhoneNumber as exc:
            raise serializers.ValidationError(str(exc)) from exc


class CallListCreateApi(generics.ListAPIView):
    """``GET /api/calls/``: calls, newest first, with filters. ``POST /api/calls/``: an
    end-of-call report; links or creates the profile, and a later report updates the
    call."""

    serializer_class = CallSerializer
    pagination_class = NewestCallsFirst
    # DjangoModelPermissions: reading needs telephony.view_call, posting telephony.add_call.
    queryset = Call.objects.none()

    def get_queryset(self) -> QuerySet[Call]:
        filters = CallFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.calls_filtered(**filters.validated_data)

    @extend_schema(parameters=[CallFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=CallReportSerializer, responses={200: CallSerializer, 201: CallSerializer}
    )
    def post(self, request: Request) -> Response:
        report = CallReportSerializer(data=request.data)
        report.is_valid(raise_exception=True)
        data = report.validated_data
        recorded = services.call_record(
            external_id=data["external_id"],
            direction=data["direction"],
            from_number=data["from_number"],
            to_number=data["to_number"],
            channel=Channel.ASSISTANT,
            facts=services.CallFacts(
                status=data["status"],
                started_at=data.get("started_at"),
                ended_at=data.get("ended_at"),
                duration_seconds=data.get("duration_seconds"),
                satisfaction=data.get("satisfaction"),
                reason=data.get("reason"),
                transcript=data.get("transcript"),
                assistant=data.get("assistant") or None,
            ),
        )
        call = selectors.call_detail(recorded.record.pk)
        return Response(
            CallSerializer(call).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )


class CustomerCallListApi(generics.ListAPIView):
    """``GET /api/customers/{id}/calls/``: the profile's calls, newest first."""

    serializer_class = CallSerializer
    pagination_class = NewestCallsFirst
    queryset = Call.objects.none()  # DjangoModelPermissions: reading needs telephony.view_call

    def get_queryset(self) -> QuerySet[Call]:
        customer = get_object_or_404(customer_queryset(), pk=self.kwargs["id"])
        return selectors.customer_calls(customer_id=customer.pk)


class CallNotePermission(NotePermission):
    """Notes on a call: the note rule, and the call must be readable (telephony.view_call)."""

    def has_permission(self, request: Request, view: object) -> bool:
        return super().has_permission(request, view) and request.user.has_perm(
            "telephony.view_call"
        )


@extend_schema(
    methods=["GET"],
    request=None,
    responses={200: NoteSerializer(many=True)},
    description="The call's notes, newest first.",
)
@extend_schema(
    methods=["POST"],
    request=NoteTextSerializer,
    responses={201: NoteSerializer},
    description="Write a note on this call (JSON `text`); it shows on the customer's timeline too.",
)
class CallNoteListCreateApi(generics.GenericAPIView):
    """``GET/POST /api/calls/{id}/notes/``."""

    permission_classes = [CallNotePermission]
    serializer_class = NoteSerializer
    pagination_class = None

    def get(self, request: Request, id: int) -> Response:
        call = get_object_or_404(Call, pk=id)
        return Response(NoteSerializer(selectors.call_notes(call), many=True).data)

    def post(self, request: Request, id: int) -> Response:
        call = get_object_or_404(Call, pk=id)
        note = note_from_request(
            request,
            lambda text: services.call_note_create(call=call, author=request.user, text=text),
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
