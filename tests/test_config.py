"""Settings: fail fast with one line per problem, never print a secret; CORS allowlist."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bookrag.api.app import create_app
from bookrag.api.origins import parse_origins
from bookrag.cli import app as cli
from bookrag.config import Settings, load_settings
from bookrag.errors import ConfigError, StoreUnavailable
from bookrag.index.connection import open_store

ROOT = Path(__file__).resolve().parent.parent
SENTINEL = "sk-SENTINEL-do-not-print-0123456789"
BOOK_SITE = "https://humanoid-robotics-textbook-psi.vercel.app"


def run_serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`bookrag serve` as the container runs it, with only `env` set."""
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BOOKRAG_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "bookrag", "serve", "--port", "1"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"BOOKRAG_CHUNK_TOKENS": "lots"}, "BOOKRAG_CHUNK_TOKENS"),
        ({"QDRANT_URL": "not a url"}, "QDRANT_URL"),
        ({"QDRANT_URL": f"http://user:{SENTINEL}@qdrant:99999"}, "QDRANT_URL"),
        ({"QDRANT_URL": "http://[::1"}, "QDRANT_URL"),
        ({"OPENAI_BASE_URL": "http://models:abc"}, "OPENAI_BASE_URL"),
        ({"DATABASE_URL": f"postgresql://u:{SENTINEL}@db:abc/answers"}, "DATABASE_URL"),
        ({"QDRANT_URL": "https://abc.eu-central-1-0.aws.cloud.qdrant.io"}, "QDRANT_API_KEY"),
        ({"BOOKRAG_ENV": "staging"}, "BOOKRAG_ENV"),
        ({"BOOKRAG_ENV": "production"}, "COHERE_API_KEY"),
        ({"ALLOWED_ORIGINS": "https://ok.example, not-an-origin"}, "ALLOWED_ORIGINS"),
        ({"BOOKRAG_RETRY_BUDGET": "-1"}, "BOOKRAG_RETRY_BUDGET"),
        ({"BOOKRAG_UPSTREAM_TIMEOUT": "inf"}, "BOOKRAG_UPSTREAM_TIMEOUT"),
        ({"BOOKRAG_QUEUE_WAIT": "nan"}, "BOOKRAG_QUEUE_WAIT"),
        ({"COLLECTION_NAME": "../outside"}, "COLLECTION_NAME"),
        ({"COLLECTION_NAME": "/tmp/elsewhere"}, "COLLECTION_NAME"),
        ({"BOOKRAG_REFRESH_MINUTES": "0.01"}, "BOOKRAG_REFRESH_MINUTES"),
        ({"BOOKRAG_DATA_DIR": "x" * 300}, "BOOKRAG_DATA_DIR"),
        ({"BOOKRAG_SITE_URL": "https://x.org/b?q=1#f"}, "BOOKRAG_SITE_URL"),
        ({"BOOKRAG_BOOK_URL": "https://x.org/#top"}, "BOOKRAG_BOOK_URL"),
        ({"BOOKRAG_ROUTE_BASE_PATH": "https://evil"}, "BOOKRAG_ROUTE_BASE_PATH"),
        ({"COHERE_BASE_URL": "https://api.cohere.com/?k=1"}, "COHERE_BASE_URL"),
    ],
)
def test_bad_settings_stop_start_up_with_one_line_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    result = run_serve({**env, "QDRANT_API_KEY_UNUSED": SENTINEL}, tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr and SENTINEL not in result.stderr
    if variable in env and variable not in ("ALLOWED_ORIGINS", "BOOKRAG_ENV"):
        assert env[variable] not in result.stderr  # a malformed value is named, not shown


def test_a_data_dir_that_cannot_be_a_folder_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    result = run_serve({"BOOKRAG_DATA_DIR": str(a_file)}, tmp_path)
    assert result.returncode == 2
    assert "BOOKRAG_DATA_DIR: " in result.stderr and "Traceback" not in result.stderr
    under_a_file = load_settings(data_dir=a_file / "data")  # cannot be made: it says where
    with pytest.raises(StoreUnavailable, match="BOOKRAG_DATA_DIR"):
        open_store(under_a_file)


def test_several_problems_are_each_reported(tmp_path: Path) -> None:
    result = run_serve(
        {
            "BOOKRAG_ENV": "production",
            "QDRANT_URL": "https://abc.cloud.qdrant.io",
            "COHERE_API_KEY": "",
        },
        tmp_path,
    )
    assert result.returncode == 2
    assert "QDRANT_API_KEY" in result.stderr and "COHERE_API_KEY" in result.stderr


def test_malformed_secret_value_is_never_echoed(tmp_path: Path) -> None:
    result = run_serve({"BOOKRAG_MAX_QUESTION_CHARS": SENTINEL}, tmp_path)
    assert result.returncode == 2
    assert "BOOKRAG_MAX_QUESTION_CHARS" in result.stderr
    assert SENTINEL not in result.stderr + result.stdout


def test_production_without_qdrant_url_is_allowed_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        env="production",
        cohere_api_key=SENTINEL,
        data_dir=tmp_path / "d",
        cohere_base_url="http://127.0.0.1:9",
    )
    with caplog.at_level(logging.INFO), TestClient(create_app(settings)):
        pass
    assert any("embedded index at" in r.getMessage() for r in caplog.records)
    assert not any("container" in r.getMessage() for r in caplog.records)  # none here


