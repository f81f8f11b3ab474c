"""Answering a question: retrieval, extractive and generated answers, their models.

May import `index`, `book`, `providers`, `config` and `errors`; never `api` or above.
"""
