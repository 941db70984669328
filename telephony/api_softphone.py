"""``POST /api/softphone/token/``: a Twilio Voice access token for the browser softphone
(telephony/softphone.py). Only for whoever may place calls, and only where the softphone
is configured (404 otherwise: the capability is absent, not broken)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from telephony import softphone


class CanDial(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user.has_perm(softphone.DIAL_PERMISSION))


class SoftphoneTokenApi(APIView):
    permission_classes = [IsAuthenticated, CanDial]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "SoftphoneToken",
                {
                    "token": serializers.CharField(),
                    "identity": serializers.CharField(),
                    "ttl": serializers.IntegerField(),
                },
            ),
            404: inline_serializer("SoftphoneAbsent", {"detail": serializers.CharField()}),
        },
        description="A Twilio Voice access token (JWT with a Voice grant for the TwiML App, "
        "outgoing only) for the signed-in caller's browser; `ttl` in seconds. 404 when the "
        "browser softphone is not configured (Twilio voice provider, API key and secret, "
        "TwiML App SID).",
    )
    def post(self, request: Request) -> Response:
        if not softphone.softphone_available():
            return Response(
                {"detail": "The browser softphone is not configured here."},
                status=status.HTTP_404_NOT_FOUND,
            )
        minted = softphone.access_token_mint(user_id=int(request.user.pk or 0))  # signed in
        body = {"token": minted.token, "identity": minted.identity, "ttl": minted.ttl}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})
