"""Frameworks and their criteria: services, selectors, forms and pages."""
