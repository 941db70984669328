from django.urls import path

from reputation.api import MonitorView, ReputationNumbersView, UnmonitorView, UsageView

urlpatterns = [
    path("reputation/numbers/", ReputationNumbersView.as_view(), name="reputation-numbers"),
    path("reputation/numbers/<int:id>/monitor/", MonitorView.as_view(), name="reputation-monitor"),
    path(
        "reputation/numbers/<int:id>/unmonitor/",
        UnmonitorView.as_view(),
        name="reputation-unmonitor",
    ),
    path("reputation/usage/", UsageView.as_view(), name="reputation-usage"),
]