def test_secrets_stay_out_of_repr_and_dumps() -> None:
    settings = load_settings(
        cohere_api_key=SENTINEL, qdrant_api_key=SENTINEL, openai_api_key=SENTINEL
    )
    assert SENTINEL not in repr(settings)
    assert SENTINEL not in str(settings.model_dump())
    assert settings.cohere_api_key is not None
    assert settings.cohere_api_key.get_secret_value() == SENTINEL


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("COLLECTION_NAME=from-dotenv\nBOOKRAG_CHUNK_TOKENS=200\n")
    settings = load_settings()
    assert settings.collection_name == "from-dotenv" and settings.chunk_tokens == 200
    (tmp_path / ".env").write_bytes(b"COLLECTION_NAME=caf\xe9\n")  # Latin-1, not UTF-8
    with pytest.raises(ConfigError, match=r"\.env: not UTF-8"):
        load_settings()


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("site_url", "https://x.org/b?q=1#f", "site's address, scheme and host"),
        ("site_url", "https://x.org/b?", "without a ?query or #fragment"),
        ("book_url", "https://x.org/#top", "without a ?query or #fragment"),
        ("openai_base_url", "http://models:8080/v1?k=1", "the client adds its paths after it"),
    ],
)
def test_an_address_that_would_garble_citations_or_calls_is_refused(
    setting: str, value: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_settings(**{setting: value})


def test_addresses_that_work_are_kept() -> None:
    settings = load_settings(
        site_url="https://x.org/kb/",
        book_url="http://localhost:3000/kb",
        qdrant_url="http://qdrant:6333/?unused=1",  # the Qdrant client ignores a query
        cohere_base_url="http://127.0.0.1:7931/compat/",
    )
    assert (settings.site_url, settings.qdrant_url) == (
        "https://x.org/kb/",
        "http://qdrant:6333/?unused=1",
    )


@pytest.mark.parametrize(
    ("route", "said"),
    [
        ("https://evil", "not a URL"),
        ("//evil.example/docs", "not a URL"),
        ("docs?v=2", "without a ?query or #fragment"),
        ("docs#top", "without a ?query or #fragment"),
        ("docs/../../etc", "without a .. segment"),
        ("my docs", "without spaces or control characters"),
        ("docs\x1b[2J", "without spaces or control characters"),
    ],
)
def test_a_route_base_path_that_is_no_path_on_the_site_is_refused(route: str, said: str) -> None:
    # It is in every citation's path: `https://site/kb/https://evil/basics/my-first/`.
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_settings(route_base_path=route)


@pytest.mark.parametrize("route", ["docs", "/", "", "guide/v2", "/docs/", "v1..2", "документы"])
def test_route_base_paths_docusaurus_takes_are_kept(route: str) -> None:
    assert load_settings(route_base_path=route).route_base_path == route


def test_a_blank_admin_token_leaves_the_admin_routes_off() -> None:
    assert load_settings(admin_token="   ").admin_token is None
    padded = load_settings(admin_token=" s3cret ").admin_token
    assert padded is not None and padded.get_secret_value() == "s3cret"  # as it is compared


def test_every_setting_is_documented_in_the_readme_and_env_example() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^# ?([A-Z_]+)=|^([A-Z_]+)=", example, re.M))
    names = {a or b for a, b in documented}
    for field in Settings.model_fields.values():
        variable = str(field.validation_alias.choices[0])  # type: ignore[union-attr]
        assert f"`{variable}`" in readme, variable
        assert variable in names, variable


# -- CORS ----------------------------------------------------------------------------------


def test_origins_are_normalised_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test")
    with caplog.at_level(logging.WARNING):
        origins = parse_origins(
            "https://Book.Example.org/, http://localhost:3000/docs, HTTPS://site.example:443, "
            "http://[::1]:80, https://user:pw@other.example:8443",
            log,
        )
    assert origins == [
        "https://book.example.org",
        "http://localhost:3000",
        "https://site.example",  # browsers leave the default port out of `Origin`
        "http://[::1]",
        "https://other.example:8443",
    ]
    assert len(caplog.records) == 5


def preflight(client: TestClient, origin: str) -> dict[str, str]:
    response = client.options(
        "/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    return {k.lower(): v for k, v in response.headers.items()} | {
        "status": str(response.status_code)
    }


def test_preflight_succeeds_for_allowed_origins_only(client: TestClient) -> None:
    allowed = preflight(client, BOOK_SITE)
    assert allowed["status"] == "200"
    assert allowed["access-control-allow-origin"] == BOOK_SITE
    assert allowed["access-control-allow-credentials"] == "true"
    assert preflight(client, "http://localhost:3000")["access-control-allow-origin"] == (
        "http://localhost:3000"
    )
    for other in (
        "https://evil.example",
        "http://localhost:3001",
        BOOK_SITE.replace("https", "http"),
    ):
        refused = preflight(client, other)
        assert "access-control-allow-origin" not in refused, other


def test_unset_allowed_origins_let_in_the_served_books_own_site(
    client: TestClient, tmp_path: Path
) -> None:
    # The sample book's docusaurus.config says its site is pocket-weather.example.org.
    own = preflight(client, "https://pocket-weather.example.org")
    assert own["access-control-allow-origin"] == "https://pocket-weather.example.org"
    # A book read from its published site: that site, wherever its docs live on it.
    settings = load_settings(
        data_dir=tmp_path / "w", book_url="https://Notes.example.net/course/", feedback=False
    )
    with TestClient(create_app(settings)) as remote:
        allowed = preflight(remote, "https://notes.example.net")
        assert allowed["access-control-allow-origin"] == "https://notes.example.net"
        assert "access-control-allow-origin" not in preflight(
            remote, "https://pocket-weather.example.org"
        )
    # Read from a preview or a local build, published at BOOKRAG_SITE_URL: the public site
    # too, from the first start (it was let in only once a restart found it in the index).
    public = "https://weather.example.com"
    settings = load_settings(
        data_dir=tmp_path / "p", book_url="http://localhost:1/", site_url=public, feedback=False
    )
    with TestClient(create_app(settings)) as previewed:
        assert preflight(previewed, public)["access-control-allow-origin"] == public


def test_a_docs_folder_that_names_no_site_is_warned_of(
    tmp_path: Path, sample_docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Docs copied without their docusaurus.config: every citation was a bare path, silently.
    docs = tmp_path / "only" / "docs"
    shutil.copytree(sample_docs, docs)
    settings = load_settings(data_dir=tmp_path / "data", docs_dir=docs, feedback=False)
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)) as client:
        body = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
    assert body["sources"][0].startswith("/docs/")
    assert "set BOOKRAG_SITE_URL" in caplog.text


