"""Serving a book read from its published site: background indexing, refreshes, the admin
re-index route and its token, and the command line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bookrag.api.app import create_app
from bookrag.cli import app as cli
from bookrag.config import load_settings
from bookrag.errors import ConfigError
from conftest import ROOT
from fakes.site import FakeSite

FIXTURE = ROOT / "tests" / "fixtures" / "sample-site"
PUBLIC = "https://pocket-weather.example.org"
TOKEN = "s3cret-admin-token"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[FakeSite]:
    served = FakeSite(FIXTURE, tmp_path).start()
    yield served
    served.stop()


def serve(tmp_path: Path, site: FakeSite, **settings: Any) -> TestClient:
    return TestClient(
        create_app(
            load_settings(
                data_dir=tmp_path / "data", book_url=site.url, site_url=PUBLIC, **settings
            )
        )
    )


def settled(client: TestClient, after: str | None = None) -> dict[str, Any]:
    """`/health` once the refresh that started after `after` has finished."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get("/health").json()
        refresh = body["refresh"]
        if refresh["status"] != "running" and refresh["last_finished"] not in (None, after):
            return body
        time.sleep(0.05)
    raise AssertionError("the refresh did not finish")


def test_serve_indexes_the_site_in_the_background_and_cites_its_urls(
    tmp_path: Path, site: FakeSite
) -> None:
    with serve(tmp_path, site) as client:
        health = settled(client)
        assert health["refresh"]["status"] == "ok"
        assert health["index"]["pages"] == 9
        answer = client.post(
            "/chat", json={"question": "How much rain does one tip of the bucket measure?"}
        ).json()
        assert answer["sources"][0].startswith(f"{PUBLIC}/docs/sensors/rain-wind#")


