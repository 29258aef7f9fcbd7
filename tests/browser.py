"""Browser test helpers, loaded as a plugin (`pytest_plugins = ['tests.browser']`)
so the whole session shares one headless Chromium: Debian's /usr/bin/chromium,
never a browser Playwright would download. Each test gets a fresh context and
a page that records every JavaScript error; the `check_page` fixture holds the
checks all pages must pass and writes the screenshots to look at.
With CI=true a missing Chromium or Playwright fails the test; locally it skips."""
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import IN_CI, PASSWORD

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']
SCREENSHOTS = Path(__file__).resolve().parent / 'output' / 'screenshots'
PHONE, DESKTOP = 390, 1280
HEIGHT = 900
LOCAL_HOSTS = ('127.0.0.1', 'localhost')
FAILED_RESOURCE = re.compile(r'^Failed to load resource: the server responded with a status '
                             r'of (\d{3})\b')


def missing(message):
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope='session')
def browser():
    if not os.path.exists(CHROMIUM):
        missing(f'{CHROMIUM} is not installed')
    try:
        from playwright import sync_api
    except ImportError:
        missing('playwright is not installed')
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class JsErrors:
    """Uncaught exceptions, console errors and requests to other hosts of one
    page. A form answered with a 4xx makes Chromium log 'Failed to load
    resource'; a test that provokes one says so with `expect(status, url)`,
    and only that exact message for that exact URL is let through."""

    def __init__(self):
        self.errors = []
        self.expected = set()

    def expect(self, status, url):
        self.expected.add((status, url))

    def on_page_error(self, error):
        self.errors.append(f'pageerror: {error}')

    def on_console(self, message):
        if message.type != 'error':
            return
        failed = FAILED_RESOURCE.match(message.text)
        url = (message.location or {}).get('url', '')
        if failed and (int(failed.group(1)), url) in self.expected:
            return
        self.errors.append(f'console error at {url}: {message.text}')

    def on_request(self, request):
        # Works with no internet: nothing may come from a CDN or any other host.
        url = urlsplit(request.url)
        if url.scheme not in ('data', 'blob') and url.hostname not in LOCAL_HOSTS:
            self.errors.append(f'request to another host: {request.url}')

    def assert_none(self):
        assert self.errors == [], '\n'.join(self.errors)


@pytest.fixture
def js_errors():
    return JsErrors()


@pytest.fixture
def page(browser, js_errors):
    context = browser.new_context(accept_downloads=True,
                                  viewport={'width': DESKTOP, 'height': HEIGHT})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on('pageerror', js_errors.on_page_error)
    page.on('console', js_errors.on_console)
    page.on('request', js_errors.on_request)
    yield page
    context.close()
    js_errors.assert_none()


STRUCTURE = """() => {
  const unlabelled = [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
    .map(el => el.outerHTML.slice(0, 120));
  return {title: document.title.trim(), h1: document.querySelectorAll('h1').length, unlabelled};
}"""

# What sticks out to the right, to name it when the page scrolls sideways.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > width + 1)
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
  // A table that scrolls inside its box hides columns: on a phone its rows
  // are meant to turn into cards.
  const scrolledTables = [...document.querySelectorAll('.table-wrap')]
    .filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => el.closest('section, main').id || el.closest('section, main').className);
  // Navigation scrolled out of sight is navigation nobody finds.
  const offscreenNav = [...document.querySelectorAll('nav a')]
    .filter(a => a.getBoundingClientRect().right > width + 1)
    .filter(a => !a.closest('.days'))
    .map(a => a.textContent.trim());
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width,
          wide: wide.slice(0, 8), scrolledTables, offscreenNav};
}"""


def check_structure(page):
    found = page.evaluate(STRUCTURE)
    assert found['title'], f'{page.url} has no <title>'
    assert found['h1'] == 1, f'{page.url} has {found["h1"]} <h1> elements'
    assert found['unlabelled'] == [], f'{page.url} has fields without a label'


def check_width(page, name, width):
    page.set_viewport_size({'width': width, 'height': HEIGHT})
    found = page.evaluate(OVERFLOW)
    assert found['scrollWidth'] <= found['innerWidth'], \
        f'{name} scrolls sideways at {width} px: {found}'
    assert found['scrolledTables'] == [], f'{name} has a table cut off at {width} px: {found}'
    assert found['offscreenNav'] == [], f'{name} hides links off screen at {width} px: {found}'
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f'{name}-{width}.png'), full_page=True)


def check_page(page, name):
    """Title, one h1 and labelled fields; no sideways scrolling on a phone or
    a desktop, with a screenshot of each. Leaves the page at desktop width."""
    check_structure(page)
    for width in (PHONE, DESKTOP):
        check_width(page, name, width)


@pytest.fixture(name='check_page')
def check_page_fixture():
    """`check_page(page, name)`, as a fixture: test modules load this file as
    a plugin and need not import it."""
    return check_page


def log_in(page, base_url, email, home):
    """Log in through the login form, as a person does, and land on `home`."""
    page.goto(f'{base_url}/login')
    page.get_by_label('Email').fill(email)
    page.get_by_label('Password').fill(PASSWORD)
    page.get_by_role('button', name='Log in').click()
    page.wait_for_url(f'{base_url}{home}')
