"""REST API: SMS replies to a customer and the inbox (docs/messaging.md)."""

from typing import Any

from django.core.exceptions import ValidationError as DomainError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.pagination import BoundedCursorPagination
from crm.selectors import customer_queryset
from telephony import inbox, messaging, selectors
from telephony.models import Conversation, Message

SEND_PERMISSION = "telephony.send_message"


class CanSend(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.has_perm(SEND_PERMISSION))


class CanWorkInbox(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        needed = "view" if request.method in ("GET", "HEAD", "OPTIONS") else "change"
        return bool(request.user and request.user.has_perm(f"telephony.{needed}_conversation"))


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "external_id", "status", "from_number", "to_number", "body"]
        read_only_fields = fields

    def to_representation(self, instance: Message) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["from"] = data.pop("from_number")
        data["to"] = data.pop("to_number")
        # Beyond the contract: why a message failed or is not confirmed, and who sent it.
        data["error"] = instance.error_message
        data["sent_by"] = instance.sent_by.get_username() if instance.sent_by else None
        return data


class TextField(serializers.CharField):
    """Text only: a number or a list where text belongs is a mistake, not text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SendSerializer(serializers.Serializer):
    body = TextField(max_length=messaging.MAX_BODY, trim_whitespace=True)
    to = TextField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="One of the customer's Mobile numbers, any format; default its SMS number.",
    )


MessageOut = inline_serializer(
    "SentMessage",
    {
        "id": serializers.IntegerField(),
        "external_id": serializers.CharField(allow_null=True),
        "status": serializers.CharField(),
        "from": serializers.CharField(),
        "to": serializers.CharField(),
        "body": serializers.CharField(),
        "error": serializers.CharField(),
        "sent_by": serializers.CharField(allow_null=True),
    },
)
Refusal = inline_serializer("SendRefused", {"detail": serializers.CharField()})


class CustomerMessageSendApi(APIView):
    """``POST /api/customers/{id}/messages/``: send an SMS to the customer."""

    permission_classes = [IsAuthenticated, CanSend]

    @extend_schema(
        request=SendSerializer,
        responses={201: MessageOut, 409: Refusal, 502: Refusal},
        description="201 with the stored outbound message (status `pending` while a retry "
        "waits, `unknown` when the provider did not confirm it). 409 with the reason when "
        "the number opted out, the customer holds no SMS-capable number, or there is no "
        "number to send from; 502 when the provider refused the message (it is kept as "
        "failed).",
    )
    def post(self, request: Request, id: int) -> Response:
        customer = get_object_or_404(customer_queryset(), pk=id)
        payload = SendSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            message = messaging.message_send(
                customer=customer,
                body=payload.validated_data["body"],
                to=payload.validated_data.get("to") or None,
                by=request.user,
                callback_base=request.build_absolute_uri("/"),
            )
        except DomainError as exc:
            raise ValidationError({"body": exc.messages}) from exc
        except messaging.SendRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        data = MessageSerializer(message).data
        if message.status == Message.Status.FAILED:
            code = status.HTTP_409_CONFLICT if message.error_code == "21610" else 502
            return Response({"detail": message.error_message, "message": data}, status=code)
        return Response(data, status=status.HTTP_201_CREATED)


class ConversationSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.__str__", read_only=True)
    assigned_to_username = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "customer",
            "last_message_at",
            "assigned_to",
            "status",
            "awaiting_reply",
            "customer_name",
            "assigned_to_username",
        ]
        read_only_fields = fields

    def get_assigned_to_username(self, obj: Conversation) -> str | None:
        return obj.assigned_to.get_username() if obj.assigned_to else None


class InboxFilterSerializer(serializers.Serializer):
    assigned = serializers.ChoiceField(choices=["me", "none"], required=False)
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)


class NewestConversationsFirst(BoundedCursorPagination):
    ordering = ("-last_message_at", "-id")


class InboxApi(generics.ListAPIView):
    """``GET /api/inbox/``: conversations awaiting an answer, newest first."""

    serializer_class = ConversationSerializer
    pagination_class = NewestConversationsFirst
    permission_classes = [IsAuthenticated, CanWorkInbox]

    def get_queryset(self) -> QuerySet[Conversation]:
        filters = InboxFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.inbox(user_id=self.request.user.pk, **filters.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter("assigned", OpenApiTypes.STR, enum=["me", "none"]),
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=["open", "resolved"],
                description="Without it: open conversations awaiting a reply.",
            ),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AssignSerializer(serializers.Serializer):
    user = serializers.IntegerField(
        min_value=1, allow_null=True, help_text="The agent's user id; null to unassign."
    )


def _conversation(customer_id: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.filter(customer__merged_into__isnull=True).select_related(
            "customer", "assigned_to"
        ),
        customer_id=customer_id,
    )


class InboxAssignApi(APIView):
    permission_classes = [IsAuthenticated, CanWorkInbox]

    @extend_schema(request=AssignSerializer, responses={200: ConversationSerializer})
    def post(self, request: Request, customer_id: int) -> Response:
        conversation = _conversation(customer_id)
        payload = AssignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            inbox.conversation_assign(
                conversation=conversation, user_id=payload.validated_data["user"]
            )
        except DomainError as exc:
            raise ValidationError({"user": exc.messages}) from exc
        return Response(ConversationSerializer(_conversation(customer_id)).data)


class InboxResolveApi(APIView):
    permission_classes = [IsAuthenticated, CanWorkInbox]

    @extend_schema(request=None, responses={200: ConversationSerializer})
    def post(self, request: Request, customer_id: int) -> Response:
        conversation = inbox.conversation_resolve(conversation=_conversation(customer_id))
        return Response(ConversationSerializer(conversation).data)
