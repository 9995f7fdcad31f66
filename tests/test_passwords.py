"""Issue 15 deliverable 5: a password containing the username is refused, in Vietnamese and English."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_password_repeating_the_username_is_refused():
    user = UserFactory(username="x08")
    with pytest.raises(ValidationError) as refused:
        validate_password("x08x08x08", user)
    assert "Mật khẩu không được chứa tên đăng nhập." in refused.value.messages
    with pytest.raises(ValidationError):
        validate_password("Secret-X08-harbour", user)  # any letter case
    validate_password("river-lantern-93", user)  # an unrelated password passes


def test_the_refusal_in_english():
    user = UserFactory(username="officer7")
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        validate_password("my-officer7-pass", user)
    assert "The password must not contain the username." in refused.value.messages


def test_the_password_change_page_refuses_it(client):
    user = UserFactory(username="x08", password="old-pass-12345")
    client.force_login(user)
    answer = client.post(
        reverse("password_change"),
        {"old_password": "old-pass-12345", "new_password1": "x08x08x08", "new_password2": "x08x08x08"},
    )
    assert answer.status_code == 200
    assert "Mật khẩu không được chứa tên đăng nhập." in answer.content.decode()
    user.refresh_from_db()
    assert user.check_password("old-pass-12345")
