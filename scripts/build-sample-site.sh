#!/usr/bin/env bash
# Build the sample book as a real Docusaurus site (pinned in sample-book/package.json and
# package-lock.json) into sample-book/build, or into the folder given as $1.
set -euo pipefail
cd "$(dirname "$0")/../sample-book"
out=${1:-build}
if [ ! -d node_modules/@docusaurus/core ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npx --no-install docusaurus build --out-dir "$out" >/dev/null
echo "built the sample book into $(cd "$out" && pwd)"
