from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "ParIndex — Chỉ số cải cách hành chính"
admin.site.site_title = "ParIndex"
admin.site.index_title = "Quản trị"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("health/", include("parindex.health")),
]
