from django.urls import path

from campaigns import api, api_dialing

app_name = "campaigns-api"

urlpatterns = [
    path(
        "campaigns/<int:campaign_id>/phones/",
        api.CampaignPhoneListApi.as_view(),
        name="phone-list",
    ),
    path(
        "campaigns/<int:campaign_id>/phones/<str:number>/disqualify/",
        api.CampaignPhoneDisqualifyApi.as_view(),
        name="phone-disqualify",
    ),
    path(
        "campaigns/<int:campaign_id>/uploads/",
        api.LeadUploadCreateApi.as_view(),
        name="upload-create",
    ),
    path(
        "campaigns/<int:campaign_id>/uploads/<int:upload_id>/",
        api.LeadUploadDetailApi.as_view(),
        name="upload-detail",
    ),
    path("campaigns/<int:campaign_id>/next/", api_dialing.NextLeadApi.as_view(), name="next-lead"),
    path(
        "campaigns/<int:campaign_id>/contacts/<int:contact_id>/call/",
        api_dialing.ContactCallApi.as_view(),
        name="contact-call",
    ),
    path(
        "campaigns/<int:campaign_id>/outcomes/",
        api_dialing.OutcomeListApi.as_view(),
        name="outcome-list",
    ),
    path("calls/<int:call_id>/outcome/", api_dialing.CallOutcomeApi.as_view(), name="call-outcome"),
    path("do-not-call/", api_dialing.DoNotCallApi.as_view(), name="do-not-call"),
    path(
        "do-not-call/imports/<int:import_id>/",
        api_dialing.DoNotCallImportApi.as_view(),
        name="do-not-call-import",
    ),
]
