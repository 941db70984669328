from rest_framework.routers import DefaultRouter

from crm.api import CustomerListDetailApi

router = DefaultRouter()
router.register("customers", CustomerListDetailApi, basename="customer")

urlpatterns = router.urls
