"""The container's start command, the deployment checks, and the Docker build inputs."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from rich.console import Console

from bookrag.deploy import CheckResult, all_passed, check_deploy, render_table
from bookrag.feedback.records import CHECK_HEADER
from fakes import ServedApp

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ORIGIN = "http://localhost:3000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], within: float = 30.0) -> float:
    """Seconds until `url` answers 200; fails early if the process exits first."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if process.poll() is not None:
            pytest.fail(f"the start command exited with {process.returncode} before /health")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer 200 within {within:.0f} s")


def server_env(**settings: str) -> dict[str, str]:
    """This environment without any bookrag setting (as conftest's `_clean_env`), plus these."""
    prefixes = ("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(prefixes) and k not in ("COLLECTION_NAME", "ALLOWED_ORIGINS", "PORT")
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **settings}


@pytest.fixture(scope="module")
def started_container_command(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """docker/start.sh run outside Docker, exactly as the image's CMD runs it."""
    tmp_path = tmp_path_factory.mktemp("container")
    port = free_port()
    env = server_env(
        BOOKRAG_DATA_DIR=str(tmp_path / "data"),
        BOOKRAG_DOCS_DIR=str(ROOT / "sample-book" / "docs"),
        PORT=str(port),
    )
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        ["sh", str(ROOT / "docker" / "start.sh")],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the server did not exit within 15 s of SIGTERM")
        finally:
            log.close()
    # `exec` hands the shell's pid to uvicorn, so SIGTERM reaches the server itself: it
    # shuts down cleanly, then re-raises the signal (exit status -SIGTERM).
    log_text = (tmp_path / "server.log").read_text()
    assert process.returncode in (0, -signal.SIGTERM), log_text[-2000:]
    assert "Application shutdown complete" in log_text
    assert (tmp_path / "data" / "qdrant").is_dir()


def test_the_container_command_serves_the_book_and_passes_every_check(
    started_container_command: str,
) -> None:
    results = check_deploy(started_container_command, ORIGIN, timeout=10)

    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["health", "cors", "chat", "stream-chat", "translate"]
    assert all(r.passed for r in results if r.ran), render_lines(results)
    assert all_passed(results)
    assert "9 pages" in by_name["health"].detail
    assert "asked 'What does the book say about The Pocket Weather Station?'" in (
        by_name["chat"].detail
    )
    assert not by_name["translate"].ran
    assert "no chat model" in by_name["translate"].detail


def test_a_closed_port_fails_every_check_with_a_one_line_reason() -> None:
    results = check_deploy(f"http://127.0.0.1:{free_port()}", ORIGIN, timeout=2)

    ran = [r for r in results if r.ran]
    assert {r.name for r in ran} == {"health", "cors", "chat", "stream-chat"}
    assert not any(r.passed for r in ran)
    assert not all_passed(results)
    for r in ran:
        assert r.detail.startswith("cannot reach the server: ConnectError")
        assert "\n" not in r.detail and "Traceback" not in r.detail
    rendered = render_lines(results)
    assert "FAIL" in rendered and "Traceback" not in rendered


def test_a_url_without_a_scheme_is_reported_not_raised() -> None:
    results = check_deploy("my-space.hf.space", None, timeout=2)

    assert results and not all_passed(results)
    assert all("http:// or https://" in r.detail for r in results)


def test_cors_is_not_run_without_an_origin(started_container_command: str) -> None:
    results = {r.name: r for r in check_deploy(started_container_command, None, timeout=10)}

    assert not results["cors"].ran
    assert results["chat"].passed


def test_an_origin_missing_from_the_allowlist_fails_cors(started_container_command: str) -> None:
    results = {r.name: r for r in check_deploy(started_container_command, "https://x.test", 10)}

    assert not results["cors"].passed
    assert "refused: HTTP 400" in results["cors"].detail
    assert "ALLOWED_ORIGINS" in results["cors"].detail  # what to change


class FakeDeployment:
    """A backend speaking the contract, with a chat model, whose answers a test can spoil."""

    def __init__(self) -> None:
        self.degraded = False
        self.stream_body = (
            'data: {"token": "Weather ", "done": false}\n\n'
            'data: {"token": "stations.", "done": false}\n\n'
            "data: " + json.dumps({"done": True, "response": json.dumps(self.chat_body())}) + "\n\n"
        )
        self.allow_origin = ORIGIN
        self.translated: list[dict[str, Any]] = []
        self.asked: list[str] = []
        self.marked: list[str | None] = []  # each /chat's check header
        self.sources = ["https://book.example/docs/intro#what-it-does"]
        self.app = FastAPI()
        first = {"title": "Pocket  Weather\nStation", "url": "https://book.example/docs/intro"}
        self.healthy = True
        self.app.get("/health")(
            lambda: JSONResponse(
                {
                    "status": "ok" if self.healthy else "degraded",
                    "services": {"chat_endpoint": "connected" if self.healthy else "unavailable"},
                    "generator": "cohere",
                    "index": {"first_page": first},
                },
                status_code=200 if self.healthy else 503,
            )
        )
        self.app.post("/chat")(self.chat)
        self.app.post("/stream-chat")(
            lambda: PlainTextResponse(self.stream_body, media_type="text/event-stream")
        )
        self.app.options("/chat")(
            lambda: PlainTextResponse(
                "OK", headers={"access-control-allow-origin": self.allow_origin}
            )
        )
        self.app.post("/translate")(self.translate)

    @staticmethod
    def chat_body() -> dict[str, Any]:
        return {
            "answer": "A book about weather stations.",
            "sources": ["https://book.example/docs/intro#what-it-does"],
        }

    def chat(self, body: dict[str, Any], request: Request) -> dict[str, Any]:
        self.asked.append(body["question"])
        self.marked.append(request.headers.get(CHECK_HEADER))
        return {**self.chat_body(), "sources": self.sources, "degraded": self.degraded}

    def translate(self, body: dict[str, Any]) -> dict[str, Any]:
        self.translated.append(body)
        return {"success": True, "translation": "موسمی اسٹیشن"}


@pytest.fixture
def fake() -> Iterator[tuple[FakeDeployment, str]]:
    deployment = FakeDeployment()
    served = ServedApp(deployment.app)
    served.start()
    try:
        yield deployment, served.url
    finally:
        served.stop()


def test_translation_is_checked_on_the_cited_page_when_a_chat_model_is_configured(
    fake: tuple[FakeDeployment, str],
) -> None:
    deployment, url = fake

    results = check_deploy(url, ORIGIN, timeout=5)

    assert all_passed(results) and all(r.ran for r in results), render_lines(results)
    assert deployment.translated == [
        {"page_url": "https://book.example/docs/intro", "target_language": "urdu"}
    ]
    assert deployment.marked == ["1"]  # not a reader's question: kept out of the answer log


def test_check_deploy_asks_about_the_books_first_page_and_fails_an_answer_citing_nothing(
    fake: tuple[FakeDeployment, str],
) -> None:
    deployment, url = fake
    deployment.sources = []  # "I couldn't find this in the book."

    results = {r.name: r for r in check_deploy(url, ORIGIN, timeout=5)}

    assert deployment.asked == ["What does the book say about Pocket Weather Station?"]
    assert not results["chat"].passed
    assert "the answer cites nothing" in results["chat"].detail
    assert not all_passed(list(results.values()))
    # The translation is still checked, on the book's first page.
    assert results["translate"].passed
    assert deployment.translated[0]["page_url"] == "https://book.example/docs/intro"


def test_a_failed_health_check_still_names_the_page_the_translation_is_checked_on(
    fake: tuple[FakeDeployment, str],
) -> None:
    deployment, url = fake
    deployment.healthy, deployment.sources = False, []

    results = {r.name: r for r in check_deploy(url, ORIGIN, timeout=5)}

    assert not results["health"].passed and "chat_endpoint unavailable" in results["health"].detail
    # Said "not run: no page of the book is known" although /health named the first page.
    assert results["translate"].ran
    assert deployment.translated[0]["page_url"] == "https://book.example/docs/intro"


def test_an_answer_given_without_the_model_fails_the_chat_checks(
    fake: tuple[FakeDeployment, str],
) -> None:
    # A chat model or embeddings that fail leave a deployment answering extractively.
    deployment, url = fake
    deployment.degraded = True
    body = {**deployment.chat_body(), "mode": "extractive", "degraded": True}
    deployment.stream_body = (
        'data: {"token": "Weather", "done": false}\n\n'
        "data: " + json.dumps({"done": True, "response": json.dumps(body)}) + "\n\n"
    )

    results = {r.name: r for r in check_deploy(url, ORIGIN, timeout=5)}

    for name in ("chat", "stream-chat"):
        assert not results[name].passed
        assert "degraded" in results[name].detail
    assert not all_passed(list(results.values()))


def test_an_error_event_in_the_stream_fails_the_stream_check(
    fake: tuple[FakeDeployment, str],
) -> None:
    deployment, url = fake
    deployment.stream_body = 'data: {"error": "the chat model is unavailable", "done": true}\n\n'

    result = {r.name: r for r in check_deploy(url, ORIGIN, timeout=5)}["stream-chat"]

    assert not result.passed
    assert result.detail == "error event after 0 tokens: the chat model is unavailable"


def test_a_wildcard_allow_origin_does_not_count_as_echoing_the_origin(
    fake: tuple[FakeDeployment, str],
) -> None:
    deployment, url = fake
    deployment.allow_origin = "*"

    result = {r.name: r for r in check_deploy(url, ORIGIN, timeout=5)}["cors"]

    assert not result.passed and "'*'" in result.detail


def render_lines(results: list[CheckResult]) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_table(results))
    return console.export_text()


