from django.urls import path

from telephony.api import CallsView, CustomerCallsView

urlpatterns = [
    path("calls/", CallsView.as_view(), name="calls"),
    path("customers/<int:id>/calls/", CustomerCallsView.as_view(), name="customer-calls"),
]
