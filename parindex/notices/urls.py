from django.urls import path

from parindex.notices import views

app_name = "notices"

urlpatterns = [
    path("", views.notice_list, name="list"),
    path("<int:pk>/open/", views.notice_open, name="open"),
    path("read/", views.notices_read_all, name="read_all"),
]
