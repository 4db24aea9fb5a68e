"""Browser fixtures for the tests in real headless Chromium (Debian's package), driven by Playwright.

A module that uses them skips itself when Playwright or Chromium is missing (see test_browser.py).
"""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import ROOT

CHROMIUM = os.environ.get("MYELOMA_KG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / ".screenshots"


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def _page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.fixture()
def page(browser):
    context, page, errors = _page(browser, 1280, 900)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture()
def screen(browser):
    """A page on a 1280x800 screen."""
    context, page, errors = _page(browser, 1280, 800)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture()
def phone(browser):
    """A page on a phone's screen, 390 CSS pixels wide."""
    context, page, errors = _page(browser, 390, 844)
    yield page
    context.close()
    assert not errors, errors
