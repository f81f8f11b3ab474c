"""Doc URLs and heading anchors come out exactly as a Docusaurus site publishes them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import pytest
import yaml

from bookrag.book.docusaurus import (
    Slugger,
    doc_slug,
    load_yaml,
    slugify,
    strip_number_prefix,
)
from bookrag.book.sidebars_file import read_sidebars
from bookrag.book.site_config import SiteConfig, parse_site_config, read_site_config

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


# --- front matter ------------------------------------------------------------------


def test_front_matter_is_read_as_safe_yaml_and_no_more() -> None:
    text = "title: Rain gauge\nsidebar_position: 2\ntags: [weather, rain]\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml(text) == {
        "title": "Rain gauge",
        "sidebar_position": 2,
        "tags": ["weather", "rain"],
    }
    with pytest.raises(yaml.YAMLError):  # no Python objects from a book's files
        load_yaml("title: !!python/object/apply:os.system ['true']\n")


def test_front_matter_booleans_are_yaml_1_2s_as_in_docusaurus() -> None:
    # js-yaml reads `On`, `no` and `Yes` as strings; only true/false are booleans.
    text = "title: On\nsidebar_label: no\nsubtitle: Yes\ndraft: true\nunlisted: FALSE\n"
    assert load_yaml(text) == {
        "title": "On",
        "sidebar_label": "no",
        "subtitle": "Yes",
        "draft": True,
        "unlisted": False,
    }


# --- number prefixes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("01-intro", "intro"),
        ("1-intro", "intro"),
        ("003 - intro", "intro"),
        ("01_intro", "intro"),
        ("01.intro", "intro"),
        ("001--intro", "intro"),
        ("intro", "intro"),
        ("v2-intro", "v2-intro"),
        ("01", "01"),
        # Dates and versions are names, not orderings.
        ("2021-01-31-foo", "2021-01-31-foo"),
        ("2021-01-foo", "2021-01-foo"),
        ("1.2-foo", "1.2-foo"),
        ("7_0-foo", "7_0-foo"),
        # A prefix needs a name after it (Docusaurus: suffix must match `[^-_.\s].*`).
        ("01-", "01-"),
    ],
)
def test_number_prefix_is_stripped_only_where_docusaurus_strips_it(
    name: str, expected: str
) -> None:
    assert strip_number_prefix(name) == expected


# --- doc slugs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "front_matter", "expected"),
    [
        ("intro.md", {}, "/intro"),
        ("01-intro.md", {}, "/intro"),
        ("guides/01-setup.mdx", {}, "/guides/setup"),
        ("01-guides/02-advanced/03-tuning.md", {}, "/guides/advanced/tuning"),
        ("2021-01-31-release.md", {}, "/2021-01-31-release"),
        # Index docs take their folder's URL.
        ("index.md", {}, "/"),
        ("README.md", {}, "/"),
        ("guides/index.md", {}, "/guides/"),
        ("guides/README.md", {}, "/guides/"),
        ("guides/readme.mdx", {}, "/guides/"),
        ("guides/guides.md", {}, "/guides/"),
        ("Guides/guides.md", {}, "/Guides/"),
        ("01-guides/index.md", {}, "/guides/"),
        ("01-guides/01-guides.md", {}, "/guides/"),
        ("01-guides/guides.md", {}, "/guides/guides"),
        ("guides/index.md", {"id": "overview"}, "/guides/"),
        # `slug` front matter: absolute replaces everything, relative resolves from the folder.
        ("guides/setup.md", {"slug": "/install"}, "/install"),
        ("01-guides/setup.md", {"slug": "/"}, "/"),
        ("02-sensors/rain-and-wind.md", {"slug": "rain-wind"}, "/sensors/rain-wind"),
        ("guides/index.md", {"slug": "overview"}, "/guides/overview"),
        ("a/b/doc.md", {"slug": "../top"}, "/a/top"),
        ("a/doc.md", {"slug": "guide/"}, "/a/guide/"),
        # `id` replaces the file name, never the folders; `slug` beats `id`.
        ("guides/01-setup.md", {"id": "install"}, "/guides/install"),
        ("01-guides/02-setup.md", {"id": "install"}, "/guides/install"),
        ("setup.md", {"id": "01-install"}, "/01-install"),
        ("guides/setup.md", {"id": "install", "slug": "begin"}, "/guides/begin"),
    ],
)
def test_doc_slug_matches_docusaurus_routing(
    source: str, front_matter: dict[str, object], expected: str
) -> None:
    assert doc_slug(source, front_matter) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("01-intro.md", "/01-intro"),
        ("01-guides/02-advanced/03-tuning.md", "/01-guides/02-advanced/03-tuning"),
        ("01-guides/01-guides.md", "/01-guides/"),  # its folder's doc, named as the folder
        ("01-guides/guides.md", "/01-guides/guides"),
    ],
)
def test_number_prefixes_stay_in_urls_where_the_config_turns_the_parser_off(
    source: str, expected: str
) -> None:
    # `numberPrefixParser: false` (checked with a docusaurus build): `/docs/01-intro`.
    assert doc_slug(source, {}, number_prefixes=False) == expected


# --- page URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "slug", "expected"),
    [
        (SiteConfig("https://ex.org"), "/intro", "https://ex.org/docs/intro"),
        (SiteConfig("https://ex.org"), "/guides/", "https://ex.org/docs/guides/"),
        (SiteConfig("https://ex.org", "/book/"), "/intro", "https://ex.org/book/docs/intro"),
        (SiteConfig("https://ex.org", "/book"), "/guides/", "https://ex.org/book/docs/guides/"),
        (SiteConfig("https://ex.org/"), "/intro", "https://ex.org/docs/intro"),
        (SiteConfig("https://ex.org", trailing_slash=True), "/intro", "https://ex.org/docs/intro/"),
        (SiteConfig("https://ex.org", trailing_slash=True), "/", "https://ex.org/docs/"),
        (
            SiteConfig("https://ex.org", trailing_slash=False),
            "/guides/",
            "https://ex.org/docs/guides",
        ),
        (SiteConfig("https://ex.org", trailing_slash=False), "/", "https://ex.org/docs"),
        (SiteConfig("https://ex.org", trailing_slash=False), "/intro", "https://ex.org/docs/intro"),
        # Docs-only mode (`routeBasePath: '/'`).
        (SiteConfig("https://ex.org", route_base_path="/"), "/intro", "https://ex.org/intro"),
        (SiteConfig("https://ex.org", route_base_path=""), "/", "https://ex.org/"),
        (
            SiteConfig("https://ex.org", route_base_path="", trailing_slash=False),
            "/",
            "https://ex.org/",
        ),
        # Docusaurus never strips the slash of the baseUrl itself (facebook/docusaurus#5077).
        (
            SiteConfig("https://ex.org", "/book/", route_base_path="/", trailing_slash=False),
            "/",
            "https://ex.org/book/",
        ),
    ],
)
def test_page_url_joins_site_base_route_and_slug(
    site: SiteConfig, slug: str, expected: str
) -> None:
    assert site.page_url(slug) == expected


# --- docusaurus.config -------------------------------------------------------------


def test_site_facts_are_read_from_a_js_config() -> None:
    source = """
    // @ts-check
    /** @type {import('@docusaurus/types').Config} */
    const config = {
      title: 'My Book',
      url: 'https://book.example.org',
      baseUrl: '/handbook/',
      trailingSlash: true,
      presets: [['classic', { docs: { routeBasePath: 'guide', sidebarPath: './sidebars.js' } }]],
    };
    module.exports = config;
    """
    site = parse_site_config(source)
    assert site == SiteConfig(
        "https://book.example.org", "/handbook/", "guide", True, sidebar_path="./sidebars.js"
    )
    assert site.page_url("/intro") == "https://book.example.org/handbook/guide/intro/"


def test_site_facts_are_read_from_a_ts_config_with_any_quotes() -> None:
    source = """
    import type {Config} from '@docusaurus/types';
    const config: Config = {
      url: "https://book.example.org",
      baseUrl: `/`,
      trailingSlash: false,
      presets: [["classic", { docs: { routeBasePath: "/" } }]],
    };
    export default config;
    """
    site = parse_site_config(source)
    assert site == SiteConfig("https://book.example.org", "/", "/", False)
    assert site.page_url("/intro/") == "https://book.example.org/intro"


def test_a_config_url_that_is_not_http_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config("export default { url: 'notaurl', baseUrl: '/x/' };")
    assert site.url == "" and site.page_url("/intro") == "/x/docs/intro"
    assert "not a literal http(s) URL" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config("export default { url: process.env.SITE_URL, baseUrl: '/' };")
    assert site.url == "" and "--site-url" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bookrag"):  # no url at all: no warning
        parse_site_config("export default { title: 'Bare', baseUrl: '/' };")
    assert caplog.text == ""


def test_a_config_url_with_a_query_is_cited_without_it(caplog: pytest.LogCaptureFixture) -> None:
    source = "export default { url: 'https://book.example.org/?utm=x#top', baseUrl: '/b/' };"
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config(source)
    assert site.page_url("/intro") == "https://book.example.org/b/docs/intro"
    assert "?query or #fragment" in caplog.text


def test_a_template_literal_url_is_not_taken_as_written(caplog: pytest.LogCaptureFixture) -> None:
    source = "module.exports = { url: `https://${process.env.SITE_HOST}`, baseUrl: '/' };"
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config(source)
    assert site.url == "" and "--site-url" in caplog.text


def test_a_github_pages_config_built_from_constants_is_read_as_it_builds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = """
    const organizationName = 'robo-lab';
    const projectName = 'robo-book';
    const config = {
      url: `https://${organizationName}.github.io`,
      baseUrl: `/${projectName}/`,
      trailingSlash: false,
      customFields: {url: 'https://api.example.org', baseUrl: '/api/'},
      themeConfig: {docs: {sidebar: {hideable: true}}},
      presets: [['classic', {docs: {routeBasePath: 'learn'}}]],
    };
    export default config;
    """
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config(source)
    assert site == SiteConfig("https://robo-lab.github.io", "/robo-book/", "learn", False)
    assert site.page_url("/motors") == "https://robo-lab.github.io/robo-book/learn/motors"
    assert caplog.text == ""


def test_an_environment_variable_is_read_as_unset_and_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = """module.exports = {
      url: process.env.SITE_URL ?? 'https://book.example.org',
      baseUrl: process.env.BASE_URL || '/robo-book/',
    };"""
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config(source)
    assert (site.url, site.base_url) == ("https://book.example.org", "/robo-book/")
    assert "process.env.BASE_URL" in caplog.text and "--site-url" in caplog.text


@pytest.mark.parametrize(
    ("value", "number_prefixes", "warned"),
    [
        ("false", False, False),
        ("true", True, False),
        ("(name) => ({filename: name, numberPrefix: undefined})", True, True),
        ("stripNothing", True, True),
    ],
    ids=["false", "true", "function", "a name"],
)
def test_the_number_prefix_parser_is_read_where_the_config_states_it_plainly(
    value: str, number_prefixes: bool, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    source = (
        "module.exports = {url: 'https://x.org', presets: [['classic', {docs: "
        f"{{routeBasePath: 'guide', numberPrefixParser: {value}}}}}]]}};"
    )
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config(source)
    assert (site.route_base_path, site.number_prefixes) == ("guide", number_prefixes)
    # A function cannot be run here: Docusaurus's default parser is assumed, and said so.
    assert ("numberPrefixParser" in caplog.text) is warned


def test_a_base_url_that_cannot_be_read_is_said_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = parse_site_config("export default {url: 'https://x.org', baseUrl: base()};")
    assert site.base_url == "/" and "baseUrl" in caplog.text and "--site-url" in caplog.text


@pytest.mark.parametrize(
    "plugins",
    [
        "plugins: [['@docusaurus/plugin-content-docs', {routeBasePath: 'handbook'}]],",
        "presets: [['classic', {docs: docsOptions}]],",
        "plugins: [[require.resolve('@docusaurus/plugin-content-docs'),"
        " {routeBasePath: 'handbook'}]],",
    ],
    ids=["docs plugin", "options in a constant", "plugin by require.resolve"],
)
def test_the_docs_route_is_read_wherever_the_docs_options_are(plugins: str) -> None:
    source = f"""
    const docsOptions = {{sidebarPath: './sidebars.js', routeBasePath: 'handbook'}};
    module.exports = {{
      url: 'https://book.example.org',
      themeConfig: {{docs: {{sidebar: {{hideable: true}}}}}},
      presets: [['classic', {{blog: {{routeBasePath: 'news'}}}}]],
      {plugins}
    }};
    """
    assert parse_site_config(source).route_base_path == "handbook"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (  # another docs instance's route is not the book's
            "module.exports = {url: 'https://x.org', plugins: [['@docusaurus/plugin-content-docs',"
            " {id: 'community', path: 'community', routeBasePath: 'community'}]],"
            " presets: [['classic', {docs: {sidebarPath: './sidebars.js'}}]]};",
            SiteConfig("https://x.org", "/", "docs", sidebar_path="./sidebars.js"),
        ),
        (  # an empty route is the site's root, as Docusaurus reads it
            "module.exports = {url: 'https://x.org', presets: [['classic',"
            " {docs: {routeBasePath: ''}}]]};",
            SiteConfig("https://x.org", "/", ""),
        ),
        (  # a key's name inside a string is no key
            "module.exports = {title: 'Robots: url: a primer', tagline: 'Set baseUrl: right',"
            " url: 'https://x.org', baseUrl: '/b/'};",
            SiteConfig("https://x.org", "/b/"),
        ),
        (  # the config a function returns, beside a module-level object with a title
            "const news = {title: 'News'};\nexport default async function createConfig() {\n"
            "  return {title: 'T', url: 'https://x.org', baseUrl: '/b/', presets: []};\n}",
            SiteConfig("https://x.org", "/b/"),
        ),
        (
            'module.exports = {"url": "https://x.org", "baseUrl": "/q/"};',  # quoted keys
            SiteConfig("https://x.org", "/q/"),
        ),
    ],
    ids=["another docs instance", "empty route", "key in a string", "async config", "quoted"],
)
def test_configs_as_authors_write_them_give_the_built_sites_urls(
    source: str, expected: SiteConfig
) -> None:
    assert parse_site_config(source) == expected


def test_a_base_url_built_by_an_expression_is_not_read_but_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = "const p = 'robo'; module.exports = {url: 'https://x.org', baseUrl: '/' + p + '/'};"
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        assert parse_site_config(source).base_url == "/"
    assert "baseUrl could not be read" in caplog.text


def test_missing_site_facts_keep_docusaurus_defaults() -> None:
    site = parse_site_config("export default { title: 'Bare' };")
    assert site == SiteConfig(url="", base_url="/", route_base_path="docs", trailing_slash=None)


def test_blog_route_does_not_move_the_docs() -> None:
    source = """
    module.exports = {
      url: 'https://book.example.org',
      baseUrl: '/',
      presets: [['classic', {
        docs: { sidebarPath: './sidebars.js' },
        blog: { routeBasePath: 'news', showReadingTime: true },
      }]],
    };
    """
    assert parse_site_config(source).route_base_path == "docs"


def test_commented_out_settings_are_ignored() -> None:
    source = """
    module.exports = {
      // url: 'https://old.example.org',
      url: 'https://book.example.org',
      /* trailingSlash: true, */
    };
    """
    site = parse_site_config(source)
    assert site.url == "https://book.example.org"
    assert site.trailing_slash is None


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("markdown: {format: 'detect', hooks: {onBrokenMarkdownLinks: 'warn'}},", "detect"),
        ('markdown: {mermaid: true, "format": "md"},', "md"),
        ("markdown: {format: 'mdx'},", "mdx"),
        ("markdown: {mermaid: true},", "mdx"),  # not said: MDX, Docusaurus's default
        ("", "mdx"),
        # Another object's `format` is not the site's.
        ("themeConfig: {markdown: {format: 'md'}}, markdown: {hooks: {format: 'md'}},", "mdx"),
    ],
)
def test_the_markdown_format_is_read_from_the_config(markdown: str, expected: str) -> None:
    source = f"module.exports = {{ title: 'Kites', url: 'https://k.example.org', {markdown} }};"
    assert parse_site_config(source).markdown_format == expected


@pytest.mark.parametrize(
    "markdown",
    [
        "markdown: {format: process.env.FORMAT},",
        "markdown: {format: 'commonmark'},",
        "markdown: md,",
    ],
)
def test_a_markdown_format_that_cannot_be_read_is_said_so_and_mdx_assumed(
    markdown: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = f"module.exports = {{ title: 'Kites', url: 'https://k.example.org', {markdown} }};"
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        assert parse_site_config(source).markdown_format == "mdx"
    assert "markdown.format could not be read" in caplog.text


@pytest.mark.parametrize(
    ("site_format", "name", "front_matter", "commonmark"),
    [
        ("detect", "guide/wiring.md", "", True),
        ("detect", "guide/wiring.mdx", "", False),
        ("md", "guide/wiring.mdx", "", True),
        ("mdx", "guide/wiring.md", "", False),
        # A page's own `mdx.format` comes first; its `detect` goes by the extension.
        ("detect", "wiring.md", "mdx:\n  format: mdx\n", False),
        ("mdx", "wiring.md", "mdx: {format: md}\n", True),
        ("md", "wiring.mdx", "mdx: {format: detect}\n", False),
        ("detect", "wiring.md", "title: 'format: mdx'\n", True),  # no `mdx` option
    ],
)
def test_pages_are_parsed_as_commonmark_where_docusaurus_parses_them_so(
    site_format: Literal["mdx", "md", "detect"], name: str, front_matter: str, commonmark: bool
) -> None:
    text = f"---\n{front_matter}---\n\n# Wiring\n" if front_matter else "# Wiring\n"
    assert SiteConfig(markdown_format=site_format).commonmark(name, text) is commonmark


def test_config_beside_the_docs_folder_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docusaurus.config.ts").write_text(
        "export default { url: 'https://ts.example.org', baseUrl: '/b/' };", encoding="utf-8"
    )
    assert read_site_config(tmp_path / "docs") == SiteConfig("https://ts.example.org", "/b/")


@pytest.mark.parametrize("extension", ["mts", "cts", "cjs"])
def test_every_config_file_name_docusaurus_reads_is_read(tmp_path: Path, extension: str) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / f"docusaurus.config.{extension}").write_text(
        "module.exports = { url: 'https://cjs.example.org', baseUrl: '/book/' };"
    )
    assert read_site_config(tmp_path / "docs").url == "https://cjs.example.org"


def test_the_config_is_found_from_inside_the_docs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docusaurus.config.js").write_text("module.exports = { url: 'https://x.org' };")
    monkeypatch.chdir(tmp_path / "docs")
    assert read_site_config(Path(".")).url == "https://x.org"  # `bookrag ingest .`


def test_a_translations_docs_are_read_with_the_sites_config_under_its_locale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "docusaurus.config.js").write_text(
        "module.exports = { url: 'https://i.example.org', baseUrl: '/book/' };"
    )
    docs = tmp_path / "i18n" / "ur" / "docusaurus-plugin-content-docs" / "current"
    docs.mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        site = read_site_config(docs)
    assert site.page_url("/motors") == "https://i.example.org/book/ur/docs/motors"
    assert "ur translation" in caplog.text  # its untranslated pages are not in it


def test_no_config_means_default_site_facts(tmp_path: Path) -> None:
    assert read_site_config(tmp_path / "docs") == SiteConfig()


def versioned_site(tmp_path: Path, options: str, versions: str = '["2.0", "1.0"]') -> Path:
    """A site with `docs/`, `versions.json` and a folder for each of its versions."""
    site = tmp_path / "site"
    for folder in ("docs", "versioned_docs/version-2.0", "versioned_docs/version-1.0"):
        (site / folder).mkdir(parents=True)
    (site / "versions.json").write_text(versions)
    (site / "docusaurus.config.js").write_text(
        "module.exports = {url: 'https://v.example.org', presets: [['classic', "
        f"{{docs: {{sidebarPath: './sidebars.js', {options}}}}}]]}};"
    )
    return site


@pytest.mark.parametrize(
    ("options", "folder", "path"),
    [
        ("", "docs", "/docs/next/motors"),
        ("", "versioned_docs/version-2.0", "/docs/motors"),
        ("", "versioned_docs/version-1.0", "/docs/1.0/motors"),
        ("lastVersion: 'current'", "docs", "/docs/motors"),
        ("lastVersion: 'current'", "versioned_docs/version-2.0", "/docs/2.0/motors"),
        ("versions: {current: {label: 'Dev', path: 'dev'}}", "docs", "/docs/dev/motors"),
        (
            "versions: {'1.0': {path: 'old', banner: 'none'}}",
            "versioned_docs/version-1.0",
            "/docs/old/motors",
        ),
        (
            "routeBasePath: '/', versions: {'2.0': {path: 'stable'}}",
            "versioned_docs/version-2.0",
            "/stable/motors",
        ),
        ("routeBasePath: '/'", "versioned_docs/version-1.0", "/1.0/motors"),
        ("includeCurrentVersion: false", "versioned_docs/version-2.0", "/docs/motors"),
        ("disableVersioning: true", "docs", "/docs/motors"),
        ("onlyIncludeVersions: ['current', '1.0']", "versioned_docs/version-1.0", "/docs/motors"),
    ],
)
def test_a_versioned_sites_docs_folders_are_cited_under_their_versions_paths(
    tmp_path: Path, options: str, folder: str, path: str
) -> None:
    # As docusaurus builds them: `docs/` is the version `current`, served under `next`; the
    # last version (first in versions.json, or `lastVersion`) at the docs route itself.
    site = read_site_config(versioned_site(tmp_path, options) / folder)
    assert site.page_url("/motors") == "https://v.example.org" + path


def test_an_unversioned_sites_current_docs_may_have_a_path_of_their_own(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docusaurus.config.js").write_text(
        "module.exports = {presets: [['classic', {docs: {versions: {current: {path: 'v1'}}}}]]};"
    )
    assert read_site_config(tmp_path / "docs").page_url("/motors") == "/docs/v1/motors"


def test_a_translation_of_a_docs_version_is_under_its_locale_and_version(tmp_path: Path) -> None:
    site = versioned_site(tmp_path, "")
    docs = site / "i18n" / "ur" / "docusaurus-plugin-content-docs" / "version-1.0"
    docs.mkdir(parents=True)
    assert read_site_config(docs).page_url("/motors") == "https://v.example.org/ur/docs/1.0/motors"
    current = docs.parent / "current"
    current.mkdir()
    assert (
        read_site_config(current).page_url("/motors") == "https://v.example.org/ur/docs/next/motors"
    )


# A site with two docs instances: the preset's (the default, at the site's root, number
# prefixes kept) and a `workshop` instance of its own, each with a sidebars file elsewhere.
TWO_INSTANCES = """
module.exports = {
  url: 'https://gauges.example.org',
  presets: [['classic', {
    docs: {routeBasePath: '/', numberPrefixParser: false, sidebarPath: './nav/main.js'},
  }]],
  plugins: [
    ['@docusaurus/plugin-content-docs', {
      id: 'workshop',
      path: 'workshop',
      routeBasePath: 'workshop',
      sidebarPath: './nav/workshop.js',
      sidebarItemsGenerator: async ({defaultSidebarItemsGenerator, ...args}) =>
        [{type: 'doc', id: 'index'}, ...(await defaultSidebarItemsGenerator(args))],
    }],
    ['@docusaurus/plugin-content-docs', {id: 'api', path: 'reference'}],
  ],
};
"""


def two_instance_site(tmp_path: Path) -> Path:
    for folder in ("docs", "workshop", "reference", "drafts"):
        (tmp_path / folder).mkdir()
    (tmp_path / "docusaurus.config.js").write_text(TWO_INSTANCES)
    return tmp_path


@pytest.mark.parametrize(
    ("folder", "url", "sidebar"),
    [
        ("docs", "https://gauges.example.org/03-gauge", "./nav/main.js"),
        ("workshop", "https://gauges.example.org/workshop/gauge", "./nav/workshop.js"),
        # An instance that gives no route is under `docs`, as Docusaurus defaults every
        # instance's routeBasePath; naming no sidebars file, its sidebar is autogenerated.
        ("reference", "https://gauges.example.org/docs/gauge", False),
        # A folder no instance reads keeps the default instance's facts.
        ("drafts", "https://gauges.example.org/03-gauge", "./nav/main.js"),
    ],
)
def test_each_docs_instances_folder_is_cited_under_that_instances_route(
    tmp_path: Path, folder: str, url: str, sidebar: str | bool
) -> None:
    site = read_site_config(two_instance_site(tmp_path) / folder)
    assert site.page_url(doc_slug("03-gauge.md", {}, site.number_prefixes)) == url
    assert site.sidebar_path == sidebar


def test_another_docs_instance_has_its_own_versions_and_translations(tmp_path: Path) -> None:
    site = two_instance_site(tmp_path)
    (site / "workshop_versions.json").write_text('["1.0"]')
    (site / "workshop_versioned_docs" / "version-1.0").mkdir(parents=True)
    translated = site / "i18n" / "cy" / "docusaurus-plugin-content-docs-workshop" / "current"
    translated.mkdir(parents=True)
    cited = {
        "workshop": "/workshop/next/gauge",
        "workshop_versioned_docs/version-1.0": "/workshop/gauge",
        "i18n/cy/docusaurus-plugin-content-docs-workshop/current": "/cy/workshop/next/gauge",
        "docs": "/gauge",  # the workshop's versions are not the default instance's
    }
    for folder, path in cited.items():
        assert (
            read_site_config(site / folder).page_url("/gauge")
            == "https://gauges.example.org" + path
        )


# A site whose docs instances read folders nested below its config's folder.
NESTED = """
module.exports = {
  url: 'https://gauges.example.org',
  presets: [['classic', {docs: {path: 'content/docs', sidebarPath: './nav.json'}}]],
  plugins: [
    ['@docusaurus/plugin-content-docs',
     {id: 'lab', path: './content/lab/notes/', routeBasePath: 'lab'}],
  ],
};
"""


@pytest.mark.parametrize(
    ("folder", "url"),
    [
        ("content/docs", "https://gauges.example.org/docs/gauge"),
        ("content/lab/notes", "https://gauges.example.org/lab/gauge"),
        # A folder no instance reads is not this site's: read with no config, as before.
        ("content/drafts", "/docs/gauge"),
    ],
)
def test_a_docs_folder_nested_below_its_sites_config_is_read_with_it(
    tmp_path: Path, folder: str, url: str
) -> None:
    # The config was looked for beside the folder only: `path: 'content/docs'` was cited
    # without the site's host, under the default route, and with no sidebars file.
    (tmp_path / "docusaurus.config.js").write_text(NESTED)
    (tmp_path / "nav.json").write_text('{"book": ["gauge", "wiring"]}')
    (tmp_path / folder).mkdir(parents=True)
    site = read_site_config(tmp_path / folder)
    assert site.page_url("/gauge") == url
    sidebars = read_sidebars(tmp_path / folder, site.sidebar_path)
    assert sidebars == ({"book": ["gauge", "wiring"]} if folder == "content/docs" else None)


def test_a_docs_folder_of_an_instance_the_config_does_not_declare_is_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = two_instance_site(tmp_path)
    (site / "lab_versioned_docs" / "version-2.0").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        read_site_config(site / "lab_versioned_docs" / "version-2.0")
    assert "no docs plugin with id 'lab'" in caplog.text


@pytest.mark.parametrize(
    ("written", "sidebar", "warned"),
    [
        ("sidebarPath: './config/sidebars.js'", "./config/sidebars.js", False),
        ("sidebarPath: require.resolve('./sidebars.js')", "./sidebars.js", False),
        ("sidebarPath: false", False, False),
        ("sidebarPath: undefined", None, False),
        ("sidebarPath: SIDEBARS", None, True),
        ("routeBasePath: 'docs'", None, False),
    ],
)
def test_the_sidebars_file_is_read_as_the_docs_options_name_it(
    written: str, sidebar: str | bool | None, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    source = f"module.exports = {{presets: [['classic', {{docs: {{{written}}}}}]]}};"
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        assert parse_site_config(source).sidebar_path == sidebar
    assert ("sidebarPath" in caplog.text) is warned


@pytest.mark.parametrize(
    ("options", "versions", "folder", "said"),
    [
        ("lastVersion: process.env.LAST", '["2.0", "1.0"]', "docs", "lastVersion"),
        ("versions: versionOptions", '["2.0", "1.0"]', "docs", "versions"),
        ("versions: {current: currentOptions}", '["2.0", "1.0"]', "docs", "versions.current"),
        ("onlyIncludeVersions: VERSIONS", '["2.0", "1.0"]', "docs", "onlyIncludeVersions"),
        ("includeCurrentVersion: !isRelease", '["2.0", "1.0"]', "docs", "includeCurrentVersion"),
        ("", '{"latest": "2.0"}', "docs", "versions.json"),
        ("onlyIncludeVersions: ['2.0']", '["2.0", "1.0"]', "docs", "does not build"),
    ],
    ids=[
        "env",
        "constant",
        "version constant",
        "list constant",
        "expression",
        "bad json",
        "left out",
    ],
)
def test_version_facts_that_cannot_be_read_are_said_so(
    tmp_path: Path,
    options: str,
    versions: str,
    folder: str,
    said: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bookrag"):
        read_site_config(versioned_site(tmp_path, options, versions) / folder)
    assert said in caplog.text


@pytest.mark.parametrize(
    ("config", "expected", "doc_url"),
    [
        (
            "humanoid-textbook/my-website/docusaurus.config.ts",
            SiteConfig("https://humanoid-robotics-textbook-psi.vercel.app", "/", "docs", None),
            "https://humanoid-robotics-textbook-psi.vercel.app/docs/intro",
        ),
        (
            "agent-factory/apps/learn-app/docusaurus.config.ts",
            SiteConfig("https://agentfactory.panaversity.org", "/", "docs", False),
            "https://agentfactory.panaversity.org/docs/intro",
        ),
        (
            "robotics-course/website/docusaurus.config.js",
            SiteConfig(
                "https://abduIIahKhaIid.github.io", "/physical-ai-robotics-textbook/", "docs", False
            ),
            "https://abduIIahKhaIid.github.io/physical-ai-robotics-textbook/docs/intro",
        ),
    ],
)
def test_real_book_configs_give_their_published_urls(
    config: str, expected: SiteConfig, doc_url: str
) -> None:
    path = CORPUS / config
    if not path.is_file():
        pytest.skip("the shared corpus is not on this machine")
    site = parse_site_config(path.read_text(encoding="utf-8"))
    assert site == expected
    assert site.page_url("/intro") == doc_url


# --- heading anchors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Hello World", "hello-world"),
        ("Getting Started", "getting-started"),
        ("What's new?", "whats-new"),
        ("Step 1: Install", "step-1-install"),
        ("v2.0 Release", "v20-release"),
        ("Foo & Bar", "foo--bar"),
        ("C++ / C#", "c--c"),
        ("snake_case and kebab-case", "snake_case-and-kebab-case"),
        ("Emoji 🚀 launch", "emoji--launch"),
        ("Über Café", "über-café"),
        ("日本語 ガイド", "日本語-ガイド"),
        ("Привет мир", "привет-мир"),
        ("Area in m²", "area-in-m"),  # numbers that are not digits go
        ("Half ½ measure", "half--measure"),
        ("ⓐ circled option", "ⓐ-circled-option"),  # circled letters stay
    ],
)
def test_anchor_follows_github_slugger(heading: str, anchor: str) -> None:
    assert slugify(heading) == anchor


def test_repeated_headings_are_numbered_in_order() -> None:
    slugger = Slugger()
    assert [slugger.slug(h) for h in ["Setup", "Setup", "Other", "Setup"]] == [
        "setup",
        "setup-1",
        "other",
        "setup-2",
    ]


def test_numbered_anchor_skips_one_a_heading_already_took() -> None:
    slugger = Slugger()
    assert [slugger.slug(h) for h in ["Setup 1", "Setup", "Setup", "Setup 1"]] == [
        "setup-1",
        "setup",
        "setup-2",
        "setup-1-1",
    ]
