from .views import appraisal, files, frameworks, self_assessment

app_name = "scoring"

urlpatterns = self_assessment.urlpatterns + appraisal.urlpatterns + files.urlpatterns + frameworks.urlpatterns
