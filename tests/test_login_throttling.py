"""Issue 15 deliverable 5: sign-in is throttled per username and address (django-axes)."""

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.test import override_settings
from django.urls import reverse

from .factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_throttling_on")]


@pytest.fixture
def _throttling_on():
    with override_settings(AXES_ENABLED=True):
        yield


def _sign_in(client, username, password, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def _fail_five_times(client, username):
    for _ in range(4):
        answer = _sign_in(client, username, "wrong-password")
        assert answer.status_code == 200  # the login page again, not yet locked
    assert _sign_in(client, username, "wrong-password").status_code == 429  # the fifth locks


def test_five_wrong_passwords_lock_the_right_one_out_with_a_vietnamese_message(client):
    UserFactory(username="x08", password="right-pass-77")
    _fail_five_times(client, "x08")
    locked = _sign_in(client, "x08", "right-pass-77")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Đã đăng nhập sai quá nhiều lần (5 lần)" in text
    assert "Tạm khóa đăng nhập trong 15 phút" in text
    assert "_auth_user_id" not in client.session


def test_the_lockout_message_in_english(client):
    UserFactory(username="x08", password="right-pass-77")
    client.cookies["django_language"] = "en"
    _fail_five_times(client, "x08")
    locked = _sign_in(client, "x08", "right-pass-77")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts (5)" in locked.content.decode()
    assert "locked for 15 minutes" in locked.content.decode()


def test_another_user_and_another_address_are_unaffected(client):
    UserFactory(username="x08", password="right-pass-77")
    UserFactory(username="x09", password="other-pass-88")
    _fail_five_times(client, "x08")
    assert _sign_in(client, "x09", "other-pass-88").status_code == 302
    client.logout()
    # The same person from another address: the pair is what is locked.
    assert _sign_in(client, "x08", "right-pass-77", ip="10.0.0.2").status_code == 302


def test_reset_unlocks(client):
    UserFactory(username="x08", password="right-pass-77")
    _fail_five_times(client, "x08")
    assert _sign_in(client, "x08", "right-pass-77").status_code == 429
    reset(username="x08")
    assert _sign_in(client, "x08", "right-pass-77").status_code == 302


def test_an_administrator_unlocks_in_the_admin(client, admin_client):
    UserFactory(username="x08", password="right-pass-77")
    _fail_five_times(client, "x08")
    attempt = AccessAttempt.objects.get(username="x08")
    listing = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "x08" in listing.content.decode()
    admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert not AccessAttempt.objects.filter(username="x08").exists()
    assert _sign_in(client, "x08", "right-pass-77").status_code == 302


def test_behind_a_proxy_each_client_address_counts(client, settings):
    """Behind one reverse proxy every request comes from the proxy's address: the client's is the last
    X-Forwarded-For entry, and an entry the client itself wrote further left changes nothing."""
    settings.PARINDEX_PROXY_COUNT = 1
    UserFactory(username="x08", password="right-pass-77")

    def through_proxy(password, client_address, forged=""):
        return client.post(
            reverse("login"),
            {"username": "x08", "password": password},
            REMOTE_ADDR="172.16.0.2",
            HTTP_X_FORWARDED_FOR=f"{forged}{client_address}",
        )

    for number in range(5):
        through_proxy("wrong-password", "203.0.113.7", forged=f"198.51.100.{number}, ")
    assert through_proxy("right-pass-77", "203.0.113.7").status_code == 429
    assert through_proxy("right-pass-77", "203.0.113.8").status_code == 302
