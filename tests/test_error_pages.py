"""Error pages in Vietnamese first, English below, from a minimal base (the 500 page needs no request
context), instead of Django's English "Not Found"."""

import pytest
from django.template.loader import get_template
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


def test_an_unknown_address_shows_the_vietnamese_404(client, officer):
    client.force_login(officer)
    response = client.get("/khong-co-trang-nay/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Không tìm thấy trang" in html and "Page not found" in html
    assert html.index("Không tìm thấy trang") < html.index("Page not found")
    assert "Not Found</h1>" not in html and "The requested resource was not found" not in html


def test_an_anonymous_404_is_vietnamese_too(client):
    response = client.get("/khong-co-trang-nay/")
    assert response.status_code == 404 and "Không tìm thấy trang" in response.content.decode()


def test_a_refusal_shows_the_vietnamese_403_with_its_reason(client, officer):
    client.force_login(officer)
    response = client.get(reverse("scoring:framework_import"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "Bạn không được thực hiện thao tác này" in html and "Not allowed" in html
    assert "403 Forbidden" not in html


def test_the_500_page_renders_without_a_request_context():
    html = get_template("500.html").render({})  # what Django does when the error left nothing usable
    assert "Hệ thống gặp lỗi" in html and "Server error" in html
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and "Hệ thống gặp lỗi" in response.content.decode()
