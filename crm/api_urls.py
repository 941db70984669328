from rest_framework.routers import DefaultRouter

from crm.api import CustomerListDetailApi, CustomerMergeApi

router = DefaultRouter()
router.register("customers", CustomerListDetailApi, basename="customer")
router.register("merges", CustomerMergeApi, basename="customer-merge")

urlpatterns = router.urls
