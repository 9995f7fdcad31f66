"""How the Django admin shows a service's refusal: on the form it came from, or as a message.

Admin classes write only through services. A service validates once, while it writes; when it
refuses, the admin's transaction is rolled back and the same page is rendered again with the
refusal on the field it names (``ServiceError.field``), or above the form. The admin never checks a
rule itself.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.shortcuts import redirect

from parindex.errors import ServiceError


def refusal_errors(error: ValidationError) -> dict[str, list[str]]:
    """{form field or NON_FIELD_ERRORS: [messages]} of a service's refusal."""
    if isinstance(error, ServiceError):
        return error.as_form_errors()
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {NON_FIELD_ERRORS: error.messages}


def refusal_text(error: ValidationError) -> str:
    """A refusal as one line, for a message after an action."""
    return " ".join(text for texts in refusal_errors(error).values() for text in texts)


class ServiceRefusals:
    """A ModelAdmin mixin: a refusal raised by a service from save_model, save_related, save_formset
    or delete_model is shown to the person instead of failing the request.

    - Add and change pages: the changeform runs in a transaction; when a service refuses, that
      transaction is rolled back and the page is rendered once more from the same POST, with a form
      that carries the refusal (so nothing is written twice and no rule is checked twice).
    - Delete pages: the refusal is a message and the person goes back to the object's page.

    `refusal_field` names the form field that takes a refusal which names no field of the form.
    """

    refusal_field: str | None = None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:  # raised by a service; the changeform's transaction is rolled back
            request._parindex_refusal = error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_parindex_refusal", None)
        if refusal is None:
            return form
        default = self.refusal_field

        class RefusedForm(form):
            def clean(self):
                data = super().clean()
                for name, texts in refusal_errors(refusal).items():
                    target = name if name in self.fields else (default if default in self.fields else None)
                    for text in texts:
                        self.add_error(target, text)
                return data

        RefusedForm.__name__ = form.__name__
        return RefusedForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            self.message_user(request, refusal_text(error), messages.ERROR)
            opts = self.model._meta
            return redirect(f"admin:{opts.app_label}_{opts.model_name}_change", object_id)

    def delete_each(self, request, queryset, delete) -> None:
        """Bulk delete (the delete_selected action) through a service, one object at a time; each
        refusal is a message and the others are deleted."""
        for obj in queryset:
            try:
                with transaction.atomic():
                    delete(obj)
            except ValidationError as error:
                self.message_user(request, f"{obj}: {refusal_text(error)}", messages.ERROR)
