"""The answer log, readers' feedback and the gap report built from them, `bookrag report`.

Kept in SQLite (default) or PostgreSQL. `database` owns the tables and their migrations,
`records` are what it keeps (`redaction` takes out what must not be kept), `journal` writes
them (one writer thread, off the request path), `report` reads them and `report_page` draws
the report as HTML. May import `answering`, `index`, `book`, `providers`, `config` and
`errors`; the HTTP API and the CLI import it, never the reverse.
"""
