from django.urls import path

from campaigns import api

app_name = "campaigns-api"

urlpatterns = [
    path(
        "campaigns/<int:campaign_id>/phones/",
        api.CampaignPhoneList.as_view(),
        name="phone-list",
    ),
    path(
        "campaigns/<int:campaign_id>/phones/<str:number>/disqualify/",
        api.CampaignPhoneDisqualify.as_view(),
        name="phone-disqualify",
    ),
    path(
        "campaigns/<int:campaign_id>/uploads/",
        api.LeadUploadCreate.as_view(),
        name="upload-create",
    ),
    path(
        "campaigns/<int:campaign_id>/uploads/<int:upload_id>/",
        api.LeadUploadDetail.as_view(),
        name="upload-detail",
    ),
]
