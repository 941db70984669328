from typing import Any

from django.core.exceptions import ValidationError as DomainError
from django.db import IntegrityError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import search, selectors, services
from crm.admin_extensions import number_flags
from crm.db import constraint_violation_message
from crm.merges import customer_merge_undo
from crm.models import Customer, CustomerMerge, Note, PhoneNumber
from crm.pagination import RankedOrNewestFirstCursorPagination
from crm.phones import InvalidPhoneNumber


class PhoneNumberSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    do_not_call = serializers.SerializerMethodField()

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "number",
            "type",
            "sms",
            "sms_opted_out",
            "sms_opted_out_at",
            "type_source",
            "do_not_call",
            "updated_at",
        ]

    def get_do_not_call(self, phone: PhoneNumber) -> bool:
        """On the global do-not-call list (campaigns registers the lookup)."""
        flagged = self.context.get(FLAGS_CONTEXT)
        if flagged is None:
            return number_flags.has("do_not_call", str(phone.number))
        return "do_not_call" in flagged.get(str(phone.number), ())


# The flags of every number a response shows, looked up once for the whole response
# (one query a flag), not once per number.
FLAGS_CONTEXT = "number_flags"


def _flags_into(context: dict[str, Any], customers: list[Customer]) -> None:
    numbers = [str(p.number) for c in customers for p in c.phone_numbers.all()]
    found = number_flags.of(numbers)
    context[FLAGS_CONTEXT] = {e164: {f.key for f in flags} for e164, flags in found.items()}


class CustomerListSerializer(serializers.ListSerializer):
    def to_representation(self, data: Any) -> list[Any]:
        customers = list(data.all() if hasattr(data, "all") else data)
        _flags_into(self.context, customers)
        return super().to_representation(customers)


class CustomerSerializer(serializers.ModelSerializer):
    numbers = PhoneNumberSerializer(source="phone_numbers", many=True, read_only=True)

    def to_representation(self, instance: Customer) -> Any:
        if FLAGS_CONTEXT not in self.context:
            _flags_into(self.context, [instance])
        return super().to_representation(instance)

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
        list_serializer_class = CustomerListSerializer


class MergeRequestSerializer(serializers.Serializer):
    into = serializers.IntegerField(min_value=1, help_text="The id of the profile to keep.")
    name = serializers.ChoiceField(
        services.MERGE_SOURCES,
        required=False,
        help_text="Whose name the kept profile takes: `kept` (the `into` profile's) or "
        "`merged` (this one's). Default: the kept one's, unless it has none.",
    )
    email = serializers.ChoiceField(
        services.MERGE_SOURCES, required=False, help_text="Whose email survives, as `name`."
    )


class CustomerMergeLogSerializer(serializers.ModelSerializer):
    """A merge as the log lists it: who went where, what moved, the values before."""

    class Meta:
        model = CustomerMerge
        fields = ["id", "kept", "merged", "moved", "values", "created_at", "undone_at"]
        read_only_fields = fields


class CustomerMergeSerializer(CustomerMergeLogSerializer):
    customer = serializers.SerializerMethodField()

    class Meta(CustomerMergeLogSerializer.Meta):
        fields = [*CustomerMergeLogSerializer.Meta.fields, "customer"]
        read_only_fields = fields

    def get_customer(self, obj: CustomerMerge) -> dict:
        kept = selectors.customer_with_numbers().get(pk=obj.kept_id)
        return dict(CustomerSerializer(kept).data)


class NoteSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = ["id", "text", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]

    def get_author(self, obj: Note) -> str | None:
        return obj.author.get_username() if obj.author is not None else None


class NoteTextSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.NOTE_MAX_LENGTH)


class NotePermission(BasePermission):
    """Reading notes needs ``crm.view_note``; writing one ``crm.add_note`` (Agents,
    Administrators). Callers have neither."""

    def has_permission(self, request: Request, view: object) -> bool:
        wanted = "crm.view_note" if request.method in SAFE_METHODS else "crm.add_note"
        return bool(request.user and request.user.has_perm(wanted))


def note_from_request(request: Request, write: Any) -> Note:
    """Validates ``{"text"}`` and calls ``write(text)``: a service's refusal is a 400."""
    body = NoteTextSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    try:
        note: Note = write(body.validated_data["text"])
    except DomainError as exc:
        raise ValidationError({"text": exc.messages}) from exc
    return note


