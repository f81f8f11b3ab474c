"""The book as written: Docusaurus routing, Markdown pages, loading, chunking, sidebar order.

May import only `config` and `errors`: nothing here knows of the index, answers or HTTP.
"""
