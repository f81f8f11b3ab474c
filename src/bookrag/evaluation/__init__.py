"""Retrieval and answer quality on question sets: metrics, comparison, `bookrag eval`.

May import `answering`, `index`, `book`, `providers`, `config` and `errors`.
"""
