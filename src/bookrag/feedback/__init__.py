"""What readers ask and what they think of the answers: the answer log, their feedback and
the gap report built from them, kept in SQLite (default) or PostgreSQL.

`database` owns the tables and their migrations, `journal` writes (one writer thread, off
the request path), `report` reads. This package imports `config`, `lexical` and
`observability`-free basics only; the HTTP API and the CLI import it, never the reverse.
"""
