from reports import job_views, views

app_name = "reports"

urlpatterns = views.urlpatterns + job_views.urlpatterns
