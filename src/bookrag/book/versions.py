"""Versioned docs: which version of a site's docs a docs folder holds, and the path the site
serves that version under, as `@docusaurus/plugin-content-docs` decides it.

A site with `versions.json` (`["2.0", "1.0"]`) builds `versioned_docs/version-2.0/` and
`versioned_docs/version-1.0/` beside its `docs/` (the version named `current`). The last
version is the first one of `versions.json` (or the docs option `lastVersion`) and is served
at the docs route itself (`/docs/`); `current` is served under `next` (`/docs/next/`), every
other version under its name (`/docs/1.0/`), unless the docs option `versions` gives it a
`path`. `includeCurrentVersion`, `disableVersioning` and `onlyIncludeVersions` say which
versions are built at all. Each version has its own sidebars file,
`versioned_sidebars/version-1.0-sidebars.json`. A docs instance other than the default one
(`id: 'community'`) keeps its versions apart: `community_versions.json`,
`community_versioned_docs/`, `community_versioned_sidebars/`, and its translations in
`i18n/<locale>/docusaurus-plugin-content-docs-community/`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bookrag.book.docs_options import DEFAULT, default_docs_path, reads_folder

log = logging.getLogger("bookrag")

CURRENT = "current"
_VERSIONED = re.compile(r"(?:(.+)_)?versioned_docs")  # `community_versioned_docs`: its id
_TRANSLATED = re.compile(r"docusaurus-plugin-content-docs(?:-(.+))?")
_NESTING = 3  # folders between a docs folder's parent and its site's config, at most


@dataclass(frozen=True)
class DocsFolder:
    """Where a docs folder sits in its site."""

    site: Path  # the site's folder: its config, sidebars and versions.json are there
    locale: str | None = None  # a translation's locale (`i18n/<locale>/...`)
    version: str = CURRENT  # `current` for `docs/`, else the name in versions.json
    # The docs instance the layout names (`community_versioned_docs/` is `community`'s);
    # None for a folder beside the config, which the config's instances' `path` decide.
    plugin: str | None = None

    def sidebars_file(self) -> Path | None:
        """A version's own sidebars file (None for `current`: the docs options say)."""
        if self.version == CURRENT:
            return None
        folder = self.prefixed("versioned_sidebars")
        return self.site / folder / f"version-{self.version}-sidebars.json"

    def prefixed(self, name: str) -> str:
        """A versioning file's name for the folder's docs instance (`community_versions.json`)."""
        return name if self.plugin in (None, DEFAULT) else f"{self.plugin}_{name}"


@dataclass(frozen=True)
class VersionOptions:
    """The docs plugin's options that decide which versions are built and where."""

    last_version: str | None = None
    include_current_version: bool = True
    disable_versioning: bool = False
    only_include_versions: tuple[str, ...] | None = None
    paths: tuple[tuple[str, str], ...] = ()  # (version, path) as the `versions` option gives


def docs_folder(docs_dir: Path) -> DocsFolder:
    """The site, locale, version and docs instance of `docs_dir`: the site's `docs/` (or any
    folder beside its config), `versioned_docs/version-1.0/` (`community_versioned_docs/...`),
    or a translation's `i18n/<locale>/docusaurus-plugin-content-docs/current` (or
    `.../version-1.0`, or `docusaurus-plugin-content-docs-community/...`)."""
    folder = docs_dir.resolve()  # `.` has no parent of its own
    parts = folder.parts
    name = folder.name
    version = name.removeprefix("version-") if name.startswith("version-") else None
    within = "".join(parts[-2:-1])  # the folder it is in
    translated = _TRANSLATED.fullmatch(within)
    if parts[-4:-3] == ("i18n",) and translated and (version or name == CURRENT):
        plugin = translated.group(1) or DEFAULT
        return DocsFolder(folder.parents[3], parts[-3], version or CURRENT, plugin)
    versioned = _VERSIONED.fullmatch(within)
    if version and versioned:
        return DocsFolder(folder.parents[1], None, version, versioned.group(1) or DEFAULT)
    return DocsFolder(_site_of(folder))


def config_file(site: Path) -> Path | None:
    """The site's `docusaurus.config` file, as Docusaurus looks for it (None: it has none)."""
    for extension in ("ts", "mts", "cts", "js", "mjs", "cjs"):  # Docusaurus's order
        found = site / f"docusaurus.config.{extension}"
        if found.is_file():
            return found
    return None


def site_docs(folder: Path) -> Path | None:
    """The docs folder of a Docusaurus site's own folder (the one holding its config): the
    folder its default docs instance reads (`docs`, or its `path`), or None when `folder`
    holds no config. A reader pointing at the site rather than its docs means those."""
    found = config_file(folder)
    if found is None:
        return None
    path = default_docs_path(found.read_text(encoding="utf-8", errors="replace"))
    return folder / (path or "docs")


def _site_of(folder: Path) -> Path:
    """The site folder of a docs folder read by no version or translation: its parent, or,
    where that has no config, the nearest folder above (up to `_NESTING` more) whose config
    has a docs instance read that very folder (`path: 'content/docs'`)."""
    if config_file(folder.parent) is None:
        for site in folder.parents[1 : 1 + _NESTING]:
            found = config_file(site)
            if found is None:
                continue
            named = folder.relative_to(site).as_posix()
            if _names_folder(found, found.stat().st_mtime_ns, named):
                return site
            break  # the nearest config is another site's
    return folder.parent


@lru_cache(maxsize=16)
def _names_folder(config: Path, modified: int, folder: str) -> bool:
    """Whether the `config` file (as last `modified`: an edited config is read again) has a
    docs instance read `folder`. Asked for every page that imports a partial, so read once."""
    return reads_folder(config.read_text(encoding="utf-8", errors="replace"), folder)


def version_path(folder: DocsFolder, options: VersionOptions) -> str:
    """The path of the folder's version under the docs route: "" for the last version (and
    for an unversioned site's docs), `next` for `current`, the version's name for the
    others, or the `path` the options give it."""
    names = [] if options.disable_versioning else _versions_file(folder)
    if options.include_current_version and CURRENT not in names:
        names.insert(0, CURRENT)
    if options.only_include_versions is not None:
        names = [n for n in names if n in options.only_include_versions]
    if folder.version not in names:
        log.warning(
            "the site does not build docs version '%s' (versions.json and the docs options "
            "includeCurrentVersion, disableVersioning, onlyIncludeVersions leave it out): the "
            "pages indexed are not on the site",
            folder.version,
        )
    last = options.last_version or next((n for n in names if n != CURRENT), CURRENT)
    paths = dict(options.paths)
    if folder.version in paths:
        return paths[folder.version]
    if folder.version == last:
        return ""
    return "next" if folder.version == CURRENT else folder.version


def _versions_file(folder: DocsFolder) -> list[str]:
    """The version names of the docs instance's `versions.json`, newest first ([] without)."""
    path = folder.site / folder.prefixed("versions.json")
    if not path.is_file():
        return []
    names: object
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        names = exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        log.warning(
            "%s is not a list of version names (%s): the docs are taken as unversioned",
            path,
            names,
        )
        return []
    return names
