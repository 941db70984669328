"""REST API for campaigns: Campaign Phone Counts, disqualifying a number, lead uploads."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors, services
from campaigns.models import Campaign, CampaignPhone, Disposition, LeadUpload, Scope
from crm.inputs import FormParser, MultiPartParser
from crm.pagination import BoundedCursorPagination
from crm.permissions import permissions_load
from crm.phones import InvalidPhoneNumber, normalize


class HasPerm(BasePermission):
    """The role matrix: each view names the permission it needs."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user:
            return False
        # The view's scoping (campaigns_for_user) asks again: both answered by one read.
        permissions_load(request.user)
        return bool(request.user.has_perm(view.required_permission))


def _campaign(request: Request, campaign_id: int) -> Campaign:
    # Campaigns a caller is not assigned to do not exist for them (404, not 403).
    return get_object_or_404(selectors.campaigns_for_user(request.user), pk=campaign_id)


class CampaignPhoneSerializer(serializers.ModelSerializer):
    # Same choices as the disqualify "scope" under another name: a plain string keeps the
    # OpenAPI schema to one enum.
    status_scope = serializers.CharField(read_only=True)

    class Meta:
        model = CampaignPhone
        fields = [
            "id",
            "number",
            "contact_count",
            "status",
            "status_scope",
            "status_reason",
            "status_changed_at",
        ]


class DispositionSerializer(serializers.ModelSerializer):
    by: serializers.StringRelatedField = serializers.StringRelatedField()

    class Meta:
        model = Disposition
        fields = ["id", "outcome", "target", "scope", "number", "note", "by", "created_at"]


class DisqualifyResultSerializer(serializers.Serializer):
    """What a disqualification answers: the number's row and the logged disposition."""

    phone = CampaignPhoneSerializer()
    disposition = DispositionSerializer()


class DisqualifySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.CAMPAIGN)


class LeadUploadSerializer(serializers.ModelSerializer):
    progress_url = serializers.SerializerMethodField()
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = LeadUpload
        fields = [
            "id",
            "campaign",
            "original_name",
            "size",
            "status",
            "phase",
            "percent",
            "error",
            "duplicate_of",
            "encoding",
            "encoding_note",
            "delimiter",
            "columns",
            "rows_read",
            "rows_rejected",
            "contacts_created",
            "merged_by_email",
            "duplicate_rows",
            "accounts_created",
            "numbers_found",
            "numbers_created",
            "numbers_do_not_call",
            "created_at",
            "finished_at",
            "progress_url",
        ]

    def get_progress_url(self, upload: LeadUpload) -> str:
        url = reverse("campaigns-api:upload-detail", args=[upload.campaign_id, upload.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class PhoneCountsPagination(BoundedCursorPagination):
    ordering = ("-contact_count", "id")
    page_size = 50


@extend_schema(
    parameters=[
        OpenApiParameter(
            "status", OpenApiTypes.STR, enum=["active", "disqualified"], required=False
        ),
        OpenApiParameter("number", OpenApiTypes.STR, description="A number in any format."),
    ]
)
class CampaignPhoneListApi(generics.ListAPIView):
    """Campaign Phone Counts: each distinct number of the campaign and its contacts."""

    serializer_class = CampaignPhoneSerializer
    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = "campaigns.view_campaignphone"
    pagination_class = PhoneCountsPagination

    def get_queryset(self) -> QuerySet[CampaignPhone]:
        campaign = _campaign(self.request, self.kwargs["campaign_id"])
        phones = selectors.campaign_phones(
            campaign=campaign, status=self.request.query_params.get("status", "")
        )
        number = self.request.query_params.get("number")
        if number:
            try:
                phones = phones.filter(number=normalize(number))
            except InvalidPhoneNumber as exc:
                raise ValidationError({"number": [str(exc)]}) from exc
        return phones


class CampaignPhoneDisqualifyApi(APIView):
    """Disqualify a number on every contact of the campaign carrying it.

    ``scope`` ``everywhere`` also puts it on the do-not-call list: every campaign, and
    uploads yet to come.
    """

    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = "campaigns.add_disposition"

    @extend_schema(request=DisqualifySerializer, responses={201: DisqualifyResultSerializer})
    def post(self, request: Request, campaign_id: int, number: str) -> Response:
        campaign = _campaign(request, campaign_id)
        try:
            e164 = normalize(number)
        except InvalidPhoneNumber as exc:
            raise ValidationError({"number": [str(exc)]}) from exc
        phone = CampaignPhone.objects.filter(campaign=campaign, number=e164).first()
        if phone is None:
            raise NotFound(f"{e164} is not a number of this campaign.")
        body = DisqualifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            disposition = services.campaign_phone_disqualify(
                phone=phone,
                by=request.user,
                reason=body.validated_data["reason"],
                scope=body.validated_data["scope"],
            )
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages}) from exc
        return Response(
            {
                "phone": CampaignPhoneSerializer(phone).data,
                "disposition": DispositionSerializer(disposition).data,
            },
            status=status.HTTP_201_CREATED,
        )


class LeadUploadCreateApi(APIView):
    """Upload a leads CSV (multipart ``file``); the import runs in the background."""

    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = "campaigns.add_leadupload"
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "The CSV."}
                },
                "required": ["file"],
            }
        },
        responses={202: LeadUploadSerializer},
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = _campaign(request, campaign_id)
        file = request.FILES.get("file")
        if file is None:
            raise ValidationError({"file": ["Attach the leads CSV as the multipart field 'file'."]})
        try:
            upload = services.lead_upload_submit(
                campaign=campaign, file=file, uploaded_by=request.user
            )
        except DjangoValidationError as exc:
            raise ValidationError({"file": exc.messages}) from exc
        data = LeadUploadSerializer(upload, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class LeadUploadDetailApi(APIView):
    """An upload's progress while it runs, and its receipt after."""

    permission_classes = [IsAuthenticated, HasPerm]
    required_permission = "campaigns.view_leadupload"

    @extend_schema(responses=LeadUploadSerializer)
    def get(self, request: Request, campaign_id: int, upload_id: int) -> Response:
        campaign = _campaign(request, campaign_id)
        upload = get_object_or_404(LeadUpload, campaign=campaign, pk=upload_id)
        return Response(LeadUploadSerializer(upload, context={"request": request}).data)
