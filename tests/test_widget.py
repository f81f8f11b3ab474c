"""The chat widget in a real browser (Playwright with Debian's Chromium) against a real server.

One uvicorn server over the sample book serves the whole module; each test gets a fresh
browser context, so sessionStorage (the saved conversation) starts empty.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from bookrag.api.app import create_app
from bookrag.config import load_settings
from browsing import ask, build_app, chromium, open_panel, open_tab, serving, swipe

SAMPLE_DOCS = Path(__file__).resolve().parent.parent / "sample-book" / "docs"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
RAIN_QUESTION = "How much rain does one tip of the bucket measure?"
RAIN_PAGE = "/demo/docs/sensors/rain-wind"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bookrag serve --docs sample-book/docs` on a free 127.0.0.1 port; yields its URL."""
    tmp = tmp_path_factory.mktemp("widget")
    app = build_app(
        lambda: create_app(load_settings(data_dir=tmp / "data", docs_dir=SAMPLE_DOCS)), tmp
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with serving(app, sock) as url:
            yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh tab; a JavaScript error on the page fails the test."""
    with open_tab(browser, server, timeout=10_000) as tab:
        yield tab.page


def sse(*events: dict[str, Any]) -> str:
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events)


def final_event(answer: str, citations: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"answer": answer, "sources": [c["url"] for c in citations], "citations": citations}
    return {"done": True, "response": json.dumps(body)}


def asked(page: Page, events: str) -> None:
    """Ask the rain question on the rain page, the backend streaming back `events`."""
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=events),
    )
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)


def sent_json(request: Request) -> dict[str, Any]:
    body = request.post_data_json
    assert isinstance(body, dict), "the request carried no JSON object"
    return body


def shadow_active_label(page: Page) -> str | None:
    """The aria-label of the focused control inside the widget's shadow root."""
    label: str | None = page.evaluate(
        "document.querySelector('bookrag-chat').shadowRoot.activeElement"
        "?.getAttribute('aria-label') ?? null"
    )
    return label


def test_a_streamed_answer_cites_a_section_and_the_citation_lands_on_it(page: Page) -> None:
    open_panel(page, "/demo")
    ask(page, RAIN_QUESTION)
    answer = page.locator(".msg.assistant").last
    expect(answer).to_contain_text("0.2794 mm of rain")
    source = page.get_by_role("list", name="Sources").get_by_role("link").first
    expect(source).to_have_text("Rain and Wind Sensors › Rain gauge")

    source.click()
    page.wait_for_url(f"**{RAIN_PAGE}#rain-gauge")
    assert page.evaluate("location.hash") == "#rain-gauge"
    expect(page.locator("article h2#rain-gauge")).to_have_text("Rain gauge")
    # The panel closed, so it does not cover the cited text; the conversation followed the
    # reader to the new page.
    expect(page.get_by_role("dialog", name="Ask the book")).to_be_hidden()
    page.get_by_role("button", name="Ask the book").click()
    expect(page.locator(".msg.user")).to_have_text(RAIN_QUESTION)
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794 mm of rain")


def test_selected_text_is_sent_with_the_page_url(page: Page) -> None:
    page.goto(RAIN_PAGE)
    paragraph = page.locator("article h2#rain-gauge + p")
    paragraph.click(click_count=3)  # a reader's triple-click selects the paragraph
    page.get_by_role("button", name="Ask about this").click()

    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel.get_by_text("Asking about:")).to_be_visible()
    expect(panel.locator(".selection blockquote")).to_contain_text("tipping bucket")
    with page.expect_request("**/stream-chat") as sent:
        ask(page, "What does this mean?")
    body = sent_json(sent.value)
    assert body["selected_text"].startswith("The rain gauge is a tipping bucket")
    assert body["page_url"] == page.url
    assert body["question"] == "What does this mean?"
    first_source = page.get_by_role("list", name="Sources").get_by_role("link").first
    expect(first_source).to_have_attribute("href", f"{page.url}#rain-gauge")
    expect(panel.locator(".selection")).to_be_hidden()


def test_an_attached_selection_can_be_removed(page: Page) -> None:
    page.goto(RAIN_PAGE)
    page.locator("article h2#anemometer + p").click(click_count=3)
    page.get_by_role("button", name="Ask about this").click()
    panel = page.get_by_role("dialog", name="Ask the book")
    panel.get_by_role("button", name="Remove the selected text").focus()
    page.keyboard.press("Enter")
    expect(panel.get_by_text("Asking about:")).to_be_hidden()
    assert shadow_active_label(page) == "Your question"  # focus stayed in the panel
    with page.expect_request("**/stream-chat") as sent:
        ask(page, RAIN_QUESTION)
    assert "selected_text" not in sent_json(sent.value)


def test_the_articles_last_paragraph_can_be_asked_about(page: Page) -> None:
    # Chromium ends a triple-click's range at the start of what follows the article.
    page.goto(RAIN_PAGE)
    last = page.locator("article p").last
    last.click(click_count=3)
    page.get_by_role("button", name="Ask about this").click()
    quoted = page.get_by_role("dialog", name="Ask the book").locator("blockquote")
    expect(quoted).to_have_text(last.inner_text().strip()[:400])


