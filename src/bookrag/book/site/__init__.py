"""A published Docusaurus site read as a book: its sitemap, its pages, the doc in each.

`sitemap` finds the docs routes, `crawler` fetches them politely (robots.txt, a bounded
number at a time, retries, caps, same-host redirects only) and `extract` turns a page's doc
article into the same sections the Markdown loader makes; `bookrag.index.site_ingest` hands
the pages to ingest, so chunks and citations are made one way for both kinds of book.
May import the rest of `book`, `config` and `errors`.
"""
