from django.urls import path

from telephony.api import CallListCreateApi, CallNoteListCreateApi, CustomerCallListApi

urlpatterns = [
    path("calls/", CallListCreateApi.as_view(), name="calls"),
    path("calls/<int:id>/notes/", CallNoteListCreateApi.as_view(), name="call-notes"),
    path("customers/<int:id>/calls/", CustomerCallListApi.as_view(), name="customer-calls"),
]