def test_a_new_question_adds_to_the_live_conversation_without_redrawing_it(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.locator(".msg.assistant").last).to_contain_text("0.2794 mm of rain")
    page.evaluate(
        """() => {
        const log = document.querySelector('bookrag-chat').shadowRoot.querySelector('.messages');
        window.changes = {added: 0, removed: 0};
        new MutationObserver((records) => records.forEach((r) => {
          window.changes.added += r.addedNodes.length;
          window.changes.removed += r.removedNodes.length;
        })).observe(log, {childList: true});
        }"""
    )
    ask(page, "What is the anemometer's conversion factor?")
    expect(page.locator(".msg.assistant")).to_have_count(2)
    expect(page.locator(".msg.assistant").last).not_to_contain_text("0.2794 mm of rain")
    # A screen reader hears the new question and answer, not the whole conversation again.
    assert page.evaluate("window.changes") == {"added": 2, "removed": 0}


def test_an_unreachable_backend_gets_a_clear_message(page: Page) -> None:
    for path in ("**/stream-chat", "**/health"):  # the whole backend is out of reach
        page.route(path, lambda route: route.abort("connectionrefused"))
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.get_by_role("alert")).to_contain_text("Can't reach the book's assistant")
    expect(page.get_by_role("button", name="Send the question")).to_be_visible()
    # The question is back in the box, to send again once the backend is back.
    expect(page.get_by_role("textbox", name="Your question")).to_have_value(RAIN_QUESTION)


def test_a_rate_limited_question_says_when_to_retry(page: Page) -> None:
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "17"},
            json={"success": False, "error": "too many requests"},
        ),
    )
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.get_by_role("alert")).to_contain_text("try again in 17 seconds")


def test_an_error_event_answering_a_refused_stream_is_shown(page: Page) -> None:
    # What /stream-chat sends for a refused question: the status, and one error event.
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(
            status=503,
            headers={"Content-Type": "text/event-stream", "Retry-After": "5"},
            body='data: {"error": "the server is busy answering other readers", "done": true}\n\n',
        ),
    )
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.get_by_role("alert")).to_contain_text("busy answering other readers")


def test_html_in_an_answer_is_shown_as_text_and_never_run(page: Page) -> None:
    attack = "<img src=x onerror=window.__pwned=1>"
    answer = (
        f"Look: {attack}\n\n**Bold** and [a link](javascript:window.__pwned=2) [1]\n\n- one\n- two"
    )
    citation = {
        "number": 1,
        "url": "javascript:window.__pwned=3",
        "title": f"Title {attack}",
        "section": "",
        "quote": attack,
    }
    asked(page, sse({"token": attack, "done": False}, final_event(answer, [citation])))
    reply = page.locator(".msg.assistant")
    expect(reply).to_contain_text(f"Look: {attack}")
    expect(reply.locator("strong")).to_have_text("Bold")
    expect(reply.locator("li")).to_have_count(3)  # two list items, one source
    expect(reply.get_by_text(f"Title {attack}")).to_be_visible()
    assert page.locator("bookrag-chat img").count() == 0
    assert page.locator("bookrag-chat a").count() == 0  # no javascript: link survived
    assert page.evaluate("window.__pwned") is None


def test_a_table_in_an_answer_is_drawn_as_a_table(page: Page) -> None:
    answer = (
        "The parts [1]:\n\n"
        "| Part | Pins | Price |\n"
        "|:-----|:----:|------:|\n"
        "| `a \\| b` gauge | 2 | 12.50 [1] |\n"
        "| anemometer | 3 |\n"
        "\nThat is all."
    )
    citation = {"number": 1, "url": f"{RAIN_PAGE}#rain-gauge", "title": "Rain", "section": ""}
    asked(page, sse(final_event(answer, [citation])))
    table = page.locator(".msg.assistant table")
    expect(table.locator("th")).to_have_text(["Part", "Pins", "Price"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(["a | b gauge", "2", "12.50 [1]"])
    expect(rows.nth(0).locator("td code")).to_have_text("a | b")
    expect(rows.nth(0).locator("td sup.mark a")).to_have_attribute(
        "href", re.compile("#rain-gauge$")
    )
    expect(rows.nth(1).locator("td")).to_have_text(["anemometer", "3", ""])  # a short row
    aligned = [
        c.evaluate("el => getComputedStyle(el).textAlign") for c in rows.nth(0).locator("td").all()
    ]
    assert aligned[1:] == ["center", "right"]
    expect(page.locator(".msg.assistant .table + p")).to_have_text("That is all.")
    assert "|" not in page.locator(".msg.assistant p").first.inner_text()


def test_escape_closes_the_panel_and_returns_focus_to_the_launcher(page: Page) -> None:
    page.goto(RAIN_PAGE)
    launcher = page.get_by_role("button", name="Ask the book")
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel).to_be_visible()
    assert shadow_active_label(page) == "Your question"

    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.get_by_role("textbox", name="Your question")).to_have_value(
        "first line\nsecond line"
    )
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert shadow_active_label(page) == "Ask the book"


def test_a_follow_up_question_sends_the_conversation_so_far(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.get_by_role("list", name="Sources")).to_be_visible()
    with page.expect_request("**/stream-chat") as sent:
        ask(page, "And how is it calibrated?")
    history = sent_json(sent.value)["history"]
    assert [turn["role"] for turn in history] == ["user", "assistant"]
    assert history[0]["content"] == RAIN_QUESTION
    assert "0.2794 mm" in history[1]["content"]