def test_a_password_in_the_sites_url_is_never_shown(tmp_path: Path, site: FakeSite) -> None:
    # A preview behind basic auth: its password was on the public /health and in the
    # re-index reply, while the log already blanked it.
    url = site.url.replace("http://", "http://reader:s3cretPASSWORD@")
    settings = load_settings(
        data_dir=tmp_path / "data", book_url=url, site_url=PUBLIC, admin_token=TOKEN
    )
    with TestClient(create_app(settings)) as client:
        health = settled(client)
        reindex = client.post("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        assert health["index"]["pages"] == 9
        assert health["refresh"]["source"].startswith("http://reader:***@127.0.0.1:")
        assert "s3cretPASSWORD" not in json.dumps(health) + reindex.text


def test_a_site_read_with_a_password_and_no_public_address_is_indexed_and_cited_without_it(
    tmp_path: Path, site: FakeSite
) -> None:
    # The user and password in BOOKRAG_BOOK_URL made its own sitemap's host look foreign
    # ("points at other hosts (127.0.0.1:...)"): nothing was indexed unless BOOKRAG_SITE_URL
    # was set too. Citations then name the address without them.
    sitemap = site.root / "sitemap.xml"  # the site published where it is read from
    site.put("sitemap.xml", sitemap.read_text().replace(PUBLIC, site.url.rstrip("/")))
    url = site.url.replace("http://", "http://reader:s3cretPASSWORD@")
    settings = load_settings(data_dir=tmp_path / "data", book_url=url)
    with TestClient(create_app(settings)) as client:
        health = settled(client)
        answer = client.post(
            "/chat", json={"question": "How much rain does one tip of the bucket measure?"}
        )
    assert health["refresh"]["status"] == "ok" and health["index"]["pages"] == 9
    assert answer.json()["sources"][0].startswith(f"{site.url}docs/sensors/rain-wind#")
    assert "s3cretPASSWORD" not in json.dumps(health) + answer.text


def test_admin_reindex_is_disabled_without_a_token(tmp_path: Path, site: FakeSite) -> None:
    with serve(tmp_path, site) as client:
        settled(client)
        response = client.post("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404
        assert "set BOOKRAG_ADMIN_TOKEN" in response.json()["error"]  # was "Not Found"


def test_admin_reindex_wants_the_token(tmp_path: Path, site: FakeSite) -> None:
    with serve(tmp_path, site, admin_token=TOKEN) as client:
        settled(client)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = client.post("/admin/reindex", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text


def test_admin_reindex_picks_up_a_changed_page(tmp_path: Path, site: FakeSite) -> None:
    with serve(tmp_path, site, admin_token=TOKEN) as client:
        first = settled(client)["refresh"]["last_finished"]
        html = (site.root / "docs/intro.html").read_text()
        site.put("docs/intro.html", html.replace("two weekends", "a fortnight of weekends"))
        time.sleep(1.1)  # a new finishing second, so the next refresh is told apart
        response = client.post("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202 and response.json()["status"] == "started"
        assert response.json()["refresh"]["status"] == "running"  # this one, not the last
        assert response.json()["refresh"]["last_started"] > first  # ... and when it started
        refresh = settled(client, after=first)["refresh"]
        assert refresh["last_changes"]["indexed"] == 1
        found = client.post("/search", json={"query": "fortnight of weekends"}).json()
        assert found["results"][0]["url"].startswith(f"{PUBLIC}/docs/intro")


def test_a_failed_refresh_leaves_the_index_served_and_shows_in_health(
    tmp_path: Path, site: FakeSite
) -> None:
    with serve(tmp_path, site, admin_token=TOKEN) as client:
        first = settled(client)["refresh"]["last_finished"]
        site.remove("sitemap.xml")
        time.sleep(1.1)
        client.post("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        health = settled(client, after=first)
        assert health["status"] == "ok"
        assert health["refresh"]["status"] == "failed"
        assert "no sitemap" in health["refresh"]["error"]
        assert health["index"]["pages"] == 9
        answer = client.post("/chat", json={"question": "How much does the whole build cost?"})
        assert answer.json()["sources"]


def test_cli_ingests_a_site_by_its_url(
    tmp_path: Path, site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "cli-data"))
    result = CliRunner().invoke(cli, ["ingest", site.url, "--site-url", PUBLIC])
    assert result.exit_code == 0, result.output
    assert "pages indexed" in result.output and "│ 9" in result.output
    assert "not a doc page" not in result.output  # the home page: no news


def test_cli_says_in_one_line_when_a_url_is_not_a_docusaurus_site(
    tmp_path: Path, site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "cli-data"))
    site.remove("sitemap.xml")
    result = CliRunner().invoke(cli, ["ingest", site.url])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no sitemap" in lines[0] and "Docusaurus" in lines[0]


def test_admin_reindex_also_refreshes_a_docs_folder(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Alpha\n\nThe anemometer spins.\n")
    settings = load_settings(data_dir=tmp_path / "data", docs_dir=docs, admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        (docs / "b.md").write_text("# Beta\n\nThe barometer falls before a storm.\n")
        response = client.post("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202
        assert settled(client)["index"]["pages"] == 2


def test_reindex_reads_the_docusaurus_config_again_and_a_reordered_sidebar(
    tmp_path: Path, book_copy: Path
) -> None:
    config = book_copy / "docusaurus.config.js"
    settings = load_settings(
        data_dir=tmp_path / "data", docs_dir=book_copy / "docs", admin_token=TOKEN
    )
    with TestClient(create_app(settings)) as client:
        before = client.get("/health").json()
        config.write_text(
            config.read_text().replace("pocket-weather.example.org", "new-host.example.net")
        )
        (book_copy / "sidebars.js").write_text(
            "module.exports = { bookSidebar: ['data/troubleshooting', "
            "{type: 'autogenerated', dirName: '.'}] };\n"
        )
        time.sleep(1.1)  # `last_finished` counts whole seconds
        response = client.post("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202
        health = settled(client, before["refresh"]["last_finished"])
        results = client.post("/search", json={"query": "rain gauge"}).json()["results"]
    assert before["index"]["first_page"]["title"] != "Troubleshooting"
    assert health["index"]["first_page"]["title"] == "Troubleshooting"
    assert results and all(r["url"].startswith("https://new-host.example.net/") for r in results)


def test_book_url_and_docs_dir_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BOOKRAG_BOOK_URL: set either it or BOOKRAG_DOCS_DIR"):
        load_settings(book_url="https://book.example.org/", docs_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"BOOKRAG_BOOK_URL: .*must be an http"):
        load_settings(book_url="book.example.org")