class CanMerge(BasePermission):
    """Merging is Administrators' and Agents': whoever may change customers."""

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.has_perm("crm.change_customer"))


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "phone",
                OpenApiTypes.STR,
                description="A phone number in any format, e.g. (678)-999 8212, or its last "
                "4 or more digits (8212, 999-8212).",
            ),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description="Any word of a name (by prefix, accents ignored), an email or part "
                "of one, a number in any format or its last 4+ digits; best matches first.",
            ),
        ]
    )
)
class CustomerListDetailApi(viewsets.ReadOnlyModelViewSet):
    serializer_class = CustomerSerializer
    pagination_class = RankedOrNewestFirstCursorPagination
    queryset = Customer.objects.none()  # for DjangoModelPermissions; real one below

    def get_queryset(self) -> QuerySet[Customer]:
        queryset = selectors.customer_with_numbers()
        if self.action != "list":
            return queryset
        phone = self.request.query_params.get("phone")
        if phone is not None:
            try:
                queryset = selectors.customer_filter_by_phone_term(queryset, phone)
            except InvalidPhoneNumber as exc:
                raise ValidationError({"phone": [str(exc)]}) from exc
        search = self.request.query_params.get("search")
        if search:
            queryset = selectors.customer_search(queryset, search)
        return queryset

    @extend_schema(
        methods=["GET"],
        responses={200: NoteSerializer(many=True)},
        request=None,
        description="The customer's notes (and notes on their calls), newest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=NoteTextSerializer,
        responses={201: NoteSerializer},
        description="Write a note on this customer (JSON `text`).",
    )
    @action(detail=True, methods=["get", "post"], permission_classes=[NotePermission])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        customer = self.get_object()
        if request.method in SAFE_METHODS:
            return Response(NoteSerializer(selectors.customer_notes(customer), many=True).data)
        note = note_from_request(
            request,
            lambda text: services.note_create(customer=customer, author=request.user, text=text),
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=MergeRequestSerializer,
        responses={
            200: CustomerMergeSerializer,
            400: OpenApiResponse(description="No such profile to merge into."),
            409: inline_serializer("MergeRefused", {"detail": serializers.CharField()}),
        },
        description="Merge this profile into `into` (kept): numbers, calls and messages "
        "move there; this profile is hidden with merged_into set. 409 with the reason when "
        "a rule forbids it.",
    )
    @action(detail=True, methods=["post"], permission_classes=[CanMerge])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        merge = self.get_object()
        body = MergeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        keep = selectors.customer_queryset().filter(pk=body.validated_data["into"]).first()
        if keep is None:
            raise ValidationError({"into": ["No profile with this id (or it was merged away)."]})
        chosen = {
            f: body.validated_data[f] for f in services.MERGE_FIELDS if f in body.validated_data
        }
        try:
            result = services.customer_merge(
                keep=keep, merge=merge, actor=request.user, fields=chosen
            )
        except DomainError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        except IntegrityError as exc:
            reason = constraint_violation_message(exc, PhoneNumber) or "A rule forbids this merge."
            return Response({"detail": reason}, status=status.HTTP_409_CONFLICT)
        return Response(CustomerMergeSerializer(result).data)


@extend_schema(
    request=NoteTextSerializer,
    responses={200: NoteSerializer},
    description="A note; PATCH `text` changes it, by its author only (403 otherwise). The "
    "text it replaced is kept (the audit).",
)
class NoteDetailApi(generics.RetrieveUpdateAPIView):
    serializer_class = NoteSerializer
    queryset = Note.objects.select_related("author")
    http_method_names = ["get", "patch", "head", "options"]

    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note = self.get_object()
        try:
            note = note_from_request(
                request, lambda text: services.note_edit(note=note, by=request.user, text=text)
            )
        except services.NoteNotYours as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(NoteSerializer(note).data)


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["customer", "lead", "call", "owned_number"])
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    matched = serializers.CharField()


@extend_schema(
    parameters=[
        OpenApiParameter(
            "q",
            OpenApiTypes.STR,
            required=True,
            description="A word of a name or company (by prefix, accents ignored), an email "
            "or part of one, a number in any format or its last 4+ digits.",
        ),
        OpenApiParameter(
            "limit", OpenApiTypes.INT, description="At most this many per kind (1-100, default 20)."
        ),
    ],
    responses={
        200: SearchHitSerializer(many=True),
        400: OpenApiResponse(description="No `q`, or a `limit` outside 1-100."),
    },
    description="Customers, leads, calls and owned numbers in one ranked list (exact number "
    "or email, then name, then partial matches). A Caller's search covers only the leads of "
    "the campaigns assigned to them.",
)
class SearchApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        term = request.query_params.get("q")
        if term is None:
            raise ValidationError({"q": ["Give the text to search for, e.g. ?q=garcia."]})
        raw_limit = request.query_params.get("limit", "20")
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= 100:
            raise ValidationError({"limit": ["A whole number from 1 to 100."]})
        _, grouped = search.search_everything(term=term, user=request.user, limit=int(raw_limit))
        hits = search.merged_hits(grouped, search.search_registry.kinds)
        return Response(
            [{"kind": h.kind, "id": h.id, "label": h.label, "matched": h.matched} for h in hits]
        )


class CanUndoMerge(BasePermission):
    """Undoing a merge is Administrators' alone."""

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.has_perm("crm.undo_customermerge"))


class CustomerMergeApi(viewsets.ReadOnlyModelViewSet):
    """The merge log; Administrators undo a merge for 30 days."""

    serializer_class = CustomerMergeLogSerializer
    queryset = CustomerMerge.objects.order_by("-id")

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "MergeUndone",
                {"merge": CustomerMergeLogSerializer(), "back": serializers.DictField()},
            ),
            409: inline_serializer("UndoRefused", {"detail": serializers.CharField()}),
        },
        description="Undo this merge (Administrators, for 30 days): the rows it moved go "
        "back to the merged profile, which is live again. 409 with the reason when it "
        "cannot be undone (too old, already undone, merged on since, erased).",
    )
    @action(detail=True, methods=["post"], permission_classes=[CanUndoMerge])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        try:
            back = customer_merge_undo(record=record, actor=request.user)
        except DomainError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        record.refresh_from_db()
        return Response({"merge": CustomerMergeLogSerializer(record).data, "back": back})
