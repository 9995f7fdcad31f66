"""Preliminary results and appeals (kiến nghị, DESIGN §2.3): the unit's page of its preliminary
results, the appeals it lodges per criterion until the appeal deadline, and the office's answers —
the only way the points move once the preliminary results are notified."""
