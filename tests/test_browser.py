"""A person's path in a real browser: Playwright driving the system's Chromium
against gunicorn and the worker from the Procfile, a real Redis, and devmail
as the app's SMTP server. Screenshots of every step go to
artifacts/screenshots/ (git-ignored); docs/images/ holds three of them for the
README."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from devmail import DevMail
from jobs.fibonacci import fibonacci
from tests.support.dev_stack import page_answers
from tests.support.mail_checks import numbers_in_text
from tests.support.processes import PROJECT_ROOT, environment_for, free_port, wait_for
from tests.support.procfile import start_process_type

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
# Headless in containers and CI: no sandbox (no user namespaces there), no GPU,
# and none of Chromium's calls home (updates, sync, field trials).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_executable() -> str:
    """The system's Chromium (Debian's `chromium` package, or PLAYWRIGHT_CHROMIUM).
    Never `playwright install`: it downloads a browser build, which this
    project's machines cannot fetch."""
    path = os.environ.get("PLAYWRIGHT_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).is_file():
        reason = f"no Chromium at {path}: apt-get install chromium, or set PLAYWRIGHT_CHROMIUM to a Chromium or Chrome binary"
        if os.environ.get("CI"):
            pytest.fail(reason + " (.ci/run installs it; in CI this is a failure)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 720})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(request, page):
    folder = SCREENSHOTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    counter = iter(range(1, 100))

    def take(name: str, on=None) -> Path:
        path = folder / f"{next(counter):02d}-{name}.png"
        (on or page).screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture
def devmail():
    with DevMail(smtp_port=0, http_port=0) as server:
        yield server


@pytest.fixture
def app_environment(settings_with, devmail, redis_conn):
    port = free_port()
    # The default sender, as a developer sees it (these screenshots go in the README).
    settings = settings_with(smtp_url=f"smtp://127.0.0.1:{devmail.smtp_port}", mail_from="FibTastic <fibtastic@localhost>")
    return f"http://127.0.0.1:{port}", environment_for(settings, PORT=str(port), WEB_CONCURRENCY="2")


@pytest.fixture
def web(app_environment, tmp_path):
    base, env = app_environment
    process = start_process_type("web", env, tmp_path / "web.log")
    try:
        wait_for(lambda: page_answers(base + "/"), timeout=30, what="gunicorn")
        yield base
    finally:
        process.stop()


def test_form_to_status_page_to_devmail(web, app_environment, devmail, page, screenshot, tmp_path):
    # Every check on the page waits for its content (Playwright's expect):
    # the status page and devmail fill themselves in with fetch() after load.
    _base, env = app_environment
    numbers = fibonacci(25)
    page.goto(web + "/")
    expect(page.locator("h1")).to_have_text("Fibonacci numbers by email")
    page.get_by_label("Your email address").fill("ada@example.com")
    page.locator("#length").fill("25")
    screenshot("form")
    page.get_by_role("button", name="Email me the numbers").click()

    # No worker runs yet, so the page shows the job waiting; the worker starts
    # only now, and the page must notice on its own, without a reload.
    page.wait_for_url(re.compile(r"/jobs/[A-Za-z0-9_-]+$"))
    status = page.locator("#job-status")
    expect(status).to_have_text("Queued")
    expect(page.locator("#job-progress")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    screenshot("status-queued")
    worker = start_process_type("worker", env, tmp_path / "worker.log")
    try:
        expect(status).to_have_text("Sent", timeout=30_000)
    finally:
        worker.stop()
    assert page.evaluate("window.stillTheSamePage === true"), "the status page reloaded instead of updating itself"
    expect(page.locator("#job-progress")).to_be_hidden()
    expect(page.locator("#job")).to_have_attribute("data-status", "finished")
    screenshot("status-sent")

    page.goto(devmail.http_url + "/")
    row = page.locator("#messages tbody tr[data-message-id]")
    expect(row).to_have_count(1)
    expect(row.first.locator(".recipients")).to_have_text("ada@example.com")
    expect(row.first.locator(".subject")).to_have_text("Your 25 Fibonacci numbers")
    screenshot("devmail-list")
    row.first.click()
    expect(page.locator("#message")).to_be_visible()
    expect(page.locator("#message-subject")).to_have_text("Your 25 Fibonacci numbers")
    expect(page.locator("#message-recipients")).to_contain_text("ada@example.com")

    page.locator("#tab-plain").click()
    plain = page.locator("#plain-view")
    expect(plain).to_be_visible()
    # The tab's text arrives by fetch() after the tab shows: wait for the last line.
    expect(plain).to_contain_text(f"F(24) = {numbers[-1]}")
    assert numbers_in_text(plain.inner_text()) == numbers
    screenshot("devmail-plain")

    page.locator("#tab-html").click()
    expect(page.locator("#html-view")).to_be_visible()
    cells = page.frame_locator("#html-view").locator("td.number")
    expect(cells).to_have_count(len(numbers))
    assert [int(text) for text in cells.all_inner_texts()] == numbers
    screenshot("devmail-html")


def test_bad_input_shows_the_error_next_to_the_field_and_keeps_what_was_typed(web, page, screenshot, queue):
    page.goto(web + "/")
    page.get_by_label("Your email address").fill("ada at example")
    page.locator("#length").fill("5000")
    page.get_by_role("button", name="Email me the numbers").click()

    email_error = page.locator("#email-error")
    expect(email_error).to_be_visible()
    expect(email_error).to_contain_text("@")
    # Next to its field: inside the same .field block, tied by aria-describedby.
    email_field = page.locator(".field.has-error", has=page.locator("#email"))
    expect(email_field.locator("#email-error")).to_have_count(1)
    expect(page.locator("#email")).to_have_attribute("aria-describedby", "email-error")
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email")).to_have_value("ada at example")

    expect(page.locator("#length-error")).to_have_text("Choose a number from 1 to 1000.")
    expect(page.locator("#length")).to_have_value("5000")
    screenshot("bad-input")
    assert queue.count == 0
