from django.contrib import admin


class SwitchboardAdminSite(admin.AdminSite):
    site_header = "Switchboard"
    site_title = "Switchboard"
    index_title = "Customers, calls and campaigns"
    # The admin is the product for staff; there is no separate public site to link to.
    site_url = None
