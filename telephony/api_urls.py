from django.urls import path

from telephony.api import CallListCreateApi, CustomerCallListApi

urlpatterns = [
    path("calls/", CallListCreateApi.as_view(), name="calls"),
    path("customers/<int:id>/calls/", CustomerCallListApi.as_view(), name="customer-calls"),
]