def test_a_book_indexed_beforehand_lets_in_its_own_site(
    tmp_path: Path, sample_docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `bookrag ingest` then `bookrag serve` without --docs: the index alone names the site.
    result = CliRunner().invoke(
        cli, ["ingest", str(sample_docs)], env={"BOOKRAG_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.exit_code == 0, result.output
    site = "https://pocket-weather.example.org"
    served = load_settings(data_dir=tmp_path / "data", feedback=False)
    with TestClient(create_app(served)) as client:
        assert preflight(client, site)["access-control-allow-origin"] == site
    listed = load_settings(
        data_dir=tmp_path / "data", feedback=False, allowed_origins="https://other.example"
    )
    with caplog.at_level(logging.WARNING), TestClient(create_app(listed)) as client:
        assert "access-control-allow-origin" not in preflight(client, site)
    assert f"{site} is not in ALLOWED_ORIGINS" in caplog.text
    caplog.clear()
    wild = load_settings(
        data_dir=tmp_path / "data", feedback=False, allowed_origins="https://*.example.org"
    )
    with caplog.at_level(logging.WARNING), TestClient(create_app(wild)) as client:
        assert preflight(client, site)["access-control-allow-origin"] == site
    assert "not in ALLOWED_ORIGINS" not in caplog.text  # the wildcard lets it in


def test_simple_request_from_another_origin_gets_no_allow_origin(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in {k.lower() for k in response.headers}
    ok = client.get("/health", headers={"Origin": BOOK_SITE})
    assert ok.headers["access-control-allow-origin"] == BOOK_SITE


def test_wildcard_origin_never_allows_credentials(tmp_path: Path, sample_docs: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "w", allowed_origins="*")
    with TestClient(create_app(settings)) as client:
        headers = preflight(client, "https://anyone.example")
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers


def test_an_origin_may_name_every_subdomain_of_a_site_and_an_international_name(
    tmp_path: Path, sample_docs: Path
) -> None:
    allowed = "https://*.vercel.app, https://bücher.example, https://straße.example"
    settings = load_settings(data_dir=tmp_path / "w", allowed_origins=allowed)
    with TestClient(create_app(settings)) as client:
        # A preview deployment, and the name as a browser sends it (its ASCII form).
        for origin in (
            "https://my-book-git-draft.vercel.app",
            "https://xn--bcher-kva.example",
            "https://xn--strae-oqa.example",  # the URL standard's form (UTS 46), not strasse
        ):
            assert preflight(client, origin)["access-control-allow-origin"] == origin
        for other in (
            "https://vercel.app",
            "https://a.b.vercel.app",
            "http://my-book.vercel.app",
            "https://my-book.vercel.app.evil.example",
            "https://evilvercel.app",
        ):
            assert "access-control-allow-origin" not in preflight(client, other), other


@pytest.mark.parametrize("entry", ["https://book-*.vercel.app", "https://*.app", "https://a.*.org"])
def test_a_wildcard_origin_that_is_not_a_subdomain_is_refused(entry: str) -> None:
    with pytest.raises(ConfigError, match=r"a \* may only stand for a subdomain"):
        load_settings(allowed_origins=f"https://ok.example, {entry}")


def test_readme_lists_every_cli_command() -> None:
    from typer.main import get_command

    from bookrag.cli import app

    readme = (ROOT / "README.md").read_text()
    commands = get_command(app).commands  # type: ignore[attr-defined]
    assert commands
    for name in commands:
        assert f"`bookrag {name}" in readme, name


def test_a_serve_setting_in_the_environment_stops_no_other_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Space's `.env` for `serve --book-url` also set BOOKRAG_REFRESH_MINUTES: `report`,
    # `ingest` and `ask` refused to start ("needs BOOKRAG_BOOK_URL").
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BOOKRAG_REFRESH_MINUTES", "60")
    searched = CliRunner().invoke(cli, ["search", "rain gauge"])
    assert "BOOKRAG_REFRESH_MINUTES" not in searched.output and searched.exit_code != 2


def test_a_serve_flag_names_the_book_whichever_book_the_environment_names(
    tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from bookrag.api import app as app_module
    from bookrag.api import observability

    served: list[Settings] = []
    monkeypatch.setattr(app_module, "create_app", served.append)
    # No console logging set up for the rest of the run: its handler would write to this
    # runner's captured stderr, closed once the command ends, on every later request.
    monkeypatch.setattr(observability, "log_to_console", lambda: None)
    ran: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: ran.append(kwargs))
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    site = "http://127.0.0.1:1/"

    monkeypatch.setenv("BOOKRAG_DOCS_DIR", str(sample_docs))
    by_url = runner.invoke(cli, ["serve", "--book-url", site])
    monkeypatch.delenv("BOOKRAG_DOCS_DIR")
    monkeypatch.setenv("BOOKRAG_BOOK_URL", site)
    monkeypatch.setenv("BOOKRAG_REFRESH_MINUTES", "5")
    by_docs = runner.invoke(cli, ["serve", "--docs", str(sample_docs)])
    both = runner.invoke(cli, ["serve", "--docs", str(sample_docs), "--book-url", site])

    assert by_url.exit_code == 0 and by_docs.exit_code == 0, by_url.output + by_docs.output
    assert (served[0].book_url, served[0].docs_dir) == (site, None)
    assert (served[1].docs_dir, served[1].book_url) == (sample_docs, None)
    assert served[1].refresh_minutes == 0  # nothing to refresh from a folder
    assert both.exit_code == 2 and "not both" in both.output and len(served) == 2
    # X-Forwarded-For is bookrag's to trust (BOOKRAG_TRUSTED_PROXIES), never uvicorn's.
    assert [kwargs["proxy_headers"] for kwargs in ran] == [False, False]


ROUTE = "Value error, must be a path on the site such as docs, / or guide/v2, not a URL"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["ingest", "docs", "--site-url", "not-a-url"], "--site-url: "),
        (["ingest", "docs", "--site-url", "https://x.org/b?q=1#f"], "without a ?query or #frag"),
        (["ingest", "https://x.org/b?q=1"], "BOOK: must be the site's address, scheme"),
        (["ingest", "https://x.org/b/#intro"], "without a ?query or #fragment"),
        (["ingest", "docs", "--route-base-path", "https://evil"], "--route-base-path: " + ROUTE),
        (["ingest", "docs", "--route-base-path", "../up"], "guide/v2, without a .. segment"),
        (["search", ""], "QUERY: give 1 to"),
        (["search", "x" * 5000], "QUERY: give 1 to"),
        (["check-deploy", "not-a-url"], "URL: not an http(s) URL"),
        (["check-deploy", "http://127.0.0.1:1", "--origin", "book"], "--origin: not an http"),
    ],
    ids=[
        "site url",
        "site url with a query",
        "book url with a query",
        "book url with a fragment",
        "route base path a URL",
        "route base path leading up",
        "blank query",
        "huge query",
        "deploy url",
        "deploy origin",
    ],
)
def test_a_bad_flag_is_a_usage_error_naming_the_flag(
    args: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BOOKRAG_SITE_URL", "https://env.example")  # the flag is what is wrong
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert said in result.output and "BOOKRAG_" not in result.output
    assert "Traceback" not in result.output and not (tmp_path / "data").exists()