def test_typing_indicator_then_stop_aborts_the_answer(page: Page) -> None:
    held: list[Route] = []
    page.route("**/stream-chat", lambda route: held.append(route))  # left pending
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.get_by_role("status", name="The assistant is typing")).to_be_visible()
    page.get_by_role("button", name="Stop the answer").click()
    expect(page.locator(".msg.assistant")).to_contain_text("Stopped.")
    expect(page.get_by_role("status", name="The assistant is typing")).to_have_count(0)
    expect(page.get_by_role("button", name="Send the question")).to_be_visible()
    assert len(held) == 1


def with_a_chat_model(page: Page) -> None:
    """Have /health say the backend has a chat model (this test server has none)."""
    page.route("**/health", lambda route: route.fulfill(json={"generator": "cohere"}))


def translating_to(page: Page, translation: str) -> None:
    """A backend with a chat model whose /translate answers `translation`."""
    with_a_chat_model(page)
    page.route(
        "**/translate",
        lambda route: route.fulfill(json={"success": True, "translation": translation}),
    )


def test_read_in_urdu_shows_the_translation_right_to_left(page: Page) -> None:
    translating_to(page, "بارش کی پیمائش\n\nہر جھکاؤ **0.2794 ملی میٹر** ہے۔")
    open_panel(page, RAIN_PAGE)
    with page.expect_request("**/translate") as sent:
        page.get_by_role("button", name="Read this page in Urdu").click()
    assert sent_json(sent.value) == {"page_url": page.url, "target_language": "ur"}
    translated = page.locator(".translated")
    expect(translated).to_have_attribute("dir", "rtl")
    expect(translated.locator("strong")).to_have_text("0.2794 ملی میٹر")
    page.get_by_role("button", name="Back to chat").click()
    expect(page.get_by_role("textbox", name="Your question")).to_be_visible()


def test_a_failed_translation_shows_the_services_error(page: Page) -> None:
    with_a_chat_model(page)
    page.route(
        "**/translate",
        lambda route: route.fulfill(
            status=422, json={"success": False, "error": "target_language: unknown language"}
        ),
    )
    open_panel(page, RAIN_PAGE)
    page.get_by_role("button", name="Read this page in Urdu").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Couldn't translate this page: target_language: unknown language"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (502, "translation isn't available right now. Please try again later."),
        (404, "this page is not one of the book's pages."),
    ],
)
def test_a_failed_model_or_a_page_off_the_book_is_said_plainly(
    page: Page, status: int, said: str
) -> None:
    with_a_chat_model(page)
    internal = "could not translate 03-data/dashboard.md: the chat endpoint kept failing"
    page.route(
        "**/translate",
        lambda route: route.fulfill(status=status, json={"success": False, "error": internal}),
    )
    open_panel(page, RAIN_PAGE)
    page.get_by_role("button", name="Read this page in Urdu").click()
    expect(page.get_by_role("alert")).to_have_text(f"Couldn't translate this page: {said}")


def test_a_table_in_a_translation_is_drawn_as_a_table(page: Page) -> None:
    translating_to(page, "پرزے\n\n| پرزہ | قیمت |\n|---|---|\n| بارش گیج | 12 |\n")
    open_panel(page, RAIN_PAGE)
    page.get_by_role("button", name="Read this page in Urdu").click()
    table = page.locator(".translated table")
    expect(table.locator("th")).to_have_text(["پرزہ", "قیمت"])
    expect(table.locator("td")).to_have_text(["بارش گیج", "12"])
    # The columns run right to left with the text.
    first, second = (c.bounding_box() for c in table.locator("th").all())
    assert first and second and first["x"] > second["x"]


def test_code_in_a_right_to_left_translation_reads_left_to_right(page: Page) -> None:
    translating_to(
        page, "بارش\n\n```python\ndef on_tip():\n    tips += 1\n```\n\nکوڈ `tips += 1` ہے۔"
    )
    open_panel(page, RAIN_PAGE)
    page.get_by_role("button", name="Read this page in Urdu").click()
    expect(page.locator(".translated")).to_have_attribute("dir", "rtl")
    for code in (page.locator(".translated pre"), page.locator(".translated p code")):
        assert code.evaluate("el => getComputedStyle(el).direction") == "ltr"
    assert page.locator(".translated pre").evaluate("el => getComputedStyle(el).textAlign") in (
        "left",
        "start",
    )


def test_citation_paths_without_a_host_are_links(page: Page) -> None:
    # A backend that knows no site URL cites `/docs/...`: a path on the book's own site.
    cited = [
        {
            "number": 1,
            "url": "/docs/sensors/rain-wind#rain-gauge",
            "title": "Rain",
            "section": "Rain gauge",
            "quote": "One tip is 0.2794 mm.",
        }
    ]
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(
            content_type="text/event-stream",
            body=sse(
                {"token": "One tip is 0.2794 mm [1]."},
                final_event("One tip is 0.2794 mm [1].", cited),
            ),
        ),
    )
    open_panel(page, "/demo")
    ask(page, RAIN_QUESTION)
    marker = page.locator(".msg.assistant a", has_text="1").first
    expect(marker).to_have_attribute(
        "href", re.compile(r"/demo/docs/sensors/rain-wind#rain-gauge$")
    )
    source = page.get_by_role("list", name="Sources").get_by_role("link").first
    expect(source).to_have_attribute(
        "href", re.compile(r"/demo/docs/sensors/rain-wind#rain-gauge$")
    )
    # A click with a modifier opens it elsewhere: the panel stays open on this page.
    with page.context.expect_page():
        source.click(modifiers=["Control"])
    expect(page.get_by_role("dialog", name="Ask the book")).to_be_visible()


