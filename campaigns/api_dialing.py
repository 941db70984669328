"""REST API for dialling (docs/dialing.md): next lead, click-to-call, outcomes, do not call."""

import contextlib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import calling, dialing, dnc, selectors
from campaigns.api import HasPerm, _campaign
from campaigns.calling_window import local_label
from campaigns.models import CallAttempt, DoNotCallImport, DoNotCallNumber, Outcome
from crm.api_schema import BAD_REQUEST, CONFLICT
from crm.phones import InvalidPhoneNumber, normalize
from telephony.models import Call

WORK_PERMISSION = selectors.WORK_PERMISSION
DO_NOT_CALL_ADD = "campaigns.add_donotcallnumber"
DO_NOT_CALL_IMPORT = "campaigns.add_donotcallimport"


def _problems(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
    return {"detail": exc.messages}


def status_callback_url(request: Request) -> str:
    path = reverse("telephony:twilio-voice-outbound")
    base = settings.TWILIO_WEBHOOK_BASE_URL
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


def call_payload(call: Call) -> dict[str, Any]:
    return {
        "id": call.pk,
        "external_id": call.external_id,
        "status": call.status,
        "from": call.from_number,
        "to": call.to_number,
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
        "customer": call.customer_id,
    }


class OutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Outcome
        fields = ["id", "name", "kind", "retry_after_minutes", "max_attempts"]


class NextLeadApi(APIView):
    """The next lead for the signed-in caller, held for them for 10 minutes; 204 with
    ``Retry-After`` (and the reason in ``X-Reason``) when none is callable now."""

    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = WORK_PERMISSION

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 204: None})
    def get(self, request: Request, campaign_id: int) -> Response:
        # Campaigns a caller is not assigned to do not exist for them (404, not 403).
        campaign = selectors.campaign_to_dial(request.user, campaign_id)
        if campaign is None:
            raise Http404("No Campaign matches the given query.")  # as get_object_or_404
        if not campaign.outcomes_seeded:  # type: ignore[attr-defined]
            dialing.campaign_outcomes_seed(campaign=campaign)
        now = timezone.now()
        lead = dialing.lead_next(campaign=campaign, caller=request.user, now=now)
        if isinstance(lead, dialing.NoLead):
            response = Response(status=status.HTTP_204_NO_CONTENT)
            response["X-Reason"] = lead.reason.encode("ascii", "replace").decode()
            seconds = lead.retry_after(now)
            if seconds is not None:
                response["Retry-After"] = str(seconds)
            return response
        return Response(dialing.lead_payload(lead))


class CallRequestSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64)


