"""The CORS allowlist: origins (scheme, host and port) as browsers send them, normalised from
settings; an entry may name every subdomain of a site (`https://*.vercel.app`: its preview
deployments), matched by `origin_pattern`."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import idna

from bookrag.book.site_config import NO_SITE_ADDRESS, read_site_config
from bookrag.config import Settings, is_http_url

# The book whose chat window speaks this API's contract, and Docusaurus's development server.
ORIGINAL_SITE = "https://humanoid-robotics-textbook-psi.vercel.app"
DEV_SERVER = "http://localhost:3000"


def allowed_origins(settings: Settings, log: logging.Logger) -> list[str]:
    """The CORS allowlist: `ALLOWED_ORIGINS` when it is set (`parse_origins`), else the
    served book's site (its public `BOOKRAG_SITE_URL`, and the `BOOKRAG_BOOK_URL` it is read
    from, else the `url` of the docs folder's `docusaurus.config`), the original book's site
    and the development server."""
    if settings.allowed_origins is not None:
        return parse_origins(settings.allowed_origins, log)
    sites = [s for s in (settings.site_url, settings.book_url) if s]
    if not sites and settings.docs_dir is not None:
        configured = read_site_config(settings.docs_dir).url
        if configured:
            sites = [configured]
        else:
            log.warning("%s; until then CORS lets in no book site", NO_SITE_ADDRESS)
    own = [_origin(site) for site in sites]
    return list(dict.fromkeys(o for o in (*own, ORIGINAL_SITE, DEV_SERVER) if o))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def admit_indexed_site(
    settings: Settings, origins: list[str], page_url: str, log: logging.Logger
) -> None:
    """Let in the site of the book in the index (the origin of `page_url`, one of its pages)
    when the allowlist is the default one: a book indexed by `bookrag ingest` and served
    without --docs names its site nowhere else. With `ALLOWED_ORIGINS` set, only say so."""
    site = _origin(page_url)
    if site is None or site in origins or "*" in origins:
        return
    pattern = origin_pattern(origins)
    if pattern is not None and re.fullmatch(pattern, site):  # a subdomain let in already
        return
    if settings.allowed_origins is None:
        origins.append(site)  # the CORS middleware reads this very list
        log.info("CORS: pages on %s (the indexed book's site) may call this API", site)
    else:
        log.warning("CORS: the indexed book's site %s is not in ALLOWED_ORIGINS", site)


def _origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL as a browser sends it in `Origin`: lower
    case, without credentials or the scheme's default port; None for other URLs."""
    if not is_http_url(url):
        return None
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), str(parts.hostname)
    if ":" in host:  # IPv6
        host = f"[{host}]"
    elif not host.isascii():  # a browser sends an international name in its ASCII form
        try:  # as the URL standard says (UTS 46): `straße.de` is `xn--strae-oqa.de`
            host = ".".join(
                label if label == "*" else idna.encode(label, uts46=True).decode("ascii")
                for label in host.split(".")
            )
        except idna.IDNAError:
            return None
    port = "" if parts.port in (None, _DEFAULT_PORTS[scheme]) else f":{parts.port}"
    return f"{scheme}://{host}{port}"


def parse_origins(value: str, log: logging.Logger) -> list[str]:
    """Split `ALLOWED_ORIGINS` and reduce each entry to `scheme://host[:port]`.

    An entry with a trailing slash or a path is normalised with a warning, since browsers
    send the bare origin and an exact match would otherwise never succeed.
    """
    origins: list[str] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        if entry == "*":
            origins.append(entry)
            continue
        origin = _origin(entry)
        if origin is None:
            log.warning("ALLOWED_ORIGINS: ignoring %r, which is not an http(s) origin", entry)
            continue
        if origin != entry:
            log.warning("ALLOWED_ORIGINS: %r normalised to %r", entry, origin)
        if origin not in origins:
            origins.append(origin)
    return origins


# One DNS label, as a browser sends it: what `*.` stands for in an allowlist entry.
_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


def origin_pattern(origins: list[str]) -> str | None:
    """A regular expression matching the origins that the allowlist's `scheme://*.host`
    entries name (one label in place of `*`), for the CORS middleware; None without any."""
    wild = [o.split("*.", 1) for o in origins if "://*." in o]
    if not wild:
        return None
    return "|".join(f"{re.escape(scheme)}{_LABEL}\\.{re.escape(rest)}" for scheme, rest in wild)
