"""Check a deployment the way the book's site uses it: health, CORS, chat, stream, translate.

These are the by-hand verification steps of a deploy (health endpoint answers, the site's
origin passes the CORS preflight, every endpoint the chat window calls works) as one
function. Each check catches its own failures and reports them in one line: never a
traceback, and never the base URL or a request header (where credentials could sit), so
the output can be pasted into an issue or a CI log as it is.

Longer than ~300 lines because the five checks share one client, one record of what the
deployment showed (`_Seen`) and the helpers that keep each failure to one safe line; split,
each part would reach into the others' private helpers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.markup import escape
from rich.table import Table

from bookrag.feedback.records import CHECK_HEADER

DEFAULT_QUESTION = "What is this book about?"  # when the deployment names no page at all
QUESTION_ABOUT = "What does the book say about {title}?"
CHECKS = ("health", "cors", "chat", "stream-chat", "translate")
MAX_DETAIL = 200


@dataclass(frozen=True)
class CheckResult:
    """One check: whether it passed, how long it took, and what it saw, in one line."""

    name: str
    passed: bool
    seconds: float
    detail: str
    ran: bool = True


@dataclass
class _Seen:
    """What earlier checks learned that later ones need."""

    generator: str | None = None
    page_url: str | None = None  # a page the answer cited, to translate
    first_page: dict[str, Any] | None = None  # the book's first page, from /health


class _Failed(Exception):
    """A check's verdict: the message is the one-line detail."""


def all_passed(results: list[CheckResult]) -> bool:
    """True when every check that ran passed (skipped checks do not count)."""
    return all(r.passed for r in results if r.ran)


def check_deploy(
    base_url: str,
    origin: str | None = None,
    timeout: float = 30.0,
    question: str | None = None,
) -> list[CheckResult]:
    """Run the deployment checks against `base_url`; a check not run has `ran=False`.

    Without a `question`, the chat checks ask about the title of the book's first page
    (from `/health`, else the best `/search` hit), so a deployment serving the wrong book,
    or none, fails: an answer must cite the book."""
    seen = _Seen()
    results: list[CheckResult] = []
    try:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError("it must start with http:// or https://")
        # Marked as a check: its questions are not readers', for the author's gap report.
        headers = {CHECK_HEADER: "1"}
        client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)
    except Exception as exc:  # an unusable URL fails every check, for the same reason
        detail = _one_line(f"bad URL: {exc}")
        return [CheckResult(name, False, 0.0, detail) for name in CHECKS]
    with client:
        results.append(_run("health", lambda: _health(client, seen)))
        if origin:
            results.append(_run("cors", lambda: _cors(client, origin)))
        else:
            results.append(_skipped("cors", "not run: no --origin given"))
        asked = question or _question_from_the_book(client, seen)
        results.append(_run("chat", lambda: _chat(client, asked, seen)))
        results.append(_run("stream-chat", lambda: _stream_chat(client, asked)))
        if seen.generator is None:
            results.append(_skipped("translate", "not run: /health did not name the generator"))
        elif seen.generator == "extractive":
            results.append(_skipped("translate", "not run: no chat model configured"))
        else:
            page_url = seen.page_url or str((seen.first_page or {}).get("url") or "")
            if page_url:
                results.append(_run("translate", lambda: _translate(client, page_url)))
            else:
                results.append(_skipped("translate", "not run: no page of the book is known"))
    return results


def render_table(results: list[CheckResult]) -> Table:
    """The results as a table: check, PASS/FAIL/SKIP, seconds, detail."""
    table = Table(title="deployment checks")
    table.add_column("check")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("detail", overflow="fold")
    for r in results:
        if not r.ran:
            verdict = "[yellow]SKIP[/yellow]"
        elif r.passed:
            verdict = "[green]PASS[/green]"
        else:
            verdict = "[red]FAIL[/red]"
        seconds = f"{r.seconds:.3f}" if r.ran else "-"
        table.add_row(r.name, verdict, seconds, escape(r.detail))
    return table


def _run(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = check()
        passed = True
    except _Failed as verdict:
        detail, passed = str(verdict), False
    except httpx.TimeoutException as exc:
        detail, passed = f"no answer within the timeout ({type(exc).__name__})", False
    except httpx.HTTPError as exc:
        detail, passed = f"cannot reach the server: {_describe(exc)}", False
    except Exception as exc:  # a check reports, it never crashes the command
        detail, passed = f"unexpected {_describe(exc)}", False
    return CheckResult(name, passed, time.perf_counter() - started, _one_line(detail))


def _skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, False, 0.0, why, ran=False)


def _question_from_the_book(client: httpx.Client, seen: _Seen) -> str:
    """A question about the book's first page (from /health), else about the best /search
    hit for a question any book answers."""
    title = (seen.first_page or {}).get("title")
    if not isinstance(title, str) or not title.strip():
        try:
            response = client.post("/search", json={"query": DEFAULT_QUESTION, "limit": 1})
            results = response.json().get("results") if response.status_code == 200 else None
            title = results[0].get("title") if isinstance(results, list) and results else None
        except (httpx.HTTPError, ValueError, AttributeError):
            title = None
    if not isinstance(title, str) or not title.strip():
        return DEFAULT_QUESTION
    return QUESTION_ABOUT.format(title=" ".join(title.split())[:120])


