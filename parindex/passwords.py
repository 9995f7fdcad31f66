"""Password rules beyond Django's: a password may not contain the username (x08x08x08 for x08)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class UsernameNotInPasswordValidator:
    """Refuses a password that contains the username, whatever the letter case.

    Django's UserAttributeSimilarityValidator compares the whole password with the username, so a
    password built by repeating the username ("x08x08x08") passes it.
    """

    def validate(self, password, user=None):
        username = (getattr(user, "get_username", lambda: "")() or "").strip().casefold() if user else ""
        if username and username in password.casefold():
            raise ValidationError(
                _("The password must not contain the username."), code="password_contains_username"
            )

    def get_help_text(self):
        return _("Your password must not contain your username.")
