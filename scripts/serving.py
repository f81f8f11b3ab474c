"""Start `bookrag serve` for a benchmark: a free port, a clean environment, wait until healthy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PROVIDER_ENV = ("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_", "COLLECTION_NAME")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any bookrag setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_ENV)}
    return env | settings


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    startup_s: float


@contextmanager
def serving(
    env: Mapping[str, str], log: Path, cwd: Path | None = None, timeout: float = 300
) -> Iterator[Server]:
    """`bookrag serve` on a free 127.0.0.1 port with `env`, output in `log`, once healthy."""
    port = free_port()
    command = [sys.executable, "-m", "bookrag", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:  # cwd: a folder with no stray .env
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=dict(env), cwd=cwd, stdout=out, stderr=out
        )
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        try:
            while not _healthy(url):
                if process.poll() is not None:
                    raise RuntimeError(f"bookrag serve exited ({process.returncode}); see {log}")
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(
                        f"bookrag serve not healthy after {timeout:.0f} s; see {log}"
                    )
                time.sleep(0.05)  # start-up time is reported to the tenth of a second
            yield Server(process, url, time.perf_counter() - started)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
