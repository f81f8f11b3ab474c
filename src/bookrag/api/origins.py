"""The CORS allowlist: exact origins (scheme, host and port), normalised from settings."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit


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
        parts = urlsplit(entry)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            log.warning("ALLOWED_ORIGINS: ignoring %r, which is not an http(s) origin", entry)
            continue
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        if origin != entry:
            log.warning("ALLOWED_ORIGINS: %r normalised to %r", entry, origin)
        if origin not in origins:
            origins.append(origin)
    return origins
