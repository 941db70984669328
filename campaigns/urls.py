from django.contrib.auth.views import LogoutView
from django.urls import path

from campaigns import views, views_dialing

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("login/", views.WorkspaceLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="campaigns:login"), name="logout"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("me/", views_dialing.my_phone, name="my-phone"),
    path("<int:campaign_id>/dial/", views_dialing.dial, name="dial"),
    path(
        "<int:campaign_id>/dial/<int:contact_id>/call/",
        views_dialing.dial_call,
        name="dial-call",
    ),
    path(
        "<int:campaign_id>/dial/calls/<int:attempt_id>/",
        views_dialing.dial_attempt,
        name="dial-attempt",
    ),
    path(
        "<int:campaign_id>/dial/calls/<int:attempt_id>/outcome/",
        views_dialing.dial_outcome,
        name="dial-outcome",
    ),
    path("<int:campaign_id>/phones/", views.campaign_phones, name="phones"),
    path("<int:campaign_id>/log/", views.campaign_log, name="log"),
    path("<int:campaign_id>/quality/", views.campaign_quality, name="quality"),
    path("<int:campaign_id>/export.csv", views.campaign_export, name="export"),
    path(
        "<int:campaign_id>/phones/<int:phone_id>/disqualify/",
        views.phone_disqualify,
        name="phone-disqualify",
    ),
    path(
        "<int:campaign_id>/contacts/<int:contact_id>/disqualify/",
        views.contact_disqualify,
        name="contact-disqualify",
    ),
    path(
        "<int:campaign_id>/accounts/<int:account_id>/disqualify/",
        views.account_disqualify,
        name="account-disqualify",
    ),
    path("<int:campaign_id>/contacts/<int:contact_id>/log/", views.contact_log, name="contact-log"),
    path(
        "<int:campaign_id>/dispositions/<int:disposition_id>/undo/",
        views.disposition_undo,
        name="disposition-undo",
    ),
]
