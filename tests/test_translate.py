"""POST /translate and `bookrag translate`: a page found from any URL the browser shows,
translated section by section with its code, links and structure intact, cached on disk and
shared between concurrent readers; 404, 422, 502 and 503 say what went wrong.

The chat model is the official Cohere SDK against a fake whose "translation" of a message is
the message in capitals: every word changes, while anything hidden behind a placeholder must
come back exactly as it was.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin
from typer.testing import CliRunner

from bookrag.api.app import create_app
from bookrag.book.markdown import page_markdown
from bookrag.cli import app as cli
from bookrag.config import Settings, load_settings
from bookrag.errors import ClientGone, InvalidRequest, UpstreamError
from bookrag.index.engine import StoredPoint
from bookrag.index.ingest import ingest, site_config
from bookrag.index.pages import PageDirectory
from bookrag.index.points import page_id
from bookrag.index.store import BookStore
from bookrag.translation.cache import Translation, TranslationCache
from bookrag.translation.languages import find_language, written_in
from bookrag.translation.units import Protected, page_pieces, plan_units, with_links
from fakes import FakeCohere
from fakes.cohere import Reply

RAIN = "02-sensors/rain-and-wind.md"
NOTES = "field-notes.md"
NOTES_URL = "https://pocket-weather.example.org/docs/field-notes"
FIELD_NOTES = """\
---
title: Field Notes
description: FRONT MATTER IS NEVER SENT
---

# Field Notes

