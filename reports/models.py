# Report jobs and remediation items arrive with their issues; the app exists now so that the
# layout of the design card holds from the start.