def test_a_reader_who_leaves_mid_answer_finds_the_question_on_the_next_page(
    page: Page,
) -> None:
    page.route("**/stream-chat", lambda route: None)  # the answer never comes
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.get_by_role("status", name="The assistant is typing")).to_be_visible()
    page.goto("/demo/docs/intro")  # the sidebar, not a citation
    page.get_by_role("button", name="Ask the book").click()
    expect(page.locator(".msg.user")).to_have_text(RAIN_QUESTION)
    expect(page.locator(".msg.assistant")).to_contain_text("Stopped.")


def test_an_unavailable_translation_keeps_the_operators_hint_out_of_the_panel(
    page: Page,
) -> None:
    with_a_chat_model(page)  # as /health said a minute ago; the model has gone since
    hint = "translation needs a chat model: set COHERE_API_KEY"
    page.route(
        "**/translate",
        lambda route: route.fulfill(status=503, json={"success": False, "error": hint}),
    )
    warnings: list[str] = []
    page.on("console", lambda msg: warnings.append(msg.text))
    open_panel(page, RAIN_PAGE)
    page.get_by_role("button", name="Read this page in Urdu").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        "Couldn't translate this page: translation isn't available right now. "
        "Please try again later."
    )
    assert [w for w in warnings if hint in w]


def test_the_translate_button_is_offered_only_with_a_chat_model(page: Page) -> None:
    with page.expect_response("**/health") as health:
        open_panel(page, RAIN_PAGE)
    assert health.value.json()["generator"] == "extractive"  # this test server has no model
    page.wait_for_timeout(200)
    expect(page.get_by_role("button", name="Read this page in Urdu")).to_have_count(0)


def test_the_panel_fills_a_narrow_screen(page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 700})
    open_panel(page, RAIN_PAGE)
    box = page.get_by_role("dialog", name="Ask the book").bounding_box()
    assert box is not None
    assert (box["x"], box["width"]) == (0, 375)
    page.get_by_role("button", name="Close the chat").click()
    expect(page.get_by_role("button", name="Ask the book")).to_be_in_viewport()


