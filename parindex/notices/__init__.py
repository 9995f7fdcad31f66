"""In-app notifications (the bell): the same workflow events as the e-mails, to the same people.

Like parindex.audit this app sits below every domain app and imports none of them: scoring's
notification code decides who is told what and calls notices_create.
"""
