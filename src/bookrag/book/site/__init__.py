"""Read a published Docusaurus site as a book: its sitemap, its pages, the doc in each.

`sitemap` finds the docs routes, `crawler` fetches them politely (robots.txt, a bounded
number at a time, retries, caps, same-host redirects only), `extract` turns a page's doc
article into the same sections the Markdown loader makes, and `indexing` hands the pages
to `bookrag.ingest`, so chunks and citations are made one way for both kinds of book.
May import `bookrag.loader`, `bookrag.markdown`, `bookrag.ingest` and `bookrag.errors`;
nothing here knows about HTTP routes.
"""
