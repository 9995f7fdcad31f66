from scoring import unit_activity
from scoring.appeals import views as appeals
from scoring.assessments import appraisal_views as appraisal
from scoring.assessments import self_views as self_assessment
from scoring.council import views as council
from scoring.exchange import views as files
from scoring.frameworks import views as frameworks
from scoring.inspections import views as inspections
from scoring.results import views as results

app_name = "scoring"

urlpatterns = (
    self_assessment.urlpatterns
    + appraisal.urlpatterns
    + files.urlpatterns
    + frameworks.urlpatterns
    + unit_activity.urlpatterns
    + appeals.urlpatterns
    + council.urlpatterns
    + inspections.urlpatterns
    + results.urlpatterns
)
