from scoring.views import appraisal, files, frameworks, self_assessment, unit_activity

app_name = "scoring"

urlpatterns = (
    self_assessment.urlpatterns
    + appraisal.urlpatterns
    + files.urlpatterns
    + frameworks.urlpatterns
    + unit_activity.urlpatterns
)
