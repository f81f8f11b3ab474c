"""Translating a page: units of whole blocks, protected code and links, cache, languages.

May import `answering`, `index`, `book`, `providers`, `config` and `errors`.
"""
