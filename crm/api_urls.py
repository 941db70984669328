from django.urls import path
from rest_framework.routers import DefaultRouter

from crm.api import CustomerListDetailApi, NoteDetailApi, SearchApi

router = DefaultRouter()
router.register("customers", CustomerListDetailApi, basename="customer")

urlpatterns = [
    path("search/", SearchApi.as_view(), name="search"),
    path("notes/<int:pk>/", NoteDetailApi.as_view(), name="note-detail"),
    *router.urls,
]