def _health(client: httpx.Client, seen: _Seen) -> str:
    response = client.get("/health")
    body = _json_object(response)
    if isinstance(body.get("generator"), str):
        seen.generator = body["generator"]
    index = _dict(body.get("index"))
    first = index.get("first_page")
    if isinstance(first, dict):  # the page the other checks ask about, even if this fails
        seen.first_page = first
    services = _dict(body.get("services"))
    down = ", ".join(f"{name} {state}" for name, state in services.items() if state != "connected")
    if response.status_code != 200 or body.get("status") != "ok":
        said = f" ({down})" if down else ""
        raise _Failed(f"HTTP {response.status_code}, status {body.get('status')!r}{said}")
    return (
        f"200, status ok, version {body.get('version', '?')}, "
        f"{index.get('pages', '?')} pages / {index.get('chunks', '?')} chunks "
        f"({index.get('mode', '?')}), generator {seen.generator or '?'}"
    )


def _cors(client: httpx.Client, origin: str) -> str:
    response = client.options(
        "/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    allowed = response.headers.get("access-control-allow-origin")
    if response.status_code != 200:
        raise _Failed(
            f"preflight from {origin} refused: HTTP {response.status_code} "
            "(is it in the server's ALLOWED_ORIGINS?)"
        )
    if allowed is None:
        raise _Failed(f"preflight from {origin} has no Access-Control-Allow-Origin")
    if allowed != origin:
        raise _Failed(f"Access-Control-Allow-Origin is {allowed[:80]!r}, not {origin!r}")
    return f"200, preflight from {origin} allowed for POST with content-type"


def _chat(client: httpx.Client, question: str, seen: _Seen) -> str:
    response = client.post("/chat", json={"question": question})
    body = _json_object(response)
    _expect_ok(response, body)
    answer, sources = body.get("answer"), body.get("sources")
    if not isinstance(answer, str) or not answer.strip():
        raise _Failed("200 but `answer` is missing or empty")
    if not isinstance(sources, list):
        raise _Failed("200 but `sources` is not a list")
    if not sources:
        raise _Failed(
            f"asked {question!r}: the answer cites nothing (mode {body.get('mode', '?')}): "
            f"{answer[:80]!r}"
        )
    _not_degraded(body, answer)
    if isinstance(sources[0], str):
        seen.page_url = _without_fragment(sources[0])
    return (
        f"200, asked {question!r}: mode {body.get('mode', '?')}, {len(sources)} sources, "
        f"answer of {len(answer)} characters"
    )


def _stream_chat(client: httpx.Client, question: str) -> str:
    tokens = 0
    with client.stream("POST", "/stream-chat", json={"question": question}) as response:
        if response.status_code != 200:
            response.read()
            _expect_ok(response, _json_object(response, strict=False))
        for event in _client_events(response.iter_text()):
            if "error" in event:
                raise _Failed(f"error event after {tokens} tokens: {event['error']}")
            if event.get("done") is True:
                return _final_event(event, tokens)
            if isinstance(event.get("token"), str):
                tokens += 1
            else:
                raise _Failed(f"unexpected event with keys {sorted(event)}")
    raise _Failed(f"stream ended after {tokens} tokens without a final done event")


def _final_event(event: dict[str, Any], tokens: int) -> str:
    if not tokens:
        raise _Failed("final event came with no token events before it")
    response = event.get("response")
    if not isinstance(response, str):
        raise _Failed("final event's `response` is not a JSON string")
    try:
        parsed = json.loads(response)
    except ValueError:
        raise _Failed("final event's `response` is not valid JSON") from None
    answer = parsed.get("answer") if isinstance(parsed, dict) else None
    if not isinstance(answer, str) or not answer.strip():
        raise _Failed("final event's response has no `answer`")
    if not parsed.get("sources"):
        raise _Failed(f"the streamed answer cites nothing: {answer[:80]!r}")
    _not_degraded(parsed, answer)
    return f"200, {tokens} token events, then an answer of {len(answer)} characters"


def _not_degraded(body: dict[str, Any], answer: str) -> None:
    """A deployment whose chat model or embeddings fail answers, extractively: that is a
    fault to report, not a pass."""
    if body.get("degraded") is True:
        raise _Failed(
            f"answered without its model or embeddings (degraded, mode "
            f"{body.get('mode', '?')}): {answer[:80]!r}"
        )


def _client_events(chunks: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Events as the book's client reads them: split on blank lines, JSON after `data: `."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield from _block_events(block)
    yield from _block_events(buffer)


def _block_events(block: str) -> Iterator[dict[str, Any]]:
    for line in block.split("\n"):
        if not line.startswith("data: "):
            continue
        try:
            event = json.loads(line[len("data: ") :])
        except ValueError:
            raise _Failed(f"an event is not JSON: {line[:60]!r}") from None
        if not isinstance(event, dict):
            raise _Failed(f"an event is not a JSON object: {line[:60]!r}")
        yield event


def _translate(client: httpx.Client, page_url: str) -> str:
    payload = {"page_url": page_url, "target_language": "urdu"}
    response = client.post("/translate", json=payload)
    body = _json_object(response)
    _expect_ok(response, body)
    if body.get("success") is not True:
        raise _Failed(f"200 but success is {body.get('success')!r}: {body.get('error', '')}")
    translation = body.get("translation")
    size = len(translation) if isinstance(translation, str) else 0
    return f"200, {page_url} translated to Urdu ({size} characters)"


def _json_object(response: httpx.Response, *, strict: bool = True) -> dict[str, Any]:
    """The body as a JSON object; not JSON at all fails the check (when `strict`)."""
    try:
        body = response.json()
    except ValueError:
        if not strict:
            return {}
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        raise _Failed(f"HTTP {response.status_code}, body is not JSON ({kind})") from None
    if not isinstance(body, dict):
        raise _Failed(f"HTTP {response.status_code}, body is not a JSON object")
    return body


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _expect_ok(response: httpx.Response, body: dict[str, Any]) -> None:
    if response.status_code == 200:
        return
    problem = body.get("error") or body.get("status") or body.get("detail")
    said = f": {problem}" if isinstance(problem, str) else ""
    raise _Failed(f"HTTP {response.status_code}{said}")


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"