# --- the Docker build inputs ------------------------------------------------------------


def test_dockerfile_has_no_hadolint_findings() -> None:
    hadolint = VENV_BIN / "hadolint"
    if not hadolint.exists():
        hadolint_path = shutil.which("hadolint")
        if hadolint_path is None:
            pytest.skip("hadolint is not installed")
        hadolint = Path(hadolint_path)
    run = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching: `**` any number of folders, `*` and `?` within one name."""
    pattern = pattern.strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` out of the context (a matching folder takes its files)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = pattern_regex(pattern.lstrip("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negate
    return result


@pytest.mark.parametrize(
    "path",
    [
        "data/qdrant/collection/book/storage.sqlite",
        ".env",
        ".env.production",
        "tests/test_api.py",
        "tests/fakes/server.py",
        ".venv/bin/python",
        ".git/HEAD",
        "src/bookrag/__pycache__/api.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/bookrag/api.data.json",
        ".ruff_cache/CACHEDIR.TAG",
        "artifacts/widget-light.png",
        "scripts/benchmark.py",
        "bookrag.egg-info/PKG-INFO",
        "sample-book/node_modules/@docusaurus/core/package.json",  # after `npm ci` (CI's)
        "sample-book/.docusaurus/registry.js",
        "sample-book/build/index.html",
    ],
)
def test_dockerignore_keeps_the_index_secrets_and_dev_files_out(path: str) -> None:
    assert ignored(path, dockerignore_patterns())


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    copies = re.findall(
        r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+$", (ROOT / "Dockerfile").read_text(), re.M
    )
    sources = [source for line in copies for source in line.split()]
    assert "src" in sources and "requirements.lock" in sources
    patterns = dockerignore_patterns()
    for source in sources:
        files = (
            [source]
            if (ROOT / source).is_file()
            else sorted(str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*") if p.is_file())
        )
        # What the sample site's npm and Docusaurus make there is none of the image's.
        made = (
            "__pycache__",
            *(f"sample-book/{d}/" for d in ("node_modules", ".docusaurus", "build")),
        )
        wanted = [f for f in files if not any(m in f for m in made)]
        left_out = [f for f in wanted if ignored(f, patterns)]
        assert wanted and not left_out, f"left out of the build context: {left_out}"
