from django.urls import path

from reputation.api import (
    MonitoredNumberListApi,
    MonitoredNumberMonitorApi,
    MonitoredNumberUnmonitorApi,
    ReputationUsageApi,
)

urlpatterns = [
    path("reputation/numbers/", MonitoredNumberListApi.as_view(), name="reputation-numbers"),
    path(
        "reputation/numbers/<int:id>/monitor/",
        MonitoredNumberMonitorApi.as_view(),
        name="reputation-monitor",
    ),
    path(
        "reputation/numbers/<int:id>/unmonitor/",
        MonitoredNumberUnmonitorApi.as_view(),
        name="reputation-unmonitor",
    ),
    path("reputation/usage/", ReputationUsageApi.as_view(), name="reputation-usage"),
]
