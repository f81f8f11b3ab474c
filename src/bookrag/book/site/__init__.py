"""A published Docusaurus site read as a book: its sitemap, its pages, the doc in each, their order.

`sitemap` finds the docs routes, `crawler` fetches them politely (robots.txt, a bounded
number at a time, retries, caps, same-host redirects only) and `extract` turns a page's doc
article into the same sections the Markdown loader makes; `menu` reads the sidebar each page
shows and merges them into the book's order; `bookrag.index.site_ingest` hands the pages to
ingest, so chunks, citations and the pages' order are made one way for both kinds of book.
May import the rest of `book`, `config` and `errors`.
"""
