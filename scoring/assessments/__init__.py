"""Assessments and their workflow: self-assessment, appraisal, survey, explanation rounds,
evidence and notifications."""
