"""What the widget's browser tests share: Debian's Chromium, a bookrag app served on
127.0.0.1 with none of the developer's settings, and a reader opening the panel and asking."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from conftest import is_our_setting

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (the test is skipped without it)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def build_app(make: Callable[[], FastAPI], workdir: Path) -> FastAPI:
    """`make()` with none of the developer's settings in the environment and `workdir` as
    the current folder, so no `.env` is read (module-scoped fixtures run outside conftest's
    per-test clean environment)."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if is_our_setting(name):
                env.delenv(name)
        env.chdir(workdir)
        return make()


@contextmanager
def serving(app: FastAPI, sock: socket.socket) -> Iterator[str]:
    """`app` under uvicorn on an already bound socket; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("a test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Tab:
    page: Page
    console: list[str]


@contextmanager
def open_tab(
    browser: Browser,
    base_url: str,
    width: int = 1280,
    height: int = 800,
    timeout: int = 15_000,
    touch: bool = False,
) -> Iterator[Tab]:
    """A fresh browser context and tab (a phone's, with `touch`); a JavaScript error on the
    page fails the test."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": width, "height": height},
        has_touch=touch,
        is_mobile=touch,
    )
    context.set_default_timeout(timeout)
    page = context.new_page()
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        yield Tab(page, console)
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def open_panel(page: Page, path: str) -> None:
    page.goto(path)
    page.get_by_role("button", name="Ask the book").click()
    expect(page.get_by_role("dialog", name="Ask the book")).to_be_visible()


def ask(page: Page, question: str) -> None:
    page.get_by_role("textbox", name="Your question").fill(question)
    page.keyboard.press("Enter")


def swipe(page: Page, x: float, start: float, end: float) -> None:
    """A finger put down at (x, start), slid to (x, end), held still there and lifted (so the
    page does not fling on, which would swallow the next tap)."""
    finger = page.context.new_cdp_session(page)
    steps = 20
    for n in range(steps + 1):
        kind = "touchStart" if n == 0 else "touchMove"
        point = {"x": x, "y": start + (end - start) * n / steps}
        finger.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})
    page.wait_for_timeout(200)
    finger.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    finger.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(100)
    finger.detach()
