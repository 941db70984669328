"""Campaigns' section of the admin home (registered in campaigns/apps.py)."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from campaigns import selectors
from campaigns.models import LeadUpload


def uploads_panel(request: HttpRequest, obj: None) -> dict[str, Any] | None:
    if not request.user.has_perm("campaigns.view_leadupload"):
        return None
    uploads = selectors.lead_uploads_running()
    return {
        "title": "Uploads running",
        "url": reverse("admin:campaigns_leadupload_changelist"),
        "uploads": [
            {
                "upload": upload,
                "url": reverse("admin:campaigns_leadupload_change", args=[upload.pk]),
                "progress": selectors.lead_upload_progress(upload),
                **_links(upload),
            }
            for upload in uploads
        ],
    }


def _links(upload: LeadUpload) -> dict[str, str]:
    """Check the columns of an upload waiting for them; cancel one not started."""
    links = {}
    if upload.waiting_for_columns:
        links["columns_url"] = reverse(
            "admin:campaigns_campaign_upload_columns", args=[upload.campaign_id, upload.pk]
        )
    if upload.cancellable:
        links["cancel_url"] = reverse("admin:campaigns_leadupload_cancel", args=[upload.pk])
    return links
