from django.contrib import admin

from telephony.models import OwnedNumber


@admin.register(OwnedNumber)
class OwnedNumberAdmin(admin.ModelAdmin):
    list_display = ("number", "label", "status", "provider_id", "acquired_at", "replaced_by")
    list_filter = ("status",)
    search_fields = ("number", "label")
    list_select_related = ("replaced_by",)
    raw_id_fields = ("replaced_by",)