Field notes keep the station honest. Read [the wiring guide](./02-sensors/01-wiring/01-i2c-bus.md)
and https://example.org/weather-notes first, then run `pocketwx --check`. The
[pull-ups](02-sensors/01-wiring/01-i2c-bus.md#pull-up-resistors) matter; [old notes](./gone.md)
do not.

## Checklist

1. Open the enclosure and check the seals.
2. Clean the funnel with ``a `soft` brush``.
   - Use warm water.
   - Dry it before closing.

### Readings table

| sensor | unit | normal range |
|---|---|---|
| BME280 | °C | -20 to 45 |
| [Rain gauge](https://example.org/rain-gauge) | mm | 0 to 50 |

```bash
# Restart the logger after maintenance
sudo systemctl restart pocketwx-logger
```

## Where to read more

> Weather changes; notes remain.

The full manual is the [Pocket WX manual](https://example.org/manual_(v2)).

```python
def note(text):
    return f"[{text}](https://example.org/x)"  # code, not a link
```
"""


class TranslatingCohere(FakeCohere):
    """The fake Cohere, answering a chat without documents with its user message in capitals
    (or, with `drop_placeholders`, with its placeholders lost; with `echo`, as it was)."""

    drop_placeholders = False
    echo = False

    def _reply(self, body: dict[str, Any]) -> Reply:
        if body.get("documents"):
            return super()._reply(body)
        text = str(body["messages"][-1]["content"])
        if self.drop_placeholders:
            text = re.sub(r"⟦\d+⟧", "", text)
        return Reply(text if self.echo else text.upper())


@pytest.fixture
def fake() -> Iterator[TranslatingCohere]:
    with TranslatingCohere() as server:
        yield server


@pytest.fixture
def docs(book_copy: Path) -> Path:
    """A copy of the sample book (so a test may edit it), with a page of every structure."""
    (book_copy / "docs" / NOTES).write_text(FIELD_NOTES, encoding="utf-8")
    return book_copy / "docs"


def settings_for(fake: FakeCohere, tmp_path: Path, docs: Path | None, **extra: Any) -> Settings:
    options: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "docs_dir": docs,
        "cohere_api_key": "test-key",
        "cohere_base_url": fake.url,
        "retry_budget": 3.0,
        "upstream_timeout": 5.0,
        "upstream_cooldown": 0,  # these tests fail a call, then expect the next to work
        **extra,
    }
    return load_settings(**options)


@contextmanager
def serve(settings: Settings, fake: FakeCohere) -> Iterator[TestClient]:
    """The API, started (which indexes the docs), with the fake's start-up calls forgotten."""
    with TestClient(create_app(settings)) as client:
        fake.reset()
        yield client


@pytest.fixture
def api(fake: TranslatingCohere, tmp_path: Path, docs: Path) -> Iterator[TestClient]:
    with serve(settings_for(fake, tmp_path, docs), fake) as client:
        yield client


def translate(client: TestClient, page_url: str, language: str | None = "urdu") -> Any:
    body: dict[str, Any] = {"page_url": page_url}
    if language is not None:
        body["target_language"] = language
    return client.post("/translate", json=body)


def chat_calls(fake: FakeCohere) -> int:
    return len(fake.calls("/v2/chat"))


MARKDOWN = MarkdownIt("commonmark").use(front_matter_plugin)


def fences(markdown: str) -> list[tuple[str, str]]:
    """Each fenced code block's info string and code, at any depth, as a parser reads them."""
    return [(t.info, t.content) for t in MARKDOWN.parse(markdown) if t.type == "fence"]


def headings(markdown: str) -> list[str]:
    """The `#` marks of each heading (code blocks hold none)."""
    return ["#" * int(t.tag[1]) for t in MARKDOWN.parse(markdown) if t.type == "heading_open"]


def cached_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data" / "translations").rglob("*.json"))


# -- finding the page ------------------------------------------------------------------------


def test_page_url_finds_the_page_whatever_the_host_locale_or_base_url(
    store: BookStore, docs: Path
) -> None:
    (docs / "03-data" / "météo.md").write_text("# Météo\n\nLa station.\n", encoding="utf-8")
    site = site_config(docs, "https://example.github.io/pocket-weather", None)
    ingest(store, docs, site, 350)
    pages = PageDirectory(store)
    for page_url in (
        "https://example.github.io/pocket-weather/docs/data/m%C3%A9t%C3%A9o",
        "http://localhost:3000/pocket-weather/docs/data/météo/",
        "https://preview.vercel.app/fr/docs/data/météo",
    ):
        assert pages.find(page_url)["source"] == "03-data/météo.md", page_url
    route = "/docs/sensors/rain-wind"
    for page_url in (
        f"https://example.github.io/pocket-weather{route}",
        f"http://localhost:3000/pocket-weather{route}",
        f"http://localhost:3000/pocket-weather{route}/",
        f"https://pocket-weather-git-fix-abc123.vercel.app{route}",  # a preview at the root
        f"https://pocket-weather-git-fix-abc123.vercel.app/ur{route}/",
        f"http://localhost:3000/pocket-weather/ur{route}#anemometer",
        f"http://localhost:3000/pocket-weather{route}?utm_source=x#rain-gauge",
        f"http://localhost:3000/pocket-weather{route}.html",
        f"/pocket-weather{route}",
        route,
        f"localhost:3000{route}",
        RAIN,
        f"website/docs/{RAIN}",
    ):
        assert pages.find(page_url)["source"] == RAIN, page_url


def test_translate_accepts_the_url_the_browser_shows(api: TestClient) -> None:
    for page_url in (
        "https://pocket-weather.example.org/docs/sensors/rain-wind",
        "http://localhost:3000/docs/sensors/rain-wind/",
        "https://preview-42.vercel.app/docs/sensors/rain-wind#rain-gauge",
        "http://localhost:3000/ur/docs/sensors/rain-wind?from=button",
        # A link to a highlight, and tracking, may run past the 2048 characters a URL may have.
        "https://pocket-weather.example.org/docs/sensors/rain-wind#:~:text="
        + "tipping%20bucket%20" * 150,
        "https://pocket-weather.example.org/docs/sensors/rain-wind?" + "utm_x=1&" * 300,
        RAIN,
    ):
        response = translate(api, page_url)
        assert response.status_code == 200, (page_url, response.text)
        body = response.json()
        assert body["path"] == RAIN
        assert body["page_url"] == "https://pocket-weather.example.org/docs/sensors/rain-wind"
        assert body["title"] == "Rain and Wind Sensors"


def test_unknown_page_translation_is_404_naming_the_path(api: TestClient) -> None:
    response = translate(api, "http://localhost:3000/docs/no-such-page/#top")
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": "no indexed page at path /docs/no-such-page",
    }


def test_a_page_of_a_book_not_indexed_yet_is_503_not_404(
    fake: TranslatingCohere, tmp_path: Path
) -> None:
    # A server reading its site in the background has no page until the first reading is
    # done: the reader's page exists, and the book's window should say "try later".
    settings = settings_for(fake, tmp_path, None)
    with serve(settings, fake) as client:
        response = translate(client, "http://localhost:3000/docs/sensors/rain-wind")
    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "error": "the book is not indexed yet: see /health",
    }


def test_a_malformed_page_url_is_422_not_a_server_error(api: TestClient) -> None:
    response = translate(api, "http://[zz]/docs/sensors/rain-wind")
    assert response.status_code == 422
    assert response.json()["error"].startswith("page_url: Value error, not a valid URL")


# -- what comes back -------------------------------------------------------------------------


def test_translation_keeps_code_links_and_structure(
    api: TestClient, fake: TranslatingCohere
) -> None:
    response = translate(api, "http://localhost:3000/docs/field-notes", "Urdu")
    assert response.status_code == 200, response.text
    body = response.json()
    text = body["translation"]
    assert body["success"] is True
    assert {k: body[k] for k in ("language", "target_language", "direction", "cached")} == {
        "language": "ur",
        "target_language": "Urdu",
        "direction": "rtl",
        "cached": False,
    }
    assert body["model"] == "cohere:command-a-03-2025"
    assert text.startswith("# FIELD NOTES\n\nFIELD NOTES KEEP THE STATION HONEST.")
    assert fences(text) == fences(FIELD_NOTES)  # code blocks byte for byte
    assert headings(text) == headings(FIELD_NOTES) == ["#", "##", "###", "##"]
    wiring = "https://pocket-weather.example.org/docs/sensors/wiring/i2c-wiring"
    for kept in (
        f"]({wiring})",  # a link to another page's file is a link to the page
        f"]({wiring}#pull-up-resistors)",
        "](./gone.md)",  # no such page: left as written
        "](https://example.org/rain-gauge)",
        "](https://example.org/manual_(v2))",
        " https://example.org/weather-notes ",
        "`pocketwx --check`",
        "``a `soft` brush``",
    ):
        assert kept in text, kept
    assert "1. OPEN THE ENCLOSURE" in text
    assert "\n   - USE WARM WATER." in text
    assert "| [RAIN GAUGE](https://example.org/rain-gauge) | MM | 0 TO 50 |" in text
    assert "> WEATHER CHANGES; NOTES REMAIN." in text
    # What the model saw: instructions in the system message, the page as the user message,
    # with no code, URL or front matter in it and no documents.
    (request,) = [r.json for r in fake.calls("/v2/chat")]
    system, user = request["messages"]
    assert system["role"] == "system" and "Urdu" in system["content"]
    assert "⟦0⟧" in system["content"]
    assert user["role"] == "user" and "⟦0⟧" in user["content"]
    for hidden in ("```", "https://", "./02-sensors", "pocketwx", "FRONT MATTER", "title:"):
        assert hidden not in user["content"], hidden
    assert "documents" not in request
    assert request["max_tokens"] >= 700


def test_long_page_is_translated_in_units_and_joined_in_order(
    api: TestClient, fake: TranslatingCohere
) -> None:
    whole = translate(api, NOTES, "ar").json()["translation"]
    assert chat_calls(fake) == 1
    api.app.state.translator.unit_tokens = 20  # type: ignore[attr-defined]
    fake.reset()
    split = translate(api, NOTES, "fa").json()["translation"]
    assert chat_calls(fake) >= 4
    assert split == whole


def test_translation_is_the_page_as_written_with_only_its_prose_changed(
    api: TestClient, docs: Path
) -> None:
    translated = translate(api, RAIN).json()["translation"]
    original = page_markdown((docs / RAIN).read_text(encoding="utf-8"))
    assert translated.casefold() == original.casefold()
    assert translated != original
    assert fences(translated) == fences(original)


LONG_CODE = "\n".join(f"    reading_{n} = sensor.read({n})  # sample {n}" for n in range(400))
MDX_PAGE = f"""\
---
title: Long Listing
sidebar_position: 9
---

import Tabs from '@theme/Tabs';
import TabItem from '@theme/TabItem';

# Long Listing

The logger below is long, longer than any chunk.

```python title="logger.py"
def log_all(sensor):
{LONG_CODE}



    return True  \t
```

## Steps

1. Install the service:

   ```bash
   sudo cp logger.service /etc/systemd/system/
   ```

2. Start it.

<Tabs>
<TabItem value="pi" label="Raspberry Pi">

Run it on the board.

</TabItem>
</Tabs>

:::tip Keep a copy

Back the database up weekly.

:::

### Heading with an id {{#custom-id}}

    indented code stays code
    # not a heading

Done.
"""


def test_translation_keeps_long_code_blocks_whole(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    (docs / "long-listing.mdx").write_text(MDX_PAGE, encoding="utf-8")
    with serve(settings_for(fake, tmp_path, docs), fake) as client:
        client.app.state.translator.unit_tokens = 30  # type: ignore[attr-defined]
        body = translate(client, "long-listing.mdx").json()
    text = body["translation"]
    assert chat_calls(fake) >= 3  # translated in several units, the code in none of them
    # Every code block whole and in place, as in the source; headings and lists too.
    assert fences(text) == fences(MDX_PAGE) and len(fences(text)) == 2
    assert LONG_CODE in text
    assert "\n    indented code stays code\n    # not a heading\n" in text
    assert headings(text) == ["#", "##", "###"]
    assert "1. INSTALL THE SERVICE:\n\n   ```bash\n   sudo cp logger.service" in text
    assert "2. START IT." in text
    assert ":::tip KEEP A COPY" in text and "\n:::" in text
    # Front matter, MDX imports, JSX tags and heading ids are left out; their text stays.
    for gone in ("sidebar_position", "import ", "<Tabs>", "TabItem", "{#custom-id}", "---"):
        assert gone not in text, gone
    assert "RUN IT ON THE BOARD." in text
    for request in fake.calls("/v2/chat"):
        assert "sensor.read" not in request.json["messages"][-1]["content"]


def test_a_component_too_long_for_one_reply_is_translated_in_parts_keeping_its_indents(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    # A quiz component of 60 KB is one block: sent whole, its reply stopped at the length
    # limit and the page could never be translated. Cut between lines, a part whose lines
    # are indented was read as indented code and sent as a placeholder, untranslated.
    questions = "\n".join(
        f'    {{\n      question: "Why does gauge {n} tip?",\n      answer: "It fills."\n    }},'
        for n in range(40)
    )
    (docs / "quiz.mdx").write_text(
        f"# Quiz\n\n<Quiz\n  questions={{[\n{questions}\n  ]}}\n/>\n", encoding="utf-8"
    )
    with serve(settings_for(fake, tmp_path, docs), fake) as client:
        client.app.state.translator.unit_tokens = 60  # type: ignore[attr-defined]
        response = translate(client, "quiz.mdx")
    assert response.status_code == 200, response.text
    text = response.json()["translation"]
    assert chat_calls(fake) >= 4
    for n in (0, 17, 39):
        assert f'\n      QUESTION: "WHY DOES GAUGE {n} TIP?",\n      ANSWER: "IT FILLS."' in text
    assert text.endswith("    },\n  ]}\n/>\n")


# -- cache -----------------------------------------------------------------------------------


def test_second_request_is_served_from_cache_without_upstream_calls(
    api: TestClient, fake: TranslatingCohere, tmp_path: Path
) -> None:
    first = translate(api, RAIN).json()
    assert first["cached"] is False and chat_calls(fake) == 1
    fake.reset()
    second = translate(api, "http://localhost:3000/ur/docs/sensors/rain-wind/").json()
    assert second["cached"] is True
    assert chat_calls(fake) == 0
    assert second["translation"] == first["translation"]
    assert [p.parent.name for p in cached_files(tmp_path)] == ["ur"]
    other = translate(api, RAIN, "es").json()  # another language is another translation
    assert other["cached"] is False and chat_calls(fake) == 1


def test_a_page_being_rewritten_is_translated_but_not_cached(
    api: TestClient, fake: TranslatingCohere, tmp_path: Path
) -> None:
    # An ingest that died mid-page leaves its record without a hash (`write_page`): every
    # text the page may hold then would share one cache key.
    book = api.app.state.book  # type: ignore[attr-defined]
    record = book.pages.find(RAIN)
    book.store.engine.upsert([StoredPoint(page_id(RAIN), {**record, "page_hash": ""})])
    book.pages.refresh()
    assert translate(api, RAIN).json()["cached"] is False
    assert translate(api, RAIN).json()["cached"] is False and chat_calls(fake) == 2
    assert cached_files(tmp_path) == []


def test_cached_translation_survives_a_restart(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs)
    with serve(settings, fake) as client:
        first = translate(client, RAIN).json()
    with serve(settings, fake) as client:
        again = translate(client, RAIN).json()
    assert again["cached"] is True
    assert chat_calls(fake) == 0
    assert again["translation"] == first["translation"]


def test_a_new_chunk_size_keeps_the_cached_translations(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    with serve(settings_for(fake, tmp_path, docs), fake) as client:
        assert translate(client, RAIN).json()["cached"] is False
    # Start-up re-chunks every page; a page's text, and so its translation, is unchanged.
    with serve(settings_for(fake, tmp_path, docs, chunk_tokens=64), fake) as client:
        assert translate(client, RAIN).json()["cached"] is True
    assert chat_calls(fake) == 0


def test_changed_page_is_translated_afresh(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs)
    with serve(settings, fake) as client:
        translate(client, RAIN)
    page = docs / RAIN
    page.write_text(page.read_text() + "\nThe vane is mounted facing north.\n")
    with serve(settings, fake) as client:
        fresh = translate(client, RAIN).json()
    assert fresh["cached"] is False
    assert chat_calls(fake) == 1
    assert "THE VANE IS MOUNTED FACING NORTH." in fresh["translation"]


def test_a_cached_translation_links_to_another_page_at_its_new_address(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs)
    with serve(settings, fake) as client:
        before = translate(client, NOTES).json()["translation"]
    old = "https://pocket-weather.example.org/docs/sensors/wiring/i2c-wiring"
    assert f"]({old})" in before and f"]({old}#pull-up-resistors)" in before
    wiring = docs / "02-sensors" / "01-wiring" / "01-i2c-bus.md"  # the page linked to
    wiring.write_text(wiring.read_text().replace("id: i2c-wiring", "slug: /bus/i2c"))
    with serve(settings, fake) as client:
        after = translate(client, NOTES).json()
    assert after["cached"] is True and chat_calls(fake) == 0
    new = "https://pocket-weather.example.org/docs/bus/i2c"
    assert after["translation"] == before.replace(f"]({old}", f"]({new}")
    assert f"]({new}#pull-up-resistors)" in after["translation"]


def test_old_translations_are_pruned_when_a_page_changes_or_leaves(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs)
    with serve(settings, fake) as client:
        translate(client, RAIN)
        translate(client, RAIN, "es")
        translate(client, NOTES)
    assert len(cached_files(tmp_path)) == 3
    page = docs / RAIN
    page.write_text(page.read_text() + "\nThe vane is mounted facing north.\n")
    (docs / NOTES).unlink()
    with serve(settings, fake) as client:
        # Start-up dropped the changed page's two old versions and the removed page's.
        assert cached_files(tmp_path) == []
        first = translate(client, RAIN).json()
        assert first["cached"] is False and len(cached_files(tmp_path)) == 1
        # Saving another version of a page (indexed meanwhile by another process) deletes
        # the one before it, with no restart.
        cache = client.app.state.translator.cache  # type: ignore[attr-defined]
        newer = TranslationCache.key(RAIN, "f" * 64, "ur", first["model"])
        cache.save(newer, Translation.model_validate(first), "f" * 64)
        assert [p.stem for p in cached_files(tmp_path)] == [newer]


def test_fresh_translations_spend_the_clients_budget_and_cached_ones_are_free(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    app = create_app(settings_for(fake, tmp_path, docs, translation_budget=2))
    with TestClient(app, client=("203.0.113.7", 4000)) as reader:
        assert translate(reader, RAIN).status_code == 200
        assert translate(reader, NOTES).status_code == 200
        refused = translate(reader, "02-sensors/reading-sensors.mdx")
        assert refused.status_code == 429
        assert "translation budget" in refused.json()["error"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 1800  # one page per 30 minutes
        again = translate(reader, RAIN)  # already translated: served, whatever the budget
        assert again.status_code == 200 and again.json()["cached"] is True
    calls = chat_calls(fake)
    with TestClient(app, client=("198.51.100.9", 4000)) as other:
        assert translate(other, "02-sensors/reading-sensors.mdx").status_code == 200
    assert chat_calls(fake) > calls


def test_a_failed_translation_gives_the_clients_budget_back(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    app = create_app(settings_for(fake, tmp_path, docs, translation_budget=1, retry_budget=0))
    with TestClient(app, client=("203.0.113.7", 4000)) as reader:
        fake.fail("/v2/chat", status=500, retry_after=None, times=1000)
        assert translate(reader, RAIN).status_code == 502  # nothing made: nothing spent
        fake.reset()
        assert translate(reader, RAIN).status_code == 200
        assert translate(reader, NOTES).status_code == 429  # the one unit went on RAIN


def test_a_translation_that_fails_partway_keeps_the_budget_spent(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(
        fake, tmp_path, docs, translation_budget=1, retry_budget=0, translation_concurrency=1
    )
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.7", 4000)) as reader:
        app.state.translator.unit_tokens = 20  # several units, translated one by one
        fake.delay("/v2/chat", 0.0)  # the first unit is translated (and paid for) ...
        fake.fail("/v2/chat", status=500, retry_after=None, times=1000)  # ... then none
        assert translate(reader, NOTES).status_code == 502
        fake.reset()
        assert translate(reader, RAIN).status_code == 429  # the unit went on NOTES' start


def test_addresses_of_one_ipv6_network_share_one_translation_budget(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs, translation_budget=1, trusted_proxies="*")
    with serve(settings, fake) as client:  # behind a proxy that names each reader

        def translate_for(address: str, page: str) -> int:
            body = {"page_url": page, "target_language": "ur"}
            sent = client.post("/translate", json=body, headers={"X-Forwarded-For": address})
            return sent.status_code

        assert translate_for("2001:db8:1:2::10", RAIN) == 200
        assert translate_for("2001:db8:1:2::99", NOTES) == 429  # the same /64: its budget
        assert translate_for("2001:db8:1:3::10", NOTES) == 200  # the next /64 has its own


def test_a_cached_translation_is_served_while_every_generation_slot_is_taken(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs, max_generations=1, queue_wait=0.1)
    with serve(settings, fake) as client:
        assert translate(client, RAIN).status_code == 200
        slots = client.app.state.slots  # type: ignore[attr-defined]
        anyio.run(slots.acquire, "another reader")  # a long answer holds the only slot
        calls = chat_calls(fake)
        cached = translate(client, RAIN)
        assert cached.status_code == 200 and cached.json()["cached"] is True
        busy = translate(client, NOTES)  # a new page needs the model, and a slot for it
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert chat_calls(fake) == calls  # neither request reached the model
        slots.release("another reader")
        assert translate(client, NOTES).status_code == 200
        anyio.run(slots.acquire, "another reader")  # free again: the requests gave theirs back


def test_a_translation_every_reader_left_stops_unless_nearly_done(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    app = create_app(settings_for(fake, tmp_path, docs))

    async def leave_after(translated: int, language: str) -> tuple[int, int]:
        """Two readers ask, both leave once `translated` units are back; the units planned
        and requested."""
        translator = app.state.translator
        translator.unit_tokens = 20
        translator._limit = asyncio.Semaphore(1)  # one unit at a time, so progress is slow
        left = asyncio.Event()
        readers = [
            asyncio.create_task(translator.translate(NOTES, language, "reader", left.wait))
            for _ in range(2)
        ]
        while not chat_calls(fake) or any(
            job.translated < translated for job in translator._running.values()
        ):
            await asyncio.sleep(0.01)
        left.set()
        outcomes = await asyncio.gather(*readers, return_exceptions=True)
        assert all(isinstance(o, ClientGone) for o in outcomes), outcomes
        while translator._running:  # stopped, or finishing
            await asyncio.sleep(0.05)
        units = len(plan_units(page_pieces(page_markdown(FIELD_NOTES)), 20))
        return units, chat_calls(fake)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            fake.reset()
            fake.delay("/v2/chat", 0.3, times=1000)
            units, requested = await leave_after(0, "ur")
            assert units >= 4
            assert requested < units  # stopped: the rest was never asked for
            assert cached_files(tmp_path) == []
            fake.reset()
            fake.delay("/v2/chat", 0.3, times=1000)
            # Nearly done (three quarters of the units back) when the readers leave.
            units, requested = await leave_after(math.ceil(units * 0.75), "es")
            assert requested == units
            assert [p.parent.name for p in cached_files(tmp_path)] == ["es"]

    asyncio.run(scenario())


def test_concurrent_requests_for_one_page_share_one_translation(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    app = create_app(settings_for(fake, tmp_path, docs))

    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        async with app.router.lifespan_context(app):
            app.state.translator.unit_tokens = 60
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                fake.reset()
                baseline = await client.post(
                    "/translate", json={"page_url": NOTES, "target_language": "es"}
                )
                assert baseline.status_code == 200
                units = chat_calls(fake)
                fake.reset()
                fake.delay("/v2/chat", 0.2, times=100)
                request = {"page_url": NOTES_URL, "target_language": "ur"}
                readers = [{"X-Forwarded-For": f"198.51.100.{n}"} for n in range(6)]
                responses = await asyncio.gather(
                    *(client.post("/translate", json=request, headers=h) for h in readers)
                )
                return units, [r.json() for r in responses]

    units, bodies = asyncio.run(scenario())
    assert units >= 3
    assert chat_calls(fake) == units
    assert len({b["translation"] for b in bodies}) == 1
    assert not any(b["cached"] for b in bodies)


# -- failures --------------------------------------------------------------------------------


def test_unknown_language_is_422_saying_how_to_name_one(api: TestClient) -> None:
    response = translate(api, RAIN, "klingon")
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert "'klingon'" in body["error"]
    assert "urdu, ur, arabic, es" in body["error"]
    assert "GET /translate/languages" in body["error"]
    listed = api.get("/translate/languages").json()["languages"]
    assert {"code": "ur", "name": "Urdu", "native": "اردو", "direction": "rtl"} in listed
    assert len(listed) >= 30


def test_language_is_found_by_code_or_name_in_any_case() -> None:
    assert {find_language(x).code for x in ("urdu", "ur", "Urdu", " URDU ", "اردو", None)} == {"ur"}
    assert find_language("Arabic").direction == "rtl"
    assert find_language("spanish").code == find_language("es").code == "es"
    assert find_language("pt-BR").name == "Portuguese"
    assert find_language("farsi").code == "fa"
    assert find_language("French").direction == "ltr"
    for rtl in ("ur", "ar", "fa", "he", "ps", "sd", "ug", "yi"):
        assert find_language(rtl).direction == "rtl"
    with pytest.raises(InvalidRequest):
        find_language("xx")


def test_default_language_is_urdu(api: TestClient) -> None:
    body = translate(api, RAIN, None).json()
    assert (body["language"], body["direction"]) == ("ur", "rtl")


def test_translation_without_a_chat_model_is_503_naming_the_setting(
    tmp_path: Path, docs: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", docs_dir=docs)
    with TestClient(create_app(settings)) as client:
        response = translate(client, RAIN)
    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False
    assert "COHERE_API_KEY" in body["error"] and "OPENAI_BASE_URL" in body["error"]


def test_provider_failure_is_502_and_nothing_is_cached(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    settings = settings_for(fake, tmp_path, docs, retry_budget=1.0)
    with serve(settings, fake) as client:
        fake.fail("/v2/chat", status=500, retry_after=None, times=1000)
        response = translate(client, RAIN)
        assert response.status_code == 502
        body = response.json()
        assert body["success"] is False
        assert f"could not translate {RAIN} into Urdu" in body["error"]
        assert "500" in body["error"]
        assert chat_calls(fake) >= 2  # retried within the budget
        assert cached_files(tmp_path) == []
        fake.reset()
        assert translate(client, RAIN).json()["cached"] is False  # nothing half-done kept


def test_a_section_cut_at_its_length_limit_is_asked_again_with_more_room(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    # Urdu's script may take more tokens than a reply's room (4 a token of the text): a
    # section the model stopped short (MAX_TOKENS) is asked for again with twice the room,
    # and the page comes back whole.
    with serve(settings_for(fake, tmp_path, docs), fake) as client:
        fake.reply_token_cost = 6
        response = translate(client, RAIN)
        rooms = [c.json["max_tokens"] for c in fake.calls("/v2/chat")]
    original = page_markdown((docs / RAIN).read_text(encoding="utf-8"))
    assert response.status_code == 200
    assert response.json()["translation"].casefold() == original.casefold()
    assert rooms == [rooms[0], 4000] and rooms[0] < 4000  # one unit: cut, then more room


@pytest.mark.parametrize("ending", ["cut at the limit", "no message-end"])
def test_a_section_the_model_could_not_finish_fails_the_page_and_is_never_cached(
    fake: TranslatingCohere, tmp_path: Path, docs: Path, ending: str
) -> None:
    # Still cut with all the room a reply gets, or a stream that ended before its end event
    # (its text may stop anywhere): the page fails, and no reader gets it from the cache.
    with serve(settings_for(fake, tmp_path, docs), fake) as client:
        if ending == "cut at the limit":
            fake.reply_token_cost = 100
        else:
            fake.end_reply(None, times=1000)
        response = translate(client, RAIN)
    assert response.status_code == 502 and response.json()["success"] is False
    said = "length limit (4000 tokens)" if ending == "cut at the limit" else "message-end"
    assert said in response.json()["error"]
    assert cached_files(tmp_path) == []


@pytest.mark.parametrize(("asked", "cooldown", "wait"), [(30, 0, 30), (None, 60, 60)])
def test_a_rate_limited_translation_is_503_saying_when_to_ask_again(
    fake: TranslatingCohere,
    tmp_path: Path,
    docs: Path,
    asked: float | None,
    cooldown: float,
    wait: int,
) -> None:
    # Cohere's 429 is no broken page: the reader is told to come back when Cohere said, or
    # when translations stop resting; nothing is cached, and the try costs no budget.
    settings = settings_for(fake, tmp_path, docs, retry_budget=1.0, upstream_cooldown=cooldown)
    with serve(settings, fake) as client:
        fake.fail("/v2/chat", status=429, retry_after=asked, times=1000)
        response = translate(client, RAIN)
        tried = chat_calls(fake)
        again = translate(client, RAIN)
    assert response.status_code == 503 and response.json()["success"] is False
    assert wait - 2 <= int(response.headers["retry-after"]) <= wait
    assert (
        "429" in response.json()["error"] and f"try again in {wait} s" in response.json()["error"]
    )
    assert again.status_code == 503 and again.headers["retry-after"]
    if cooldown:
        assert chat_calls(fake) == tried  # resting: the second was not sent
    assert cached_files(tmp_path) == []


def test_reply_that_loses_a_placeholder_is_502(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    fake.drop_placeholders = True
    with serve(settings_for(fake, tmp_path, docs, retry_budget=0), fake) as client:
        response = translate(client, NOTES)
    assert response.status_code == 502
    assert "placeholder ⟦0⟧ missing" in response.json()["error"]
    assert cached_files(tmp_path) == []


def test_a_page_sent_back_untranslated_is_502_and_not_cached(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    fake.echo = True  # a model that ignored the instructions
    with serve(settings_for(fake, tmp_path, docs, retry_budget=0), fake) as client:
        response = translate(client, NOTES)
        assert response.status_code == 502
        assert "not in Urdu" in response.json()["error"]
        assert cached_files(tmp_path) == []
        # French shares English's letters: an echo cannot be told from a translation there.
        assert translate(client, NOTES, "French").status_code == 200


def test_a_broken_translation_leaves_the_chat_model_working_for_everyone(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    # The model answered; its reply was unusable. That is no outage to rest the model for.
    fake.drop_placeholders = True
    settings = settings_for(fake, tmp_path, docs, retry_budget=0, upstream_cooldown=60)
    with serve(settings, fake) as client:
        assert translate(client, NOTES).status_code == 502
        fake.drop_placeholders = False
        answer = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
        assert answer["mode"] == "generative" and answer["degraded"] is False
        assert translate(client, NOTES).status_code == 200


def test_a_rate_limited_translation_rests_the_model_for_translations_only(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    # A page is many calls at once, the likeliest to meet a rate limit: once its retries run
    # out, translations rest, and every reader's answers are still written.
    settings = settings_for(fake, tmp_path, docs, retry_budget=0, upstream_cooldown=60)
    with serve(settings, fake) as client:
        fake.fail("/v2/chat", status=429, retry_after=None)
        failed = translate(client, RAIN)
        tried = chat_calls(fake)
        answer = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
        answered = chat_calls(fake)
        again = translate(client, RAIN)
    assert failed.status_code == again.status_code == 503
    assert answer["mode"] == "generative" and answer["degraded"] is False
    assert answered == tried + 1 and chat_calls(fake) == answered  # translations rest


def test_a_language_is_recognised_by_its_script() -> None:
    urdu, japanese, french = (find_language(x) for x in ("ur", "ja", "fr"))
    english = "The rain gauge tips once for every 0.2794 mm of rain that falls into it."
    assert not written_in(english, urdu) and not written_in(english, japanese)
    assert written_in(
        "بارش کی پیمائش کا آلہ ہر 0.2794 ملی میٹر بارش پر ایک بار جھکتا ہے، BME280", urdu
    )
    assert written_in(
        "雨量計は雨が0.2794ミリ降るたびに一度傾きます。とても便利な道具です。", japanese
    )
    assert written_in(english, french)  # Latin letters tell French from no other
    assert written_in("## API", urdu)  # too few letters to tell


def test_placeholders_hide_code_and_urls_and_come_back() -> None:
    text = "Run `ls` then see [docs](https://x.org/a_(b)) or https://y.org.\n\n```sh\nls -l\n```"
    protected = Protected.of(text)
    assert protected.text == "Run ⟦0⟧ then see [docs](⟦1⟧) or ⟦2⟧.\n\n⟦3⟧"
    reply = "CORRE ⟦0⟧ Y MIRA [DOCS](⟦1⟧) O ⟦ 2 ⟧. ⟦3⟧"
    assert protected.restore(reply) == (
        "CORRE `ls` Y MIRA [DOCS](https://x.org/a_(b)) O https://y.org.\n```sh\nls -l\n```"
    )


@given(st.text(alphabet=st.sampled_from("ab [](#)./`\n-:*>|"), max_size=80))
def test_rewriting_no_link_target_gives_the_markdown_back_unchanged(markdown: str) -> None:
    assert with_links(markdown, str) == markdown


def test_a_paragraph_too_long_for_one_reply_is_cut_between_lines_a_list_is_not() -> None:
    # A component's props are one paragraph: sent whole, its reply stopped at the length
    # limit, so the page (a quiz's 60 KB of questions, say) could never be translated.
    props = "\n".join(f'    {{ question: "Why does gauge {n} tip?" }},' for n in range(60))
    quiz = f"<Quiz\n  questions={{[\n{props}\n  ]}}\n/>"
    steps = "\n".join(f"- Step {n}: tip the bucket and count the clicks." for n in range(60))
    page = f"# Quiz\n\n{quiz}\n\n{steps}\n"
    units = plan_units(page_pieces(page), 100)
    assert "".join(unit.text + unit.breaks for unit in units) == page
    assert [unit.text for unit in units][-1] == steps  # a list stays whole: its parts alone
    assert len(units) > 4 and any(unit.continues for unit in units)  # would read otherwise
    protected = [Protected.of(unit.text, continues=unit.continues) for unit in units]
    translated = "".join(
        p.restore(p.text.upper()) + unit.breaks for p, unit in zip(protected, units, strict=True)
    )
    assert translated == page.upper()  # every part translated, its indents kept


def test_link_targets_with_titles_in_brackets_and_by_reference_are_hidden_and_rewritten() -> None:
    text = (
        '[titled](./logging.md#units "The units") and ![chart](./img/chart.png "A chart")\n'
        "[angle](<./dash board.md>) and [the fixes][r1]\n\n"
        '[r1]: ./troubleshooting.md#sensors "Sensor problems"\n'
    )
    protected = Protected.of(text)
    assert protected.text == (
        '[titled](⟦0⟧ "The units") and ![chart](⟦1⟧ "A chart")\n'
        '[angle](⟦2⟧) and [the fixes][r1]\n\n[r1]: ⟦3⟧ "Sensor problems"\n'
    )
    rewritten = with_links(text, lambda target: target.replace(".md", ".html"))
    assert rewritten == text.replace(".md", ".html")


def test_a_reference_definition_in_a_quote_is_hidden_and_a_footnote_is_translated() -> None:
    text = (
        "> See [the log].\n>\n> [the log]: ./logging.md\n\nTips.[^1]\n\n[^1]: Count them twice.\n"
    )
    protected = Protected.of(text)
    assert protected.text == (
        "> See [the log].\n>\n> [the log]: ⟦0⟧\n\nTips.[^1]\n\n[^1]: Count them twice.\n"
    )
    assert with_links(text, lambda t: t.replace(".md", ".html")) == text.replace(".md", ".html")


def test_only_link_targets_are_rewritten_not_code_that_looks_like_one() -> None:
    text = "See [a](./a.md) and `[b](./b.md)`.\n\n```md\n[c](./c.md)\n```\n"
    rewritten = with_links(text, lambda target: target.replace(".md", ".html"))
    assert rewritten == text.replace("(./a.md)", "(./a.html)")


# -- command line ----------------------------------------------------------------------------


def test_cli_translate_prints_the_translation(
    fake: TranslatingCohere, tmp_path: Path, docs: Path
) -> None:
    env = {
        "BOOKRAG_DATA_DIR": str(tmp_path / "data"),
        "COHERE_API_KEY": "test-key",
        "COHERE_BASE_URL": fake.url,
    }
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(docs)], env=env).exit_code == 0
    result = runner.invoke(cli, ["translate", RAIN, "--to", "ur"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# RAIN AND WIND SENSORS\n")
    assert "MM_PER_TIP = 0.2794" in result.stdout  # code untouched
    by_url = runner.invoke(
        cli,
        ["translate", "http://localhost:3000/ur/docs/sensors/rain-wind/", "--to", "ur"],
        env=env,
    )
    assert by_url.exit_code == 0
    assert by_url.stdout == result.stdout
    unknown = runner.invoke(cli, ["translate", RAIN, "--to", "klingon"], env=env)
    assert unknown.exit_code == 1
    assert "unknown language 'klingon'" in unknown.output


def test_reply_that_loses_a_heading_is_refused() -> None:
    protected = Protected.of("## Rain gauge\n\nIt tips.\n\n### Calibration\n\nPour water.")
    with pytest.raises(UpstreamError, match="headings lost"):
        protected.restore("## PLUVIOMETRE\n\nIL BASCULE.\n\nVERSER DE L'EAU.")
