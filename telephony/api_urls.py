from django.urls import path

from telephony.api import CallListCreateApi, CallNoteListCreateApi, CustomerCallListApi
from telephony.api_messaging import (
    CustomerMessageSendApi,
    InboxApi,
    InboxAssignApi,
    InboxResolveApi,
)
from telephony.api_softphone import SoftphoneTokenApi

urlpatterns = [
    path("calls/", CallListCreateApi.as_view(), name="calls"),
    path("calls/<int:id>/notes/", CallNoteListCreateApi.as_view(), name="call-notes"),
    path("customers/<int:id>/calls/", CustomerCallListApi.as_view(), name="customer-calls"),
    path(
        "customers/<int:id>/messages/",
        CustomerMessageSendApi.as_view(),
        name="customer-messages",
    ),
    path("inbox/", InboxApi.as_view(), name="inbox"),
    path("softphone/token/", SoftphoneTokenApi.as_view(), name="softphone-token"),
    path("inbox/<int:customer_id>/assign/", InboxAssignApi.as_view(), name="inbox-assign"),
    path("inbox/<int:customer_id>/resolve/", InboxResolveApi.as_view(), name="inbox-resolve"),
]
