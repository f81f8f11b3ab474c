#!/bin/sh
# Container entry point: index the book at start-up, then serve it on $PORT (default 7860).
#
# The embedded index goes under /data when Hugging Face Spaces' persistent storage is
# mounted there (so a restart re-indexes only changed pages), else beside the app. An
# explicit BOOKRAG_DATA_DIR always wins. `bookrag serve` reads BOOKRAG_DOCS_DIR (or BOOKRAG_BOOK_URL) itself and
# runs a single uvicorn worker: the embedded index belongs to one process.
set -eu

if [ -z "${BOOKRAG_DATA_DIR:-}" ]; then
    if [ -d /data ] && [ -w /data ]; then
        BOOKRAG_DATA_DIR=/data/bookrag
    else
        BOOKRAG_DATA_DIR="$(cd "$(dirname "$0")/.." && pwd)/data"
    fi
    export BOOKRAG_DATA_DIR
fi

# With the embedded index, serve the sample book unless told otherwise (BOOKRAG_DOCS_DIR, or
# a published site in BOOKRAG_BOOK_URL). With QDRANT_URL the index is shared and maintained
# by `bookrag ingest`: never re-index it from the image's sample book (that would replace
# the real book), only from an explicit BOOKRAG_DOCS_DIR or BOOKRAG_BOOK_URL.
if [ -z "${QDRANT_URL:-}" ] && [ -z "${BOOKRAG_DOCS_DIR:-}" ] && [ -z "${BOOKRAG_BOOK_URL:-}" ]; then
    BOOKRAG_DOCS_DIR="$(cd "$(dirname "$0")/.." && pwd)/sample-book/docs"
    export BOOKRAG_DOCS_DIR
fi

exec bookrag serve --host 0.0.0.0 --port "${PORT:-7860}"
