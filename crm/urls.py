from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    # First: Twilio's webhooks are the busiest URLs, and resolution tries these in order.
    path("webhooks/twilio/", include("telephony.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("crm.api_urls")),
    path("api/", include("telephony.api_urls")),
    path("api/", include("reputation.api_urls")),
    path("api/", include("campaigns.api_urls")),
    path("campaigns/", include("campaigns.urls")),
]

# A refused page is a page of the site it belongs to (crm/forbidden.py).
handler403 = "crm.forbidden.permission_denied"
