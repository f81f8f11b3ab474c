#!/usr/bin/env bash
# Build the sample book as a real Docusaurus site (pinned in sample-book/package.json and
# package-lock.json) into sample-book/build, or into the folder given as $1. An optional $2
# names another config file to build with (`docusaurus build --config`; e.g. the README's
# widget snippet added to the sample's config, as the widget's browser tests do).
set -euo pipefail
cd "$(dirname "$0")/../sample-book"
out=${1:-build}
config=()
if [ -n "${2:-}" ]; then config=(--config "$2"); fi
if [ ! -d node_modules/@docusaurus/core ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npx --no-install docusaurus build --out-dir "$out" ${config[@]+"${config[@]}"} >/dev/null
echo "built the sample book into $(cd "$out" && pwd)"
