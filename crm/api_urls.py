from django.urls import path
from rest_framework.routers import DefaultRouter

from crm.api import CustomerListDetailApi, CustomerMergeApi, NoteDetailApi, SearchApi

router = DefaultRouter()
router.register("customers", CustomerListDetailApi, basename="customer")
router.register("merges", CustomerMergeApi, basename="customer-merge")

urlpatterns = [
    path("search/", SearchApi.as_view(), name="search"),
    path("notes/<int:pk>/", NoteDetailApi.as_view(), name="note-detail"),
    *router.urls,
]
