"""The site facts a book's URLs depend on, read from its `docusaurus.config` file: `url`,
`baseUrl`, `trailingSlash`, and the docs plugin's `routeBasePath`.

The config is JavaScript (or TypeScript) and none of it runs here (`config_text` reads it
as written). The site's settings are read at the top level of the config object only: a
`url` in `customFields` is not the site's, and a `docs: {...}` in `themeConfig` holds no docs
route.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from bookrag.book.config_text import ConfigText, without_comments
from bookrag.config import is_http_url

log = logging.getLogger("bookrag")

_DOCS_PLUGIN = "docusaurus-plugin-content-docs"
_DOCS_PLUGIN_OPTIONS = r"plugin-content-docs['\"]\s*,\s*\{"


@dataclass(frozen=True)
class SiteConfig:
    """The site facts that shape a doc's URL."""

    url: str = ""
    base_url: str = "/"
    route_base_path: str = "docs"
    trailing_slash: bool | None = None

    def page_url(self, slug: str) -> str:
        """The public URL of the doc whose slug is `slug` (always starting with `/`)."""
        parts = [self.base_url, self.route_base_path, slug]
        path = "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))
        base = "/" + self.base_url.strip("/") + "/" if self.base_url.strip("/") else "/"
        if slug.endswith("/") and path != "/":
            path += "/"
        if path + "/" == base or path == base:
            path = base  # Docusaurus never adds or removes the slash of the site root
        elif self.trailing_slash is True and not path.endswith("/"):
            path += "/"
        elif self.trailing_slash is False:
            path = path.rstrip("/")
        return self.url.rstrip("/") + quote(path, safe="/-._~!$&'()*+,;=:@%")


def read_site_config(docs_dir: Path) -> SiteConfig:
    """The site facts of the `docusaurus.config` beside `docs_dir` (Docusaurus's defaults
    where it has none, or says nothing of one). A translation's docs folder
    (`i18n/<locale>/docusaurus-plugin-content-docs/current`) is read with its site's config,
    under the locale's path, as the site publishes it."""
    site, locale = site_folder(docs_dir)
    for extension in ("ts", "mts", "cts", "js", "mjs", "cjs"):  # Docusaurus's order
        config_file = site / f"docusaurus.config.{extension}"
        if config_file.is_file():
            config = parse_site_config(config_file.read_text(encoding="utf-8", errors="replace"))
            break
    else:
        config = SiteConfig()
    if locale is None:
        return config
    log.warning(
        "indexing the %s translation: pages it does not translate are left out (the site shows "
        "them in the default language)",
        locale,
    )
    return replace(config, base_url=f"{config.base_url.rstrip('/')}/{locale}/")


def site_folder(docs_dir: Path) -> tuple[Path, str | None]:
    """The site's folder (its config and sidebars files are there), and the locale when
    `docs_dir` is a translation's (`i18n/<locale>/docusaurus-plugin-content-docs/current`)."""
    folder = docs_dir.resolve()
    parts = folder.parts
    if parts[-4:-3] == ("i18n",) and parts[-2:] == (_DOCS_PLUGIN, "current"):
        return folder.parents[3], parts[-3]
    return folder.parent, None


def parse_site_config(source: str) -> SiteConfig:
    """Pick the URL facts out of the text of a `docusaurus.config` file."""
    config = ConfigText(without_comments(source))
    url = config.setting("url")
    if url is not None and not is_http_url(url):
        url = None
    if url is None and config.has("url"):  # `process.env.SITE_URL`, or not http(s) at all
        log.warning(
            "docusaurus.config's url is not a literal http(s) URL, so citations go without a "
            "host: give --site-url or BOOKRAG_SITE_URL"
        )
    base_url = config.setting("baseUrl")
    if base_url is None and config.has("baseUrl"):
        log.warning(
            "docusaurus.config's baseUrl could not be read without running the config, so "
            "citations assume '/': give --site-url with the base path (https://host/base)"
        )
    trailing = re.search(r"\btrailingSlash\s*:\s*(true|false)", config.top_level())
    route = _docs_route(config)  # "" is the site's root, as Docusaurus reads it
    return SiteConfig(
        url=url or "",
        base_url=base_url or "/",
        route_base_path="docs" if route is None else route,
        trailing_slash=None if trailing is None else trailing.group(1) == "true",
    )


def _docs_route(config: ConfigText) -> str | None:
    """The default docs plugin's `routeBasePath`: in the classic preset's `docs` options,
    else the docs plugin's own (not another docs instance's, one with an `id`), written in
    place or as a constant (`docs: docsOptions`)."""
    preset = [m.end() for m in re.finditer(r"\bdocs\s*:\s*\{", config.code)]
    plugin = [m.end() for m in re.finditer(_DOCS_PLUGIN_OPTIONS, config.source)]
    named = []
    for use in re.finditer(r"\bdocs\s*:\s*(\w+)\s*[,}\n]", config.code):
        declaring = rf"\b(?:const|let|var)\s+{use.group(1)}\b[^=]*=\s*\{{"
        named += [m.end() for m in re.finditer(declaring, config.code)][:1]
    for start in [*preset, *named, *plugin]:
        end = config.closing(start - 1)
        ids = config.keys(("id",), config.code[:end])
        if any(m.start() >= start and config.value_at(m.end()) != "default" for m in ids):
            continue  # another docs instance
        found = config.keys(("routeBasePath",), config.code[:end])
        inside = [m for m in found if m.start() >= start]
        if inside:
            return config.value_at(inside[0].end())
    return None
