from django.urls import path

from reports import inspection_views, job_views, views

app_name = "reports"

urlpatterns = (
    views.urlpatterns
    + job_views.urlpatterns
    + inspection_views.urlpatterns
    + [
        path("province/", views.province_home, name="province_home"),
        path("province/<str:province_code>/", views.province, name="province"),
    ]
)