class ContactCallApi(APIView):
    """Click-to-call: ring the caller's own phone, then the lead, from the chosen caller ID."""

    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = WORK_PERMISSION

    @extend_schema(
        request=CallRequestSerializer,
        responses={
            201: inline_serializer(
                "ClickToCall",
                {
                    "call": serializers.DictField(),
                    "caller_id": serializers.CharField(),
                    "reason": serializers.CharField(),
                },
            ),
            409: CONFLICT,
            502: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request, campaign_id: int, contact_id: int) -> Response:
        campaign = _campaign(request, campaign_id)
        body = CallRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not campaign.contacts.filter(pk=contact_id).exists():
            raise NotFound("No such contact in this campaign.")
        try:
            started = calling.call_start(
                campaign=campaign,
                contact_id=contact_id,
                number=body.validated_data["number"],
                caller=request.user,
                status_callback=status_callback_url(request),
            )
        except DjangoValidationError as exc:
            raise ValidationError(_problems(exc)) from exc
        except calling.CallRefused as exc:
            return Response(
                {"detail": str(exc), "reason": str(exc)}, status=status.HTTP_409_CONFLICT
            )
        except calling.CallNotStarted as exc:
            attempt = exc.attempt
            return Response(
                {
                    "detail": exc.reason,
                    "reason": exc.reason,
                    "call": call_payload(attempt.call) if attempt.call else None,
                    "caller_id": attempt.from_number,
                },
                status=status.HTTP_502_BAD_GATEWAY,
            )
        return Response(
            {
                "call": call_payload(started.call),
                "caller_id": started.caller_id,
                "reason": started.reason,
                "attempt": started.attempt.pk,
            },
            status=status.HTTP_201_CREATED,
        )


class OutcomeRequestSerializer(serializers.Serializer):
    outcome = serializers.CharField(max_length=60)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    callback_at = serializers.CharField(
        max_length=40, required=False, allow_blank=True, allow_null=True, default=None
    )


def attempt_payload(attempt: CallAttempt) -> dict[str, Any]:
    zone = attempt.callback_at and calling.lead_zone(attempt.contact, attempt.number)
    return {
        "id": attempt.pk,
        "call": attempt.call_id,
        "contact": attempt.contact_id,
        "campaign": attempt.campaign_id,
        "caller": attempt.caller.get_username() if attempt.caller else None,
        "outcome": OutcomeSerializer(attempt.outcome).data if attempt.outcome else None,
        "note": attempt.note,
        "callback_at": attempt.callback_at,
        "callback_local": local_label(attempt.callback_at, zone)
        if attempt.callback_at and zone
        else None,
    }


class CallOutcomeApi(APIView):
    """The outcome of an outbound call: ``outcome`` (name or id), optional ``note``,
    ``callback_at`` in the lead's local time (ISO 8601 without offset) for a callback."""

    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = WORK_PERMISSION

    @extend_schema(request=OutcomeRequestSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, call_id: int) -> Response:
        call = get_object_or_404(Call, pk=call_id)
        attempt = CallAttempt.objects.filter(call=call).select_related("campaign").first()
        if (
            attempt is None
            or not selectors.campaigns_for_user(request.user)
            .filter(pk=attempt.campaign_id)
            .exists()
        ):
            raise NotFound("No campaign call of yours has this id.")
        if attempt.caller_id != request.user.pk and not request.user.has_perm(
            selectors.MANAGE_PERMISSION
        ):
            raise PermissionDenied("Only the caller who placed the call logs its outcome.")
        body = OutcomeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            logged = calling.call_outcome_log(
                call=call,
                outcome=body.validated_data["outcome"],
                note=body.validated_data["note"],
                callback_at=body.validated_data["callback_at"],
                by=request.user,
            )
        except DjangoValidationError as exc:
            raise ValidationError(_problems(exc)) from exc
        logged = CallAttempt.objects.select_related("contact", "caller", "outcome").get(
            pk=logged.pk
        )
        return Response(attempt_payload(logged), status=status.HTTP_201_CREATED)


class OutcomeListApi(APIView):
    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = "campaigns.view_campaign"

    @extend_schema(responses=OutcomeSerializer(many=True))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = _campaign(request, campaign_id)
        outcomes = dialing.campaign_outcomes_ensure(campaign=campaign)
        return Response(OutcomeSerializer(outcomes, many=True).data)


class DoNotCallSerializer(serializers.ModelSerializer):
    added_by = serializers.SerializerMethodField()
    added_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = DoNotCallNumber
        fields = ["number", "reason", "added_by", "added_at"]

    def get_added_by(self, entry: DoNotCallNumber) -> str | None:
        return entry.added_by.get_username() if entry.added_by else None


class DoNotCallAddSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class DoNotCallImportSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = DoNotCallImport
        fields = [
            "id",
            "original_name",
            "status",
            "lines_read",
            "numbers_added",
            "numbers_already_listed",
            "leads_disqualified",
            "lines_rejected",
            "rejections",
            "error",
            "created_at",
            "finished_at",
        ]


class DoNotCallApi(APIView):
    """The global do-not-call list: ``GET ?number=`` (any format) answers that number's
    entry, or an empty list when it is not listed; without it the newest 100. ``POST`` one
    number, or a multipart ``file`` imported in the background: 202 with the import,
    followed at ``GET /api/do-not-call/imports/{id}/`` (Administrators)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("number", OpenApiTypes.STR, description="Any format.")],
        responses={200: DoNotCallSerializer(many=True), 400: BAD_REQUEST},
    )
    def get(self, request: Request) -> Response:
        entries = DoNotCallNumber.objects.select_related("added_by").order_by("-created_at")
        raw = request.query_params.get("number")
        if raw is not None:
            try:
                entries = entries.filter(number=normalize(raw))
            except InvalidPhoneNumber as exc:
                raise ValidationError({"number": [str(exc)]}) from exc
        return Response(DoNotCallSerializer(entries[:100], many=True).data)

    @extend_schema(
        request={
            "application/json": DoNotCallAddSerializer,
            "multipart/form-data": inline_serializer(
                "DoNotCallFile",
                {
                    "file": serializers.FileField(),
                    "reason": serializers.CharField(required=False),
                },
            ),
        },
        responses={
            200: DoNotCallSerializer,
            201: DoNotCallSerializer,
            202: DoNotCallImportSerializer,
            400: BAD_REQUEST,
        },
    )
    def post(self, request: Request) -> Response:
        if not request.user.has_perm(DO_NOT_CALL_ADD):
            raise PermissionDenied("Only Administrators add numbers to the do-not-call list.")
        upload = request.FILES.get("file")
        if upload is not None:
            if not request.user.has_perm(DO_NOT_CALL_IMPORT):
                raise PermissionDenied("Only Administrators import do-not-call files.")
            reason = str(request.data.get("reason", ""))[:255]
            job = dnc.import_queue(
                upload=upload,
                name=upload.name,
                size=upload.size,
                reason=reason,
                by_id=request.user.pk,
            )
            return Response(DoNotCallImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        # A JSON body may be null or a list: only a mapping can name a file.
        if isinstance(request.data, Mapping) and "file" in request.data:
            raise ValidationError({"file": ["Send the file as multipart form data."]})
        body = DoNotCallAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        existed = False
        with contextlib.suppress(InvalidPhoneNumber):
            existed = DoNotCallNumber.objects.filter(
                number=normalize(body.validated_data["number"])
            ).exists()
        try:
            entry = calling.do_not_call_add(
                number=body.validated_data["number"],
                reason=body.validated_data["reason"],
                by=request.user,
            )
        except DjangoValidationError as exc:
            raise ValidationError(_problems(exc)) from exc
        return Response(
            DoNotCallSerializer(entry).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class DoNotCallImportApi(APIView):
    """One do-not-call import: its progress, then its receipt (Administrators)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: DoNotCallImportSerializer})
    def get(self, request: Request, import_id: int) -> Response:
        if not request.user.has_perm(DO_NOT_CALL_IMPORT):
            raise PermissionDenied("Only Administrators import do-not-call files.")
        job = get_object_or_404(DoNotCallImport, pk=import_id)
        return Response(DoNotCallImportSerializer(job).data)
