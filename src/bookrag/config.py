"""All settings, read once from the environment (and a local `.env`), validated at start-up.

Secrets are `SecretStr`: they never show in `repr`, logs, errors or `/health`. Validation
problems are reported one line per variable, naming the variable and never its value.

Longer than 300 lines because every environment variable is declared, bounded and checked
here, in one class, so that one place says what the service can be told.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bookrag.errors import ConfigError

# A URL's user and password, up to the last `@` before its host, as HTTP clients read it.
_URL_PASSWORD = re.compile(r"(?<=://)[^/\s:@]*:[^/\s]*@")


def hide_url_passwords(text: str) -> str:
    """`text` with the password of every URL in it blanked (`https://reader:***@host`)."""
    return _URL_PASSWORD.sub(lambda found: found.group().split(":", 1)[0] + ":***@", text)


LOCAL_PROXIES = "127.0.0.1,::1"
# Where a platform's proxy reaches the container from: private and shared address space.
PRIVATE_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,127.0.0.1,::1,fc00::/7"
# The body limit: room for every field at its limit, each character sent as a `\uXXXX` escape.
MIB = 1024 * 1024


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def is_http_url(value: str) -> bool:
    """Whether `value` is an http(s) URL a client can connect to: a host, and a port (if
    any) from 0 to 65535; `http://[::1` and `http://host:abc` are not."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and _has_valid_port(parts)


# Settings that are a Docusaurus site's address (its `url` and `baseUrl`), cited as given.
_SITE_ADDRESSES = ("site_url", "book_url")
SITE_ADDRESS_RULE = (
    "must be the site's address, scheme and host (and its base path), without a ?query or #fragment"
)
# Base URLs the SDKs add their paths after: with a query, Cohere's and OpenAI's call
# `/v1?k=1/v2/chat`. The Qdrant client ignores a query, so QDRANT_URL may keep one.
_API_BASES = ("cohere_base_url", "openai_base_url")
# A URL's scheme (`https:`, `javascript:`) or a host with none (`//evil`).
_SCHEME_OR_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def _route_path_problem(path: str) -> str | None:
    """What keeps `path` from being a docs `routeBasePath` (`docs`, `/`, `guide/v2`): a
    scheme or host, a `?` or `#`, a `..` segment, white space or a control character."""
    if _SCHEME_OR_HOST.match(path):
        return "not a URL (give the site's address as the site URL)"
    if "?" in path or "#" in path:
        return "without a ?query or #fragment"
    if ".." in path.replace("\\", "/").split("/"):
        return "without a .. segment"
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in path):
        return "without spaces or control characters"
    return None


def _has_valid_port(parts: SplitResult) -> bool:
    try:
        _ = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError:
        return False
    return True


