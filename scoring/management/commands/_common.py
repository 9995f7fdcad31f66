"""Helpers shared by the scoring management commands."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.http import Http404
from django.utils.translation import gettext as _

from parindex.errors import ServiceError, bilingual
from scoring.models import Framework


def refused(error: ServiceError) -> CommandError:
    """A service's refusal as the command's failure (non-zero exit): every message in Vietnamese,
    then in English. Commands check nothing themselves; they report what the service said."""
    return CommandError(" / ".join("; ".join(error.texts(language)) for language in ("vi", "en")))


def get_framework(code: str) -> Framework:
    framework = Framework.objects.filter(code=code).select_related("authority").first()
    if framework is None:
        raise CommandError(bilingual("Unknown framework %(code)s.", code=code))
    return framework


def get_user(username: str | None):
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(bilingual("Unknown user %(username)s.", username=username))
    return user


def check_access(user, check, *args, **kwargs):
    """Run a scoring.access helper for the --user of a command: what the web answers with 404 or 403
    ends the command with a non-zero exit and the reason."""
    try:
        return check(user, *args, **kwargs)
    except Http404:
        raise CommandError(
            bilingual("%(username)s may not see this.", username=user.get_username())
        ) from None
    except PermissionDenied as error:
        reason = str(error) or _("Permission denied.")
        raise CommandError(
            bilingual("%(username)s may not do this: %(reason)s", username=user.get_username(), reason=reason)
        ) from None
