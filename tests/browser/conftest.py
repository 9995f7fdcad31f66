"""Browser tests: headless Chromium (Debian's `chromium` package, installed by .ci/run when missing)
driven through Playwright against pytest-django's live server.

Every test under tests/browser/ is marked `browser`: `make test` leaves them out, CI runs them in its
PostgreSQL step. A missing Chromium FAILS the tests with a message saying how to install it (never a
skip: a green run must mean the browser ran). Screenshots go to test-artifacts/screenshots/ (gitignored).

The pages run under the Content-Security-Policy (no 'unsafe-eval'): give `wait_for_function` an arrow
function ("() => …"), never a bare expression, which Playwright evaluates with eval() on every poll and
the policy then refuses (tests/test_csp.py checks this).
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django then refuses ORM calls from it as
# "async-unsafe" although nothing here is async. The tests set up data with the ORM between page steps.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("PARINDEX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "pw-12345"  # tests/factories.py UserFactory
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test of this folder `browser` before -m selects (so `-m "not browser"` leaves them out)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Browser tests need Chromium at {CHROMIUM}, which is missing. Install Debian's package: "
            "`apt-get update && apt-get install -y chromium` (.ci/run does this), or deselect them with "
            "-m 'not browser' (`make test` does).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context (its own cookies: one signed-in person per context).
    The UI language is Vietnamese, as LANGUAGE_CODE and a Vietnamese browser give."""
    contexts = []

    def make(viewport=LAPTOP, locale="vi-VN"):
        context = browser.new_context(
            viewport=viewport, locale=locale, base_url=live_server.url, accept_downloads=True
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    errors: list[str] = []
    make.errors = errors
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot(request):
    """screenshot(page, "03-officer-filled") saves test-artifacts/screenshots/<test>/<name>.png (full page)
    and returns the path."""
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []

    def take(page, name: str, full_page: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        taken.append(path)
        return path

    take.taken = taken
    return take


def sign_in(page, username: str, password: str = PASSWORD):
    """Sign in through the login form; lands on the person's home page."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form[action$='/accounts/login/'] button[type=submit]")
    assert "/accounts/login/" not in page.url, f"sign-in of {username} failed: still on {page.url}"
    return page
