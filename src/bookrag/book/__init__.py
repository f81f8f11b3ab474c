"""The book as written: Docusaurus routing, Markdown pages and partials, chunking, sidebar order.

May import only `config` and `errors`: nothing here knows of the index, answers or HTTP.
"""
