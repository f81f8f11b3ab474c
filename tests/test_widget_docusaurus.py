"""The widget as a guest in a real Docusaurus site, in Chromium.

The sample book is built twice by `docusaurus build` (scripts/build-sample-site.sh), each
time with one of the README's integration snippets added to its config: the
`docusaurus.config.ts` one (`export default`) pointing at a backend without a chat model,
and the `docusaurus.config.js` one (`module.exports`) pointing at a backend whose chat model
is the fake Cohere server. Both sites and both backends are served on 127.0.0.1. Skipped
without npm (the build) or Debian's Chromium.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

import browsing
from bookrag.api.app import create_app
from bookrag.config import load_settings
from browsing import CHROMIUM, Tab, build_app, chromium, open_panel, open_tab, serving, swipe
from fakes import FakeCohere
from fakes.cohere import Reply, in_urdu_letters

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample-book"
README = ROOT / "README.md"
BUILD_SCRIPT = ROOT / "scripts" / "build-sample-site.sh"
# The README's snippets say where the site's own config goes, and where the Space is.
PLACEHOLDER = "// ...your title, url, presets and themeConfig, as they are..."
SPACE = "https://<user>-<space>.hf.space"
SCREENSHOTS = Path(os.environ.get("BOOKRAG_SCREENSHOT_DIR", ROOT / "artifacts")).resolve()
RAIN_QUESTION = "How much rain does one tip of the bucket measure?"
RAIN_PAGE = "/docs/sensors/rain-wind"
LONG_PAGE = "/docs/sensors/reading-sensors"


def readme_snippet(marker: str) -> str:
    """The README's config code block that contains `marker`."""
    blocks = re.findall(r"```(?:js|ts)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if marker in b and PLACEHOLDER in b]
    assert len(found) == 1, f"the README has no single config snippet with {marker!r}"
    return found[0]


def site_config(snippet: str, backend: str) -> str:
    """The README's snippet with the sample book's own settings in place of its placeholder."""
    own = (SAMPLE / "docusaurus.config.js").read_text(encoding="utf-8")
    body = own[own.index("module.exports = {") + len("module.exports = {") : own.rindex("};")]
    # The TypeScript style has no `require`; Docusaurus resolves the path from the site's folder.
    body = body.replace("require.resolve('./sidebars.js')", "'./sidebars.js'")
    return snippet.replace(PLACEHOLDER, body.strip()).replace(SPACE, backend)


class EchoingCohere(FakeCohere):
    """The fake Cohere; a chat without documents (a translation) gets its message back,
    letter for letter in Urdu's script."""

    def _reply(self, body: dict[str, Any]) -> Reply:
        if body.get("documents"):
            return super()._reply(body)
        return Reply(in_urdu_letters(str(body["messages"][-1]["content"])))


class _CleanUrls(SimpleHTTPRequestHandler):
    """A static host as Docusaurus's `trailingSlash: false` output expects (`/a` is `a.html`)."""

    def send_head(self) -> Any:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        local = Path(self.translate_path(path))
        if not local.exists() and local.with_suffix(".html").is_file():
            self.path = path + ".html"
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def backend(sock: socket.socket, data_dir: Path, **settings: Any) -> AbstractContextManager[str]:
    """`bookrag serve --docs sample-book/docs` with `settings`, on an already bound socket."""
    data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(
        lambda: create_app(load_settings(docs_dir=SAMPLE / "docs", data_dir=data_dir, **settings)),
        data_dir,
    )
    return serving(app, sock)


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Sites:
    ts: str  # the export-default build, asking the backend without a chat model
    js: str  # the module.exports build, asking the backend with the fake Cohere
    ts_backend: str
    js_backend: str
    ts_build: Path
    js_build: Path


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the real Docusaurus build needs it")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("docusaurus")
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(2)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        hosts = [ThreadingHTTPServer(("127.0.0.1", 0), _CleanUrls) for _ in range(2)]
        for host in hosts:
            stack.callback(host.server_close)
        ts_backend, js_backend = (url_of(s) for s in socks)
        ts_site, js_site = (f"http://127.0.0.1:{h.server_address[1]}" for h in hosts)
        builds = []
        for name, marker, url in (
            ("docusaurus.config.ts", "export default config;", ts_backend),
            ("docusaurus.config.js", "module.exports = {", js_backend),
        ):
            # Docusaurus resolves the presets from the config's folder: it sits beside the
            # sample's own config (under a name bookrag's ingest never reads) while it builds.
            config = SAMPLE / f".widget-test{Path(name).suffix}"
            config.write_text(site_config(readme_snippet(marker), url), encoding="utf-8")
            out = tmp / f"build-{config.suffix[1:]}"
            try:
                done = subprocess.run(
                    ["bash", str(BUILD_SCRIPT), str(out), str(config)],
                    capture_output=True,
                    text=True,
                    timeout=1200,
                    check=False,
                )
            finally:
                config.unlink()
            if done.returncode != 0:
                pytest.fail(f"docusaurus build failed:\n{done.stderr[-3000:]}")
            builds.append(out)
        for host, build in zip(hosts, builds, strict=True):
            host.RequestHandlerClass = functools.partial(_CleanUrls, directory=str(build))  # type: ignore[assignment]
            threading.Thread(target=host.serve_forever, daemon=True).start()
            stack.callback(host.shutdown)
        origins = f"{ts_site},{js_site}"
        fake = stack.enter_context(EchoingCohere())
        stack.enter_context(
            backend(
                socks[0],
                data_dir=tmp / "data-ts",
                site_url=ts_site,
                allowed_origins=origins,
            )
        )
        stack.enter_context(
            backend(
                socks[1],
                data_dir=tmp / "data-js",
                site_url=js_site,
                allowed_origins=origins,
                cohere_api_key="test-key",
                cohere_base_url=fake.url,
            )
        )
        yield Sites(ts_site, js_site, ts_backend, js_backend, builds[0], builds[1])


@pytest.fixture(scope="module")
def browser(sites: Sites) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def tab(browser: Browser, sites: Sites) -> Iterator[Tab]:
    with open_tab(browser, sites.ts) as opened:
        yield opened


def ask(page: Page, question: str) -> None:
    """Ask, and wait until the answer is in (the send button is back)."""
    browsing.ask(page, question)
    expect(page.get_by_role("button", name="Send the question")).to_be_visible()


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not on the screen"
    return found


def navbar_bottom(page: Page) -> float:
    nav = box(page, ".navbar")
    return nav["y"] + nav["height"]


def panel_box(page: Page) -> dict[str, float]:
    found = page.get_by_role("dialog", name="Ask the book").bounding_box()
    assert found is not None
    return found


def test_the_readme_snippets_put_the_widget_in_every_pages_head(sites: Sites) -> None:
    for build, backend_url in (
        (sites.ts_build, sites.ts_backend),
        (sites.js_build, sites.js_backend),
    ):
        pages = sorted(build.rglob("*.html"))
        assert len(pages) >= 10
        for html in pages:
            head = html.read_text(encoding="utf-8").split("</head>", 1)[0]
            tags = re.findall(r"<script[^>]*bookrag[^>]*>|<script[^>]*/widget\.js[^>]*>", head)
            assert tags == [
                f'<script src="{backend_url}/widget.js" defer="defer" data-translate="ur">'
            ], html


def test_the_back_to_top_button_stays_reachable_beside_the_launcher(tab: Tab) -> None:
    page = tab.page
    page.goto(LONG_PAGE)
    launcher = page.get_by_role("button", name="Ask the book")
    expect(launcher).to_be_visible()
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(300)
    page.mouse.wheel(0, -200)  # Docusaurus shows back-to-top while scrolling up
    back = page.get_by_role("button", name="Scroll back to top")
    expect(back).to_have_class(re.compile("backToTopButtonShow"))
    top, ours = box(page, ".theme-back-to-top-button"), launcher.bounding_box()
    assert ours is not None
    assert ours["y"] + ours["height"] <= top["y"], "the launcher overlaps back-to-top"
    page.mouse.click(top["x"] + top["width"] / 2, top["y"] + top["height"] / 2)
    page.wait_for_function("window.scrollY === 0")
    expect(page.get_by_role("dialog", name="Ask the book")).to_be_hidden()


def test_the_panel_stays_below_the_navbar_at_1366x657(browser: Browser, sites: Sites) -> None:
    with open_tab(browser, sites.ts, 1366, 657) as tab:
        page = tab.page
        open_panel(page, RAIN_PAGE)
        panel = panel_box(page)
        assert panel["y"] >= navbar_bottom(page) + 8
        assert panel["y"] + panel["height"] <= 657
        assert panel["height"] >= 300
        # The theme toggle, right under where the panel used to reach, still answers a click.
        toggle = box(page, ".navbar button[title*='mode']")
        page.mouse.click(toggle["x"] + toggle["width"] / 2, toggle["y"] + toggle["height"] / 2)
        expect(page.locator("bookrag-chat")).to_have_attribute("theme", "dark")
        expect(page.get_by_role("dialog", name="Ask the book")).to_be_visible()


@pytest.mark.parametrize("height", [900, 480, 360])
def test_the_panel_fits_under_the_navbar_at_any_height(
    browser: Browser, sites: Sites, height: int
) -> None:
    with open_tab(browser, sites.ts, 1280, height) as tab:
        page = tab.page
        open_panel(page, RAIN_PAGE)
        panel = panel_box(page)
        assert navbar_bottom(page) + 8 <= panel["y"]
        assert panel["y"] + panel["height"] <= height
        # Roomy windows keep the launcher free below the panel; a short one lets the panel
        # take the launcher's place rather than shrink to nothing.
        assert panel["height"] >= min(300, height - navbar_bottom(page) - 24)
        page.get_by_role("button", name="Close the chat").click()
        expect(page.get_by_role("dialog", name="Ask the book")).to_be_hidden()


def test_no_translate_button_without_a_chat_model(tab: Tab) -> None:
    page = tab.page
    with page.expect_response("**/health") as health:
        open_panel(page, RAIN_PAGE)
    assert health.value.json()["generator"] == "extractive"
    page.wait_for_timeout(200)  # the widget has read the answer
    expect(page.get_by_role("button", name="Read this page in Urdu")).to_have_count(0)
    assert not [line for line in tab.console if "COHERE_API_KEY" in line]


def test_the_module_exports_site_translates_with_a_chat_model(
    browser: Browser, sites: Sites
) -> None:
    with open_tab(browser, sites.js) as tab:
        page = tab.page
        open_panel(page, RAIN_PAGE)
        button = page.get_by_role("button", name="Read this page in Urdu")
        expect(button).to_be_visible()
        with page.expect_response("**/translate") as sent:
            button.click()
        assert sent.value.json()["success"] is True
        expect(page.locator(".translated")).to_have_attribute("dir", "rtl")
        expect(page.locator(".translated")).not_to_be_empty()


def select(page: Page, selector: str) -> None:
    """Select the text of the first element matching `selector`, as a reader's drag would."""
    page.evaluate(
        """(selector) => {
            const range = document.createRange();
            range.selectNodeContents(document.querySelector(selector));
            document.getSelection().removeAllRanges();
            document.getSelection().addRange(range);
        }""",
        selector,
    )
    page.wait_for_timeout(400)  # the widget waits for the selection to settle


def test_ask_about_this_is_offered_for_the_docs_text_only(tab: Tab) -> None:
    page = tab.page
    page.goto(RAIN_PAGE)
    ask_about = page.get_by_role("button", name="Ask about this")
    for outside in (
        ".theme-doc-toc-desktop .table-of-contents",
        ".pagination-nav",
        ".navbar__title",
        ".theme-doc-breadcrumbs",
    ):
        select(page, outside)
        expect(ask_about).to_be_hidden()
    select(page, ".theme-doc-markdown h2#rain-gauge + p")
    expect(ask_about).to_be_visible()
    # A passage right under the navbar gets the button below it, never on the navbar.
    page.evaluate(
        "document.querySelector('.theme-doc-markdown h2#rain-gauge + p').scrollIntoView(true)"
    )
    page.wait_for_timeout(200)
    assert box(page, ".ask-selection")["y"] >= navbar_bottom(page)
    ask_about.click()
    expect(page.get_by_text("Asking about:")).to_be_visible()


def test_a_follow_up_after_a_refused_question_follows_the_answered_one(tab: Tab) -> None:
    page = tab.page
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    ask(page, "What is the capital of Peru?")
    refused = page.locator(".msg.assistant").nth(1).locator("p").first
    expect(refused).to_have_text("I couldn't find this in the book.")
    ask(page, "How is it calibrated?")
    sources = page.locator(".msg.assistant").nth(2).get_by_role("list", name="Sources")
    source = sources.get_by_role("link").first  # the section the answer leads with
    expect(source).to_have_text("Rain and Wind Sensors › Rain gauge › Calibration")
    expect(source).to_have_attribute("href", f"{page.url.split('#')[0]}#calibration")

    # Following the citation leaves the cited text in full view: the panel closes.
    source.click()
    page.wait_for_url("**#calibration")
    expect(page.get_by_role("dialog", name="Ask the book")).to_be_hidden()
    expect(page.locator(".theme-doc-markdown #calibration")).to_be_in_viewport()
    page.get_by_role("button", name="Ask the book").click()
    expect(page.locator(".msg.user")).to_have_count(3)


def test_a_long_answer_is_shown_from_its_start(tab: Tab) -> None:
    page = tab.page
    paragraphs = [f"Paragraph {n} of a long answer about the rain gauge." for n in range(80)]
    tokens = [{"token": p + "\n\n", "done": False} for p in paragraphs]
    final = {"answer": "\n\n".join(paragraphs), "sources": [], "citations": []}
    events = [*tokens, {"done": True, "response": json.dumps(final)}]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    open_panel(page, RAIN_PAGE)
    ask(page, "Tell me everything about the rain gauge.")
    expect(page.locator(".msg.assistant")).to_contain_text("Paragraph 79")
    expect(page.locator(".msg.user")).to_be_in_viewport()
    expect(page.locator(".msg.assistant p").first).to_be_in_viewport()
    expect(page.locator(".msg.assistant p").last).not_to_be_in_viewport()


def test_on_a_phone_tab_stays_in_the_panel_and_the_menu_hides_the_launcher(
    browser: Browser, sites: Sites
) -> None:
    with open_tab(browser, sites.ts, 375, 740) as tab:
        page = tab.page
        open_panel(page, RAIN_PAGE)
        panel = panel_box(page)
        assert (panel["x"], panel["width"]) == (0, 375)
        assert panel["y"] >= navbar_bottom(page)
        expect(page.get_by_role("dialog", name="Ask the book")).to_have_attribute(
            "aria-modal", "true"
        )
        for _ in range(8):
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement?.localName") == "bookrag-chat"
        page.get_by_role("button", name="Close the chat").click()

        page.get_by_role("button", name="Toggle navigation bar").click()
        expect(page.locator(".navbar-sidebar")).to_be_visible()
        expect(page.get_by_role("button", name="Ask the book")).to_be_hidden()
        page.locator(".navbar-sidebar__close").click()
        expect(page.get_by_role("button", name="Ask the book")).to_be_visible()


def test_on_a_phone_docusauruss_menu_over_the_panel_leaves_the_page_where_it_should_be(
    browser: Browser, sites: Sites
) -> None:
    with open_tab(browser, sites.ts, 390, 844, touch=True) as tab:
        page = tab.page
        page.goto(LONG_PAGE)
        page.evaluate("scrollTo(0, 600)")
        launcher = page.get_by_role("button", name="Ask the book")
        panel = page.get_by_role("dialog", name="Ask the book")
        menu = page.locator(".navbar-sidebar")
        # The navbar is above the panel: the reader opens its menu, and closes it again.
        launcher.tap()
        page.get_by_role("button", name="Toggle navigation bar").tap()
        expect(menu).to_be_visible()
        page.locator(".navbar-sidebar__close").tap()
        expect(panel).to_be_visible()
        page.get_by_role("button", name="Close the chat").tap()
        assert page.evaluate("scrollY") == 600  # where the reader left the page

        # Or goes to another page from it: that page stays at its top.
        launcher.tap()
        page.get_by_role("button", name="Toggle navigation bar").tap()
        menu.get_by_role("link", name="Rain and Wind Sensors", exact=True).tap()
        page.wait_for_url(f"**{RAIN_PAGE}")
        expect(menu).to_be_hidden()
        expect(panel).to_be_visible()
        page.get_by_role("button", name="Close the chat").tap()
        assert page.evaluate("scrollY") == 0  # not the last page's place
        swipe(page, 195, 600, 300)
        assert page.evaluate("scrollY") > 0  # neither Docusaurus nor the widget holds it


def test_a_site_whose_origin_is_not_allowed_is_told_so(browser: Browser, sites: Sites) -> None:
    other = sites.ts.replace("127.0.0.1", "localhost")  # same files, an origin not allowed
    with open_tab(browser, other) as tab:
        page = tab.page
        open_panel(page, RAIN_PAGE)
        ask(page, RAIN_QUESTION)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(f"does not accept questions from this site ({other})")
        expect(alert).not_to_contain_text("connection")
        hint = f"ALLOWED_ORIGINS={other}"
        assert [line for line in tab.console if hint in line and line.startswith("error")]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", [(1280, 800), (1366, 657), (375, 740)])
def test_screenshots_of_the_panel_on_a_docusaurus_page(
    browser: Browser, sites: Sites, theme: str, size: tuple[int, int]
) -> None:
    width, height = size
    with open_tab(browser, sites.ts, width, height) as tab:
        page = tab.page
        page.add_init_script(f"localStorage.setItem('theme', '{theme}')")
        open_panel(page, RAIN_PAGE)
        expect(page.locator("html")).to_have_attribute("data-theme", theme)
        ask(page, RAIN_QUESTION)
        expect(page.get_by_role("list", name="Sources")).to_be_visible()
        panel = panel_box(page)
        assert navbar_bottom(page) <= panel["y"] and panel["y"] + panel["height"] <= height
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"widget-{width}x{height}-{theme}.png")
