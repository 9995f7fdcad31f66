"""Inspections (kiểm tra CCHC, DESIGN §2.4): an authority's yearly plan, the visits of its teams to
units, their findings by area and criterion, the draft findings shared with the unit and its response,
the conclusion with recommendations, and the unit's reports that it fixed them."""
