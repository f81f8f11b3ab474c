#!/usr/bin/env bash
# Regenerate tests/fixtures/sample-site: the sample book built by real Docusaurus (the
# version pinned in sample-book/package.json), keeping only its HTML pages and sitemap.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
bash "$root/scripts/build-sample-site.sh" "$build/site" >/dev/null
fixture="$root/tests/fixtures/sample-site"
rm -rf "$fixture"
mkdir -p "$fixture"
(cd "$build/site" && find . -name '*.html' -o -name 'sitemap.xml') | while read -r file; do
    mkdir -p "$fixture/$(dirname "$file")"
    cp "$build/site/$file" "$fixture/$file"
done
echo "wrote $(find "$fixture" -type f | wc -l) files to $fixture"
