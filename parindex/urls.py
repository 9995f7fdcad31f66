from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from parindex import views

admin.site.site_header = "ParIndex — Chỉ số cải cách hành chính"
admin.site.site_title = "ParIndex"
admin.site.index_title = "Quản trị"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("health/", include("parindex.health")),
    path("notifications/", include("parindex.notices.urls")),
    path("", include("scoring.urls")),
    path("dashboards/", include("reports.urls")),
]
