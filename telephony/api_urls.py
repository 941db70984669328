from django.urls import path

from telephony.api import CallReportView, CustomerCallsView

urlpatterns = [
    path("calls/", CallReportView.as_view(), name="call-report"),
    path("customers/<int:id>/calls/", CustomerCallsView.as_view(), name="customer-calls"),
]
