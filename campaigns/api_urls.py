from django.urls import path

from campaigns import api

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
]
