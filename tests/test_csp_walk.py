"""Issue 15 deliverable 5: every page of the permission matrix's walk (each persona, every URL of the URL
conf, in the matrix's world) carries the Content-Security-Policy, and no page renders an inline script,
inline style or handler attribute that the policy would refuse (the rendered HTML is parsed).

A module of its own: the matrix's world is built once per module and holds the units and frameworks of
its personas, which other worlds (tests/test_csp.py's admin data) would collide with."""

import pytest

from tests.csp_checks import assert_policy, inline_bits
from tests.test_permission_matrix import ROUTES, url_of, world, world_base  # noqa: F401 - fixtures

# Pages each persona must see rendered (200, HTML), a guard against a walk that silently breaks.
AT_LEAST = {"officer": 12, "appraiser": 30, "leader": 25, "anonymous": 1}


@pytest.mark.parametrize("persona", ["officer", "appraiser", "leader", "anonymous"])
def test_every_page_of_the_walk_carries_the_policy_and_no_inline_bit(client, world, persona):  # noqa: F811
    user = world["users"][persona]
    if user is not None:
        client.force_login(user)
    pages = 0
    found = []
    urls = [(name, url_of(name, world)) for name in sorted(ROUTES)] + [("login", "/accounts/login/")]
    for name, url in urls:
        response = client.get(url)
        where = f"GET {url} ({name}) as {persona} → {response.status_code}"
        assert_policy(response, where)
        if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            found += [f"{where}: {bit}" for bit in inline_bits(response.content.decode("utf-8"))]
            pages += response.status_code == 200
    assert not found, "\n".join(found)
    assert pages >= AT_LEAST[persona], f"only {pages} pages rendered: the walk is broken"


def test_refusals_and_error_pages_carry_the_policy(client, world):  # noqa: F811
    for url in ("/accounts/login/", "/no-such-page/", "/health/"):
        assert_policy(client.get(url), url)
    client.force_login(world["users"]["officer"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_policy(response, "404 page")
    assert inline_bits(response.content.decode("utf-8")) == []
    other = world["users"]["other_officer"]
    client.force_login(other)
    response = client.get(url_of("scoring:framework_board", world))
    assert response.status_code == 403
    assert_policy(response, "403 page")
    assert inline_bits(response.content.decode("utf-8")) == []
