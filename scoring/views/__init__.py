"""Pages of the scoring app, one module per part of the year's work:
self_assessment (unit officers), appraisal (the Home Affairs office), frameworks (boards, survey,
deadlines, publication, audit). Each module lists its own urlpatterns; scoring/urls.py joins them."""