def test_the_panel_follows_the_books_light_and_dark_theme(page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    open_panel(page, RAIN_PAGE)
    ask(page, "What is the anemometer's conversion factor?")
    panel = page.get_by_role("dialog", name="Ask the book")
    expect(panel.get_by_role("list", name="Sources")).to_be_visible()
    widget = page.locator("bookrag-chat")
    background = "el => getComputedStyle(el).backgroundColor"
    expect(widget).to_have_attribute("theme", "light")
    light = panel.evaluate(background)
    page.screenshot(path=ARTIFACTS / "widget-light.png")

    page.get_by_role("button", name="Switch between light and dark theme").click()
    expect(widget).to_have_attribute("theme", "dark")
    dark = panel.evaluate(background)
    page.screenshot(path=ARTIFACTS / "widget-dark.png")
    assert light == "rgb(255, 255, 255)"
    assert dark != light


def test_sending_from_the_send_button_moves_focus_to_stop(page: Page) -> None:
    page.route("**/stream-chat", lambda route: None)  # the answer never comes
    open_panel(page, RAIN_PAGE)
    page.get_by_role("textbox", name="Your question").fill(RAIN_QUESTION)
    page.get_by_role("button", name="Send the question").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Stop the answer")).to_be_visible()
    assert shadow_active_label(page) == "Stop the answer"


def test_reopening_on_the_translation_focuses_back_to_chat(page: Page) -> None:
    translating_to(page, "x")
    open_panel(page, RAIN_PAGE)
    page.get_by_role("button", name="Read this page in Urdu").click()
    expect(page.locator(".translated")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Ask the book").click()
    assert shadow_active_label(page) == "Back to chat"


def test_without_a_book_theme_the_widget_follows_the_systems_live(page: Page, server: str) -> None:
    script = f'<script src="{server}/widget.js" defer></script>'
    html = f"<html><body><article><p>Text.</p></article>{script}</body></html>"
    page.route(
        f"{server}/plain.html", lambda route: route.fulfill(content_type="text/html", body=html)
    )
    page.emulate_media(color_scheme="light")
    page.goto("/plain.html")
    widget = page.locator("bookrag-chat")
    expect(widget).to_have_attribute("theme", "light")
    page.emulate_media(color_scheme="dark")  # the reader's system switches, no reload
    expect(widget).to_have_attribute("theme", "dark")


def test_a_book_on_another_origin_asks_the_backend_the_script_came_from(
    page: Page, server: str
) -> None:
    book_page = "http://localhost:3000/docs/sensors/rain-wind"  # an allowed origin by default
    html = (
        '<html data-theme="dark"><body><article><h1>Rain and Wind Sensors</h1>'
        "<p>The rain gauge is a tipping bucket.</p></article>"
        f'<script src="{server}/widget.js" defer data-title="Ask Pocket Weather"></script>'
        "</body></html>"
    )
    page.route(book_page, lambda route: route.fulfill(content_type="text/html", body=html))
    # The routed book counts as a public site, and this backend is on loopback: Chromium asks
    # the reader before a public page may reach a local address. A real Space is public.
    page.context.grant_permissions(["local-network-access"])
    page.goto(book_page)
    page.get_by_role("button", name="Ask Pocket Weather").click()
    expect(page.locator("bookrag-chat")).to_have_attribute("theme", "dark")
    with page.expect_request(f"{server}/stream-chat") as sent:
        ask(page, RAIN_QUESTION)
    assert sent_json(sent.value)["page_url"] == book_page
    source = page.get_by_role("list", name="Sources").get_by_role("link").first
    public = "https://pocket-weather.example.org/docs/sensors/rain-wind#rain-gauge"
    expect(source).to_have_attribute("href", public)
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", "noopener noreferrer")


def test_an_article_selector_the_page_got_wrong_is_warned_of_not_thrown(
    page: Page, server: str
) -> None:
    html = (
        "<html><body><article><p>The rain gauge is a tipping bucket.</p></article>"
        f'<script src="{server}/widget.js" defer data-article-selector="[[["></script>'
        "</body></html>"
    )
    page.route(
        f"{server}/book.html", lambda route: route.fulfill(content_type="text/html", body=html)
    )
    warnings: list[str] = []
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    page.goto("/book.html")
    for _ in range(2):  # a page error here would fail the test (the `page` fixture)
        page.evaluate("document.getSelection().selectAllChildren(document.querySelector('p'))")
        page.wait_for_timeout(400)  # the widget looks once the selection settles
        page.evaluate("document.getSelection().removeAllRanges()")
    assert sum("data-article-selector" in w for w in warnings) == 1


def test_the_demo_runs_whole_under_its_content_security_policy(page: Page) -> None:
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    open_panel(page, RAIN_PAGE)  # the widget script ran and its shadow styles apply
    panel = page.get_by_role("dialog", name="Ask the book")
    assert panel.evaluate("el => getComputedStyle(el).position") == "fixed"
    page.get_by_role("button", name="Switch between light and dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # an inline script
    ask(page, "What is the anemometer's conversion factor?")
    expect(panel.get_by_role("list", name="Sources")).to_be_visible()  # fetch to 'self'
    assert blocked == []
    injected = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent ="
        " 'window.__ran = true'; document.body.append(s); return window.__ran === true; }"
    )
    assert injected is False  # a script without the nonce does not run


def test_a_reader_rates_an_answer_and_explains_a_thumbs_down(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    verdict = page.get_by_role("group", name="Was this answer helpful?")
    expect(verdict).to_be_visible()
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794 mm of rain")
    with page.expect_response("**/feedback") as first:
        verdict.get_by_role("button", name="Not helpful").click()
    assert first.value.status == 200  # the real backend stored it
    sent = sent_json(first.value.request)
    assert sent["helpful"] is False and len(sent["answer_id"]) == 32
    box = verdict.get_by_role("textbox", name="What was wrong or missing?")
    expect(box).to_be_visible()
    expect(box).to_be_in_viewport(ratio=1)  # scrolled to: it opens under the answer
    assert shadow_active_label(page) == "What was wrong or missing?"
    box.fill("It should say how often the bucket is emptied.")
    with page.expect_response("**/feedback") as second:
        verdict.get_by_role("button", name="Send the comment").click()
    assert second.value.status == 200
    assert sent_json(second.value.request) == {
        "answer_id": sent["answer_id"],
        "helpful": False,
        "comment": "It should say how often the bucket is emptied.",
    }
    expect(verdict.get_by_text("Thanks for your feedback.")).to_be_visible()
    expect(box).to_have_count(0)
    assert shadow_active_label(page) == "Not helpful"  # focus stayed on the verdict
    # The verdict follows the reader to the next page, as the conversation does.
    page.reload()
    again = page.get_by_role("group", name="Was this answer helpful?")
    expect(again.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(again.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "false"
    )
    # The pressed 👎 clicked again sends nothing (the 👍 after it is the next request).
    with page.expect_request("**/feedback") as third:
        again.get_by_role("button", name="Not helpful").click()
        again.get_by_role("button", name="Helpful", exact=True).click()
    assert sent_json(third.value)["helpful"] is True


def test_a_keyboard_vote_keeps_focus_on_the_vote(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    verdict = page.get_by_role("group", name="Was this answer helpful?")
    verdict.get_by_role("button", name="Helpful", exact=True).focus()
    with page.expect_response("**/feedback"):
        page.keyboard.press("Enter")
    expect(verdict.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert shadow_active_label(page) == "Helpful"


def test_a_failed_verdict_says_why_and_an_answer_without_an_id_asks_nothing(page: Page) -> None:
    page.route(
        "**/feedback",
        lambda route: route.fulfill(
            status=404, json={"success": False, "error": "no answer with this answer_id"}
        ),
    )
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    verdict = page.get_by_role("group", name="Was this answer helpful?")
    verdict.get_by_role("button", name="Helpful", exact=True).click()
    expect(verdict.get_by_role("status")).to_have_text("no answer with this answer_id")
    expect(verdict.get_by_text("Thanks for your feedback.")).to_have_count(0)

    # An older backend sends no answer_id: no thumbs under its answers.
    cite = {
        "number": 1,
        "url": "https://x.example/docs/a",
        "title": "A",
        "section": "",
        "quote": "q",
    }
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(
            headers={"Content-Type": "text/event-stream"},
            body=sse(
                {"token": "Old answer [1]", "done": False}, final_event("Old answer [1]", [cite])
            ),
        ),
    )
    ask(page, "Another question")
    expect(page.locator(".msg.assistant").last).to_contain_text("Old answer")
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_have_count(1)


def test_an_author_moves_the_launcher_with_data_position_and_css_offsets(
    page: Page, server: str
) -> None:
    book_page = "http://localhost:3000/docs/intro"
    html = (
        "<html><head><style>:root { --bookrag-offset-x: 32px; --bookrag-offset-y: 120px; }"
        "</style></head><body><article><h1>Intro</h1></article>"
        f'<script src="{server}/widget.js" defer data-position="bottom-left"></script>'
        "</body></html>"
    )
    page.route(book_page, lambda route: route.fulfill(content_type="text/html", body=html))
    page.context.grant_permissions(["local-network-access"])
    page.goto(book_page)
    launcher = page.get_by_role("button", name="Ask the book").bounding_box()
    assert launcher is not None
    assert launcher["x"] == 32
    assert launcher["y"] + launcher["height"] == 800 - 120
    page.get_by_role("button", name="Ask the book").click()
    panel = page.get_by_role("dialog", name="Ask the book").bounding_box()
    assert panel is not None
    assert panel["x"] == 32  # the panel opens on the launcher's side
    assert panel["y"] + panel["height"] < launcher["y"]


def test_right_to_left_text_reads_right_to_left_where_it_is_typed_and_shown(page: Page) -> None:
    question = "بارش کی ایک tip کتنی ہوتی ہے؟"
    answer = "ہر tip میں 0.2794 ملی میٹر بارش ہے۔"
    page.route(
        "**/stream-chat",
        lambda route: route.fulfill(
            status=200, content_type="text/event-stream", body=sse(final_event(answer, []))
        ),
    )
    open_panel(page, RAIN_PAGE)
    box = page.get_by_role("textbox", name="Your question")
    box.fill(question)
    assert box.evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.keyboard.press("Enter")
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794")
    for message in (".msg.user", ".msg.assistant"):
        assert page.locator(message).evaluate("e => getComputedStyle(e).direction") == "rtl"
    # And a screen reader hears whose each message is.
    log = page.get_by_role("log", name="Conversation")
    expect(log.get_by_role("group", name="You asked")).to_contain_text(question)
    expect(log.get_by_role("group", name="Answer")).to_contain_text("0.2794")


def test_an_answer_arriving_leaves_a_selection_the_reader_made_meanwhile(page: Page) -> None:
    held: list[Route] = []
    page.route("**/stream-chat", lambda route: held.append(route))
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    for _ in range(100):  # the question is on its way
        if held:
            break
        page.wait_for_timeout(50)
    page.locator("article h2#rain-gauge + p").click(click_count=3)
    selected = page.evaluate("getSelection().toString()")
    assert "tipping bucket" in selected
    reply = sse(final_event("Each tip is 0.2794 mm of rain.", []))
    held[0].fulfill(status=200, content_type="text/event-stream", body=reply)
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794 mm of rain")
    assert page.evaluate("getSelection().toString()") == selected  # not taken by the question box
    expect(page.get_by_role("button", name="Ask about this")).to_be_visible()


def test_links_whose_address_holds_brackets_are_whole(page: Page) -> None:
    wiki = "https://en.wikipedia.org/wiki/Rain_gauge_(meteorology)"
    answer = f"See [the wiki]({wiki}) or {wiki}."
    asked(page, sse(final_event(answer, [])))
    links = page.locator(".msg.assistant").get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.first).to_have_attribute("href", wiki)
    expect(links.last).to_have_attribute("href", wiki)
    expect(page.locator(".msg.assistant")).to_have_text(f"See the wiki or {wiki}.")


def test_a_translation_under_way_is_not_asked_for_again(page: Page) -> None:
    with_a_chat_model(page)
    held: list[Route] = []
    page.route("**/translate", lambda route: held.append(route))
    open_panel(page, RAIN_PAGE)
    read = page.get_by_role("button", name="Read this page in Urdu")
    read.click()
    page.get_by_role("button", name="Back to chat").click()
    read.click()  # while the first is still being made
    page.wait_for_timeout(300)
    assert len(held) == 1
    held[0].fulfill(json={"success": True, "translation": "ہر جھکاؤ 0.2794 ملی میٹر ہے۔"})
    expect(page.locator(".translated")).to_contain_text("0.2794")


def test_an_item_indented_under_another_is_a_list_inside_it(page: Page) -> None:
    level = "1. Level the gauge:\n   - use a bubble level\n   - check both axes\n"
    answer = f"{level}2. Pour water.\n3. Repeat."
    asked(page, sse(final_event(answer, [])))
    steps = page.locator(".msg.assistant > ol > li")
    expect(steps).to_have_count(3)
    expect(steps.nth(0).locator("ul > li")).to_have_text(["use a bubble level", "check both axes"])
    expect(steps.nth(2)).to_have_text("Repeat.")


def test_a_sources_tooltip_shows_its_quote_as_words(page: Page) -> None:
    quote = "Run it with **sudo**:\n\n```bash\npython3 `read.py`\n```\n[docs](https://x.org)"
    cited = [
        {
            "number": 1,
            "url": "/demo/docs/sensors/rain-wind#rain-gauge",
            "title": "Rain",
            "section": "Rain gauge",
            "quote": quote,
        }
    ]
    asked(page, sse(final_event("Run it [1].", cited)))
    source = page.get_by_role("list", name="Sources").get_by_role("link").first
    expect(source).to_have_attribute("title", "Run it with sudo: python3 read.py docs")


def test_escape_puts_away_the_offer_to_ask_about_a_selection(page: Page) -> None:
    page.goto(RAIN_PAGE)
    page.locator("article h2#rain-gauge + p").click(click_count=3)
    offer = page.get_by_role("button", name="Ask about this")
    expect(offer).to_be_visible()
    page.keyboard.press("Escape")
    expect(offer).to_be_hidden()
    assert "tipping bucket" in page.evaluate("getSelection().toString()")  # the text stays


def test_code_indented_under_an_item_is_shown_without_that_indent(page: Page) -> None:
    answer = (
        "1. Pour 100 ml:\n   ```python\n   tips = count()\n   if tips:\n       log(tips)\n   ```\n"
    )
    asked(page, sse(final_event(answer + "2. Repeat.", [])))
    code = page.locator(".msg.assistant pre code")
    expect(code).to_be_visible()
    assert code.text_content() == "tips = count()\nif tips:\n    log(tips)"  # as written


def test_on_a_phone_the_page_under_the_panel_keeps_still(browser: Browser, server: str) -> None:
    paragraphs = "\n\n".join(f"Paragraph {n} about the rain gauge." for n in range(60))
    with open_tab(browser, server, 390, 844, timeout=10_000, touch=True) as tab:
        page = tab.page
        page.route(
            "**/stream-chat",
            lambda route: route.fulfill(
                content_type="text/event-stream", body=sse(final_event(paragraphs, []))
            ),
        )
        page.goto(RAIN_PAGE)
        page.evaluate("document.documentElement.style.overflowY = 'auto'; scrollTo(0, 300)")
        page_state = "[scrollY, document.documentElement.getAttribute('style')]"
        before = page.evaluate(page_state)
        assert before == [300, "overflow-y: auto;"]
        launcher = page.get_by_role("button", name="Ask the book")
        launcher.tap()
        ask(page, "Tell me everything about the rain gauge.")
        log = page.get_by_role("log", name="Conversation")
        expect(log).to_contain_text("Paragraph 59")
        area = log.bounding_box()
        assert area is not None
        x, top, bottom = (
            area["x"] + area["width"] / 2,
            area["y"] + 20,
            area["y"] + area["height"] - 20,
        )
        for _ in range(4):  # up, to the conversation's end and on past it
            swipe(page, x, bottom, top)
            assert page.evaluate("scrollY") == 300
        assert log.evaluate("el => el.scrollTop + el.clientHeight >= el.scrollHeight - 1")
        for _ in range(4):  # and down, to its start and past that
            swipe(page, x, top, bottom)
            assert page.evaluate("scrollY") == 300
        assert log.evaluate("el => el.scrollTop === 0")
        title = (
            page.get_by_role("dialog", name="Ask the book").get_by_role("heading").bounding_box()
        )
        assert title is not None
        swipe(page, x, title["y"], title["y"] + 400)  # on the panel's title, which scrolls nothing
        assert page.evaluate("scrollY") == 300

        page.evaluate("scrollTo(0, 500)")  # as a phone's keyboard may, to show the question box
        page.get_by_role("button", name="Close the chat").tap()
        assert page.evaluate(page_state) == before  # as the reader left it
        swipe(page, x, 600, 300)
        assert page.evaluate("scrollY") > 300  # and it scrolls again
        page.evaluate("document.documentElement.removeAttribute('style')")
        launcher.tap()
        page.get_by_role("button", name="Close the chat").tap()
        assert page.evaluate("document.documentElement.getAttribute('style')") is None


def test_scrolling_past_the_conversations_end_leaves_the_page_where_it_was(page: Page) -> None:
    paragraphs = "\n\n".join(f"Paragraph {n} about the rain gauge." for n in range(60))
    asked(page, sse(final_event(paragraphs, [])))
    page.evaluate("scrollTo(0, 300)")
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("Paragraph 59")
    log.hover()
    for delta in (3000, 300, -3000, -300):  # to its end, on past it; to its start, past it
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(300)
        assert page.evaluate("scrollY") == 300
    assert log.evaluate("el => el.scrollTop") == 0


def paste(page: Page, text: str) -> None:
    """Paste `text` where the focus is, through the clipboard, as a reader's Ctrl+V does."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    page.keyboard.press("Control+V")


@pytest.mark.parametrize(
    "words",
    ["One tip of the bucket is 0.2794 mm of rain. ", "بارش کی پیمائش ہر جھکاؤ پر ہوتی ہے۔ "],
)
def test_a_paste_cut_to_the_questions_limit_says_so(page: Page, words: str) -> None:
    open_panel(page, RAIN_PAGE)
    box = page.get_by_role("textbox", name="Your question")
    box.focus()
    paste(page, (words * 100)[:2500])
    expect(box).to_have_value((words * 100)[:2000])  # the backend's limit, as before
    said = "500 characters were left out: a question holds 2,000 at most."
    note = page.get_by_role("status").filter(has_text="left out")
    expect(note).to_have_text(said)  # a polite live region: a screen reader hears it too
    expect(box).to_have_accessible_description(re.compile(re.escape("2,000 / 2,000")))
    # Under the box, whichever way its text runs, never over the question.
    question, shown = box.bounding_box(), note.bounding_box()
    assert question and shown and shown["y"] >= question["y"] + question["height"]
    page.keyboard.press("Enter")
    expect(page.locator(".msg.user")).to_have_count(1)
    expect(note).to_have_count(0)  # sent: the note has done its work
    expect(page.get_by_text("/ 2,000")).to_have_count(0)


def test_a_question_near_its_limit_counts_and_says_when_it_is_full(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    box = page.get_by_role("textbox", name="Your question")
    box.fill("a" * 1700)
    expect(page.get_by_text("/ 2,000")).to_have_count(0)  # far from it, nothing shown
    box.fill("a" * 1850)
    expect(page.get_by_text("1,850 / 2,000")).to_be_visible()
    expect(box).to_have_accessible_description("1,850 / 2,000")
    box.fill("a" * 1999)
    box.press("End")
    page.keyboard.type("bc")  # the c does not fit
    expect(box).to_have_value("a" * 1999 + "b")
    expect(page.get_by_role("status").filter(has_text="at most")).to_have_text(
        "A question holds 2,000 characters at most."
    )
    box.fill("a" * 10)  # cut down by the reader: nothing more to say
    expect(page.get_by_role("status").filter(has_text="at most")).to_have_count(0)
    expect(page.get_by_text("/ 2,000")).to_have_count(0)


def test_the_question_box_holds_what_its_server_accepts(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The box held 2,000 characters whatever BOOKRAG_MAX_QUESTION_CHARS said: set lower, a
    # reader's long question was sent and refused; set higher, it was cut for nothing.
    tmp = tmp_path_factory.mktemp("short-questions")
    settings = {"data_dir": tmp / "data", "docs_dir": SAMPLE_DOCS, "max_question_chars": 300}
    app = build_app(lambda: create_app(load_settings(**settings)), tmp)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with serving(app, sock) as url, open_tab(browser, url) as tab:
            open_panel(tab.page, RAIN_PAGE)
            box = tab.page.get_by_role("textbox", name="Your question")
            box.fill("a" * 299)
            box.press("End")
            tab.page.keyboard.type("bc")
            expect(box).to_have_value("a" * 299 + "b")
            expect(tab.page.get_by_role("status").filter(has_text="at most")).to_have_text(
                "A question holds 300 characters at most."
            )
            expect(box).to_have_accessible_description(re.compile("300 / 300$"))


def test_a_conversation_started_anew_can_be_brought_back_from_the_keyboard(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    ask(page, RAIN_QUESTION)
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794 mm of rain")
    panel = page.get_by_role("dialog", name="Ask the book")
    panel.get_by_role("button", name="Start a new conversation").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".msg")).to_have_count(0)
    expect(panel.get_by_text("Conversation cleared.")).to_be_visible()
    assert shadow_active_label(page) == "Your question"  # ready for the next question
    page.keyboard.press("Shift+Tab")
    assert shadow_active_label(page) == "Undo clearing the conversation"
    page.keyboard.press("Enter")
    expect(page.locator(".msg.user")).to_have_text(RAIN_QUESTION)
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794 mm of rain")
    expect(panel.get_by_text("Conversation cleared.")).to_have_count(0)
    assert shadow_active_label(page) == "Your question"
    page.reload()  # brought back for good: it follows the reader to the next page
    expect(page.locator(".msg.user")).to_have_text(RAIN_QUESTION)


def test_new_offers_no_undo_with_nothing_to_lose_nor_after_the_next_question(page: Page) -> None:
    open_panel(page, RAIN_PAGE)
    panel = page.get_by_role("dialog", name="Ask the book")
    new = panel.get_by_role("button", name="Start a new conversation")
    new.click()
    expect(panel.get_by_role("button", name="Undo clearing the conversation")).to_have_count(0)
    ask(page, RAIN_QUESTION)
    expect(page.locator(".msg.assistant")).to_contain_text("0.2794 mm of rain")
    new.click()
    expect(panel.get_by_role("button", name="Undo clearing the conversation")).to_be_visible()
    ask(page, "What is the anemometer's conversion factor?")
    expect(page.locator(".msg.user")).to_have_count(1)  # the new conversation, alone
    expect(panel.get_by_role("button", name="Undo clearing the conversation")).to_have_count(0)
