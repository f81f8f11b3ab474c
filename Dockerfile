# bookrag for Hugging Face Spaces (Docker SDK, app_port 7860), or any container host.
#
# With no Qdrant Cloud and no keys it serves the book in BOOKRAG_DOCS_DIR (default, with
# the embedded index only: the sample book baked in below), indexed at start-up into the embedded store: under /data
# when Spaces' persistent storage is mounted, else in /home/user/app/data (see
# docker/start.sh). Settings and secrets come from the environment (Space secrets).
# On Spaces, readers arrive through Spaces' proxy from a private address: Spaces sets
# SPACE_ID, and with it bookrag trusts the private networks' X-Forwarded-For, so each reader
# is rate limited on their own address (BOOKRAG_TRUSTED_PROXIES, when set, wins).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Spaces runs the container as uid 1000; the code stays root-owned (read-only to the app).
RUN useradd -m -u 1000 user

WORKDIR /home/user/app

# Dependencies first, from the lock file alone, so a code change reuses this layer.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY sample-book ./sample-book
COPY docker/start.sh ./docker/start.sh

# The package itself: its dependencies are already in place from the lock file.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . \
    && mkdir -p data \
    && chown user:user data

# Numeric, so the host resolves it without our /etc/passwd (and it matches Spaces' uid).
USER 1000:1000
ENV HOME=/home/user \
    PORT=7860

EXPOSE 7860

# No curl in the slim image: Python's urllib fails (exit 1) on no answer or a non-2xx status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '7860') + '/health', timeout=4)"]

CMD ["sh", "/home/user/app/docker/start.sh"]