class Settings(BaseSettings):
    """bookrag's configuration; every field is one environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        allow_inf_nan=False,  # `inf` seconds or minutes is a typo, not a setting
    )

    env: Literal["development", "production"] = Field(
        "development", validation_alias=_env("BOOKRAG_ENV")
    )
    data_dir: Path = Field(Path("data"), validation_alias=_env("BOOKRAG_DATA_DIR"))
    docs_dir: Path | None = Field(None, validation_alias=_env("BOOKRAG_DOCS_DIR"))
    site_url: str | None = Field(None, validation_alias=_env("BOOKRAG_SITE_URL"))
    route_base_path: str | None = Field(None, validation_alias=_env("BOOKRAG_ROUTE_BASE_PATH"))
    book_url: str | None = Field(None, validation_alias=_env("BOOKRAG_BOOK_URL"))
    refresh_minutes: float = Field(0, ge=0, validation_alias=_env("BOOKRAG_REFRESH_MINUTES"))
    admin_token: SecretStr | None = Field(None, validation_alias=_env("BOOKRAG_ADMIN_TOKEN"))
    crawl_concurrency: int = Field(
        4, ge=1, le=32, validation_alias=_env("BOOKRAG_CRAWL_CONCURRENCY")
    )
    crawl_max_pages: int = Field(5000, ge=1, validation_alias=_env("BOOKRAG_CRAWL_MAX_PAGES"))
    crawl_max_page_bytes: int = Field(
        5_000_000, ge=1024, validation_alias=_env("BOOKRAG_CRAWL_MAX_PAGE_BYTES")
    )

    qdrant_url: str | None = Field(None, validation_alias=_env("QDRANT_URL"))
    qdrant_api_key: SecretStr | None = Field(None, validation_alias=_env("QDRANT_API_KEY"))
    qdrant_timeout: int = Field(10, ge=1, validation_alias=_env("QDRANT_TIMEOUT"))
    collection_name: str = Field("book", min_length=1, validation_alias=_env("COLLECTION_NAME"))

    cohere_api_key: SecretStr | None = Field(None, validation_alias=_env("COHERE_API_KEY"))
    cohere_base_url: str | None = Field(None, validation_alias=_env("COHERE_BASE_URL"))
    cohere_embed_model: str = Field(
        "embed-english-v3.0", min_length=1, validation_alias=_env("COHERE_EMBED_MODEL")
    )
    cohere_rerank_model: str = Field(
        "rerank-v3.5", min_length=1, validation_alias=_env("COHERE_RERANK_MODEL")
    )
    rerank: bool = Field(True, validation_alias=_env("BOOKRAG_RERANK"))
    min_rerank_score: float = Field(
        0.1, ge=0, le=1, validation_alias=_env("BOOKRAG_MIN_RERANK_SCORE")
    )
    cohere_chat_model: str = Field(
        "command-a-03-2025", min_length=1, validation_alias=_env("COHERE_CHAT_MODEL")
    )
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_model: str = Field("llama3.1", min_length=1, validation_alias=_env("OPENAI_MODEL"))
    chat_temperature: float = Field(0.2, ge=0, le=2, validation_alias=_env("CHAT_TEMPERATURE"))
    chat_max_tokens: int = Field(700, ge=16, le=8192, validation_alias=_env("CHAT_MAX_TOKENS"))
    upstream_timeout: float = Field(20.0, gt=0, validation_alias=_env("BOOKRAG_UPSTREAM_TIMEOUT"))
    retry_budget: float = Field(15.0, ge=0, validation_alias=_env("BOOKRAG_RETRY_BUDGET"))
    upstream_cooldown: float = Field(30.0, ge=0, validation_alias=_env("BOOKRAG_UPSTREAM_COOLDOWN"))
    answer_deadline: float = Field(30.0, ge=0, validation_alias=_env("BOOKRAG_ANSWER_DEADLINE"))

    chunk_tokens: int = Field(350, ge=64, le=4000, validation_alias=_env("BOOKRAG_CHUNK_TOKENS"))
    min_relevance: float = Field(0.3, ge=0, le=1, validation_alias=_env("BOOKRAG_MIN_RELEVANCE"))
    max_question_chars: int = Field(2000, gt=0, validation_alias=_env("BOOKRAG_MAX_QUESTION_CHARS"))
    max_selected_chars: int = Field(
        20000, gt=0, validation_alias=_env("BOOKRAG_MAX_SELECTED_CHARS")
    )
    translation_concurrency: int = Field(
        4, ge=1, le=32, validation_alias=_env("BOOKRAG_TRANSLATION_CONCURRENCY")
    )
    translation_budget: int = Field(20, ge=0, validation_alias=_env("BOOKRAG_TRANSLATION_BUDGET"))

    max_body_bytes: int = Field(2 * MIB, ge=1024, validation_alias=_env("BOOKRAG_MAX_BODY_BYTES"))
    rate_limit: int = Field(60, ge=1, validation_alias=_env("BOOKRAG_RATE_LIMIT"))
    trusted_proxies: str | None = Field(None, validation_alias=_env("BOOKRAG_TRUSTED_PROXIES"))
    max_generations: int = Field(8, ge=1, le=256, validation_alias=_env("BOOKRAG_MAX_GENERATIONS"))
    max_generations_per_client: int = Field(
        2, ge=1, le=256, validation_alias=_env("BOOKRAG_MAX_GENERATIONS_PER_CLIENT")
    )
    queue_wait: float = Field(5.0, ge=0, validation_alias=_env("BOOKRAG_QUEUE_WAIT"))
    log_questions: bool = Field(False, validation_alias=_env("BOOKRAG_LOG_QUESTIONS"))
    # Set by Hugging Face Spaces in every Space's container; not ours to set.
    space_id: str | None = Field(None, validation_alias=_env("SPACE_ID"))

    feedback: bool = Field(True, validation_alias=_env("BOOKRAG_FEEDBACK"))
    database_url: SecretStr | None = Field(None, validation_alias=_env("DATABASE_URL"))
    retention_days: int = Field(30, ge=1, le=3650, validation_alias=_env("BOOKRAG_RETENTION_DAYS"))

    # Unset: the book's own site, the original book's and the development server
    # (`api.origins.allowed_origins`).
    allowed_origins: str | None = Field(None, validation_alias=_env("ALLOWED_ORIGINS"))

    @field_validator("qdrant_url", "site_url", "book_url", "cohere_base_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        if not is_http_url(value.strip()):
            raise ValueError("must be an http(s) URL with a host (and a port from 0 to 65535)")
        if "?" in value or "#" in value:
            if info.field_name in _SITE_ADDRESSES:  # else in every citation: `/b%3Fq=1/...`
                raise ValueError(SITE_ADDRESS_RULE)
            if info.field_name in _API_BASES:
                raise ValueError(
                    "must be the API's base URL, without a ?query or #fragment "
                    "(the client adds its paths after it)"
                )
        return value.strip()

    @field_validator("route_base_path")
    @classmethod
    def _route_base_path(cls, value: str | None) -> str | None:
        # It goes into every citation's path as written (`/kb/<it>/basics/...`).
        problem = _route_path_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"must be a path on the site such as docs, / or guide/v2, {problem}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        try:
            usable = value.is_dir() or not value.exists()
        except OSError as exc:  # e.g. a name too long for the file system
            raise ValueError(f"cannot be used ({exc.strerror})") from None
        if not usable:
            raise ValueError("must be a folder (this is a file)")
        return value

    @field_validator("collection_name")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        # A folder's name in embedded mode: it must not lead out of the data folder.
        if not value.strip() or "/" in value or "\\" in value or value.startswith("."):
            raise ValueError("must be a plain name: not blank, no / or \\, no leading dot")
        return value

    @field_validator("refresh_minutes")
    @classmethod
    def _refresh_minutes(cls, value: float) -> float:
        if 0 < value < 1:  # each refresh re-reads the site's sitemap and changed pages
            raise ValueError("must be 0 (off) or at least 1 minute")
        return value

    @field_validator("admin_token")
    @classmethod
    def _admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Blank is unset: the admin routes stay off rather than take a token of spaces. The
        # token is compared as sent, without surrounding spaces (`api.admin`).
        token = value.get_secret_value().strip() if value is not None else ""
        return SecretStr(token) if token else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parts = urlsplit(value.get_secret_value().strip())
        schemes = ("postgresql", "postgres", "postgresql+psycopg", "sqlite")
        if parts.scheme not in schemes or not _has_valid_port(parts):
            raise ValueError("must be a postgresql://user:password@host/db or sqlite:///path URL")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str | None) -> str | None:
        for entry in (e.strip() for e in (value or "").split(",")):
            if not entry or entry == "*":
                continue
            if not is_http_url(entry):
                raise ValueError("each entry must be an http(s) origin such as https://example.org")
            host = urlsplit(entry).hostname or ""
            # `*.` stands for one name before a site's, never for a whole top-level domain.
            if "*" in host and not re.fullmatch(r"\*(\.[^*.]+){2,}", host):
                raise ValueError("a * may only stand for a subdomain, first: https://*.example.org")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        for entry in (e.strip() for e in (value or "").split(",")):
            if entry and entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError("each entry must be an IP address or network, or *") from None
        return value

    @property
    def proxies(self) -> list[str]:
        """The trusted proxies: as set, else Spaces' private proxy networks on a Space
        (`SPACE_ID` is set there), else this host's loopback only."""
        if self.trusted_proxies is not None:
            chosen = self.trusted_proxies
        elif self.space_id:
            chosen = PRIVATE_NETWORKS
        else:
            chosen = LOCAL_PROXIES
        return [entry.strip() for entry in chosen.split(",") if entry.strip()]

    @property
    def embedded(self) -> bool:
        """True when the index lives in this process (Qdrant Edge)."""
        return self.qdrant_url is None

    @property
    def index_path(self) -> Path:
        """Where the embedded index is stored."""
        return self.data_dir / "qdrant"

    def public(self, message: str) -> str:
        """`message` as a client may see it: the server's own folders are named by their
        setting (`BOOKRAG_DATA_DIR`) or their name, not by where they are on this machine,
        and no URL in it shows its password."""
        message = hide_url_passwords(message)
        folders = [(self.data_dir, "BOOKRAG_DATA_DIR")]
        if self.docs_dir is not None:
            folders.append((self.docs_dir, self.docs_dir.resolve().name))
        for folder, name in folders:
            spellings = {str(folder.resolve())} | ({str(folder)} if folder.is_absolute() else set())
            for spelling in sorted(spellings, key=len, reverse=True):
                message = message.replace(spelling, name)
        return message

    @property
    def translations_path(self) -> Path:
        """Where finished page translations are cached."""
        return self.data_dir / "translations"

    @property
    def database_path(self) -> Path:
        """The SQLite database of answers and feedback, when `DATABASE_URL` is not set."""
        return self.data_dir / "bookrag.db"

    def problems(self) -> list[str]:
        """Cross-field problems that make start-up pointless."""
        found = []
        host = urlsplit(self.qdrant_url).hostname or "" if self.qdrant_url else ""
        if host.endswith(".cloud.qdrant.io") and self.qdrant_api_key is None:
            found.append("QDRANT_API_KEY: required when QDRANT_URL points at Qdrant Cloud")
        if self.env == "production" and self.cohere_api_key is None:
            found.append(
                "COHERE_API_KEY: required when BOOKRAG_ENV=production "
                "(a public deployment should not fall back to extractive answers)"
            )
        if self.book_url and self.docs_dir:
            found.append("BOOKRAG_BOOK_URL: set either it or BOOKRAG_DOCS_DIR, not both")
        return found


_FIELD_ENV = {
    name: str(field.validation_alias.choices[0])  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def env_variable(field: str) -> str:
    """The environment variable a setting is read from (`site_url` → `BOOKRAG_SITE_URL`)."""
    return _FIELD_ENV.get(field, field.upper())


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, raising `ConfigError` with one line per problem."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise ConfigError([".env: not UTF-8 text"]) from None
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            variable = env_variable(field)
            lines.append(f"{variable}: {error['msg']}")
        raise ConfigError(lines) from None
    problems = settings.problems()
    if problems:
        raise ConfigError(problems)
    return settings
