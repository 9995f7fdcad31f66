"""The one error type services refuse with, and the helpers every entry path uses to translate it.

A service never returns a half-done answer: it raises `ServiceError` with a stable `code`, the
object it concerns, the `field` (a model field or form field) and/or `criterion` (a criterion code)
it is about, and a translatable message with parameters. Entry paths translate it and add nothing:

- importers place it on a cell (``Problem`` with the criterion's row),
- the admin puts it on a form field (``ServiceError.as_form_errors``),
- views show the message or answer 403/404 (``ServiceError.status``),
- commands exit non-zero with the message in Vietnamese and English (``ServiceError.bilingual``).

`ServiceError` is a ``ValidationError`` so that code which catches ``ValidationError`` (forms,
``full_clean``) keeps working; its ``messages`` are the rendered texts in the active language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext, override

from parindex.numbers import format_decimal


def bilingual(message: str, **params: Any) -> str:
    """A message id in Vietnamese, then English: "… / …" (commands and job records show both)."""
    texts = []
    for language in ("vi", "en"):
        with override(language):
            texts.append(gettext(message) % params if params else gettext(message))
    return " / ".join(texts)


class ErrorCode:
    """Stable codes of refusals; tests and entry paths match on these, never on message text."""

    LOCKED = "locked"  # the framework is published
    WORKFLOW = "workflow"  # the assessment is not in a status that allows this
    INVALID = "invalid"  # a value is wrong (points over max, a missing reason, a bad tree …)
    NOT_FOUND = "not_found"  # an unknown code (criterion, unit, framework)
    FORBIDDEN = "forbidden"  # the actor may not do this
    CONFLICT = "conflict"  # the data changed or already exists


class Quoted(str):
    """A text parameter: `%(name)r` writes it between “ ”, as a Vietnamese message quotes a value,
    never with Python's quotes ('x')."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"“{self}”"


def shown(value: Any) -> Any:
    """A message parameter as people read it: numbers the active language's way, None as "—", a list
    as "a, b" (never ['a', 'b']), texts quoted “so” by %r."""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if value is None:
        return "—"
    if type(value) in (list, tuple, set, frozenset):  # a subclass writes itself (Levels: "0; 0,5; 1")
        return Quoted(", ".join(str(shown(item)) for item in value))
    if isinstance(value, str | Promise):
        return Quoted(str(value))
    return value


def _render(message: str, params: Mapping[str, Any]) -> str:
    text = gettext(message)
    if not params:
        return text
    return text % {key: shown(value) for key, value in params.items()}


class ServiceError(ValidationError):
    """A refusal by a service: `code`, `obj`, `field`, `criterion`, an English message id, params.

    The message is a gettext message id with %(name)s placeholders (mark it with gettext_noop or
    pass a literal English string that is in the catalogue); it is translated when rendered, so the
    same error can be shown in Vietnamese and in English.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = ErrorCode.INVALID,
        params: Mapping[str, Any] | None = None,
        obj: Any = None,
        field: str | None = None,
        criterion: str | None = None,
        details: Iterable[ServiceError] = (),
    ) -> None:
        self.message_id = message
        self.error_code = code
        self.message_params = dict(params or {})
        self.obj = obj
        self.field = field
        self.criterion = criterion
        self.details = list(details)
        if self.details:
            super().__init__([d.text() for d in self.details], code=code)
        else:
            super().__init__(self.text(), code=code)

    # --- rendering -----------------------------------------------------------------------------------

    def text(self, language: str | None = None) -> str:
        """This error's message (only this one, not its details) in the active or given language."""
        if language is None:
            return _render(self.message_id, self.message_params)
        with override(language):
            return _render(self.message_id, self.message_params)

    def all(self) -> list[ServiceError]:
        """This error, or each of its details when it groups several."""
        return self.details or [self]

    def texts(self, language: str | None = None) -> list[str]:
        return [error.text(language) for error in self.all()]

    def bilingual(self) -> str:
        """Every message in Vietnamese, then in English (commands write this to stderr)."""
        vi, en = self.texts("vi"), self.texts("en")
        return "\n".join(vi + ([""] + en if en != vi else []))

    def as_form_errors(self) -> dict[str, list[str]]:
        """{field name or NON_FIELD_ERRORS: [messages]} for ``form.add_error(None, ...)``-style use."""
        errors: dict[str, list[str]] = {}
        for error in self.all():
            errors.setdefault(error.field or NON_FIELD_ERRORS, []).append(error.text())
        return errors

    @property
    def status(self) -> int:
        """The HTTP status a view answers when it does not show the message on the page."""
        return {ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404, ErrorCode.CONFLICT: 409}.get(
            self.error_code, 400
        )

    def __str__(self) -> str:
        return "; ".join(self.texts())

    def __repr__(self) -> str:
        return f"ServiceError({self.error_code!r}, {self.message_id!r}, criterion={self.criterion!r})"

    @classmethod
    def group(cls, errors: Iterable[ServiceError], *, code: str = ErrorCode.INVALID) -> ServiceError:
        """Several refusals found in one pass, raised together (a person sees every mistake at once)."""
        errors = list(errors)
        if len(errors) == 1:
            return errors[0]
        return cls(errors[0].message_id, code=code, params=errors[0].message_params, details=errors)
