"""What the browser tests share: Debian's Chromium and how it is launched, the phone-sized
context, the watch for console errors and failed responses, and the accessibility check
(axe-core, from the axe-playwright-python package the test extra installs: nothing is fetched
when the tests run).

The browser itself is one per test session: the `browser` fixture in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Response,
        ViewportSize,
    )

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The marks of every browser test module: skipped, saying how to run them, without Chromium.
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: `apt-get install -y chromium` to run the browser tests",
    ),
]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
#: WCAG's reflow width: 1280 px at 400%, or a 320 px phone; 200% zoom of a 640 px window too.
NARROW: ViewportSize = {"width": 320, "height": 640}
#: axe-core's rules run: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and its best practices.
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def watch(opened: Page, *, allowed: tuple[int, str] | None = None) -> list[str]:
    """The page's console errors (a CSP refusal says so there) and failed responses, as they
    come, but the browser's own favicon guess and the `allowed` (status, URL ending)."""
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def response(answer: Response) -> None:
        expected = answer.url.endswith("/favicon.ico") or (
            allowed is not None and answer.status == allowed[0] and answer.url.endswith(allowed[1])
        )
        if answer.status >= 400 and not expected:
            errors.append(f"{answer.status} {answer.url}")

    opened.on("console", console)
    opened.on("response", response)
    return errors


def phone(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    """A phone-sized context (390x844, touch), as the customers' pages are tested on."""
    return browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        base_url=base_url,
        **options,
    )


def _axe() -> Path:
    """axe-core's script, as the axe-playwright-python package ships it."""
    import axe_playwright_python

    return Path(axe_playwright_python.__file__).with_name("axe.min.js")


def with_axe(context: BrowserContext) -> BrowserContext:
    """`context` with axe-core in each page it opens, put there as the page starts (an init
    script): checking a page then costs no 570 KB script sent over the DevTools protocol."""
    context.add_init_script(path=_axe())
    return context


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of RULES on the page as it stands (its script is put in the page
    by the DevTools protocol, which the page's Content-Security-Policy does not govern; once
    per page, or already there: `with_axe`)."""
    if not page.evaluate("typeof axe === 'object'"):
        page.evaluate(_axe().read_text(encoding="utf-8"))
    options = {"runOnly": {"type": "tag", "values": RULES}, "resultTypes": ["violations"]}
    found: list[dict[str, Any]] = page.evaluate("options => axe.run(options)", options)[
        "violations"
    ]
    return found


def described(found: list[dict[str, Any]], where: str) -> str:
    """Each violation on its own lines: the rule, its impact and help, and every element (its
    CSS path and its HTML) with what axe says is wrong."""
    lines = []
    for v in found:
        lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}")
            lines.append(f"       {node['failureSummary']}".replace("\n", " "))
    return "\n".join(lines)


def assert_accessible(page: Page, where: str | None = None) -> None:
    """Fail naming each rule broken, the element and the page (`where`, else its URL)."""
    found = violations(page)
    assert not found, "\n" + described(found, where or page.url)
