"""Fetch a site's pages politely: robots.txt (its rules, and its `Crawl-delay` or
`Request-rate` as the least time between requests), a `User-Agent` naming bookrag, a bounded
number of requests at a time, retries with backoff on 429/5xx, redirects followed only
within the site's host, and a size cap on every body."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from bookrag import __version__
from bookrag.config import Settings
from bookrag.errors import SiteError

USER_AGENT = f"bookrag/{__version__} (indexes this book for its reading assistant)"
ROBOTS_AGENT = "bookrag"
log = logging.getLogger("bookrag.site")
_RETRIED = {429, 500, 502, 503, 504}
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class CrawlLimits:
    """How hard a crawl may push a site, and how much it accepts."""

    concurrency: int = 4
    max_pages: int = 5000
    max_page_bytes: int = 5_000_000
    max_sitemap_bytes: int = 50_000_000  # the sitemap protocol's own limit, uncompressed
    timeout: float = 20.0
    attempts: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    max_retry_after: float = 30.0  # the longest wait a site may ask for, per retry or request

    @classmethod
    def of(cls, settings: Settings) -> CrawlLimits:
        """The limits the settings ask for."""
        return cls(
            concurrency=settings.crawl_concurrency,
            max_pages=settings.crawl_max_pages,
            max_page_bytes=settings.crawl_max_page_bytes,
        )


@dataclass(frozen=True)
class Fetched:
    """A response worth reading: 200 with its body, or 304 (unchanged since last time)."""

    url: str
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str


class FetchFailed(Exception):
    """A page that could not be fetched; the message says why, in a few words."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status  # the HTTP status that refused it, if one did


def host_of(parts: SplitResult) -> str:
    """The host and port a URL names, without the user and password it may carry."""
    return parts.netloc.rpartition("@")[2].lower()


class Crawler:
    """Fetches URLs of one host with at most `limits.concurrency` requests in flight."""

    def __init__(self, client: httpx.AsyncClient, host: str, limits: CrawlLimits) -> None:
        self.client = client
        self.host = host  # `host_of` the site: redirects elsewhere are refused
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._robots: RobotFileParser | None = None
        self.interval = 0.0  # the least seconds between two requests' starts (robots.txt)
        self._next_start = 0.0
        self._pacing = asyncio.Lock()

    @staticmethod
    def open_client(limits: CrawlLimits) -> httpx.AsyncClient:
        """An HTTP client for a crawl (redirects handled here, never by httpx)."""
        return httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(limits.timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=limits.concurrency),
        )

    async def load_robots(self, site_url: str) -> RobotFileParser:
        """Read the host's robots.txt (RFC 9309: a 4xx means no rules, a 5xx stops the crawl)."""
        robots = RobotFileParser()
        url = urljoin(site_url, "/robots.txt")
        try:
            fetched = await self.fetch(url, check_robots=False)
        except FetchFailed as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                robots.parse([])
            else:
                raise SiteError(f"{url} could not be read ({exc}); not crawling") from None
        else:
            robots.parse(fetched.body.decode("utf-8", "replace").splitlines())
        self._robots = robots
        self.interval = _interval(robots, self.limits.max_retry_after)
        if self.interval:
            log.info(
                "robots.txt asks for %g s between requests: crawling at that pace", self.interval
            )
        return robots

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets bookrag fetch `url`."""
        return self._robots is None or self._robots.can_fetch(ROBOTS_AGENT, url)

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        check_robots: bool = True,
        cap: int | None = None,
    ) -> Fetched:
        """GET `url` (conditionally, given a validator); raises `FetchFailed`."""
        if check_robots and not self.allowed(url):
            raise FetchFailed("disallowed by robots.txt")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            for attempt in range(1, self.limits.attempts + 1):
                try:
                    return await self._follow(url, headers, cap or self.limits.max_page_bytes)
                except _Retry as retry:
                    if attempt == self.limits.attempts:
                        raise FetchFailed(retry.reason) from None
                    await asyncio.sleep(self._delay(attempt, retry.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay: float = self.limits.backoff * 2.0 ** (attempt - 1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.limits.max_retry_after)

    async def _follow(self, url: str, headers: dict[str, str], cap: int) -> Fetched:
        for _ in range(_MAX_REDIRECTS + 1):
            if host_of(urlsplit(url)) != self.host:
                raise FetchFailed(f"redirects to another host ({host_of(urlsplit(url))})")
            response = await self._get(url, headers, cap)
            if response.status not in _REDIRECTS:
                return response.fetched(url)
            location = response.location
            if not location:
                raise FetchFailed(f"HTTP {response.status} without a Location")
            url = urljoin(url, location)
        raise FetchFailed("too many redirects")

    async def _pace(self) -> None:
        """Wait until `interval` has passed since the last request started."""
        if not self.interval:
            return
        async with self._pacing:
            wait = self._next_start - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_start = time.monotonic() + self.interval

    async def _get(self, url: str, headers: dict[str, str], cap: int) -> _Response:
        await self._pace()
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status in _RETRIED:
                    raise _Retry(f"HTTP {status}", _retry_after(response.headers))
                if status in _REDIRECTS or status == 304:
                    return _Response(status, b"", response.headers)
                if status != 200:
                    raise FetchFailed(f"HTTP {status}", status)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise FetchFailed(f"larger than the {cap}-byte cap ({declared} bytes)")
                body = bytearray()
                async for piece in response.aiter_bytes():
                    body.extend(piece)
                    if len(body) > cap:
                        raise FetchFailed(f"larger than the {cap}-byte cap")
                return _Response(status, bytes(body), response.headers)
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.limits.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__})") from None


def _interval(robots: RobotFileParser, most: float) -> float:
    """The least seconds between requests robots.txt asks of bookrag (at most `most`).
    (`urllib.robotparser` reads whole seconds only: `Crawl-delay: 1`, `Request-rate: 1/5`.)"""
    delay = float(robots.crawl_delay(ROBOTS_AGENT) or 0)
    rate = robots.request_rate(ROBOTS_AGENT)
    if rate is not None and rate.requests > 0:
        delay = max(delay, rate.seconds / rate.requests)
    return min(delay, most)


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: httpx.Headers

    @property
    def location(self) -> str | None:
        location: str | None = self.headers.get("location")
        return location

    def fetched(self, url: str) -> Fetched:
        return Fetched(
            url=url,
            status=self.status,
            body=self.body,
            etag=self.headers.get("etag"),
            last_modified=self.headers.get("last-modified"),
            content_type=self.headers.get("content-type", ""),
        )


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    when = email.utils.parsedate_to_datetime(value) if "," in value else None
    return max(0.0, when.timestamp() - time.time()) if when else None
