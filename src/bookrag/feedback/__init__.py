"""What readers ask and what they think of the answers: the answer log, their feedback and
the gap report built from them, kept in SQLite (default) or PostgreSQL.

`database` owns the tables and their migrations, `journal` writes (one writer thread, off
the request path), `report` reads and `report_page` draws it as HTML. This package may
import `config`, `errors`, `models`, `lexical` and `retrieval` (for a gap's closest page);
the HTTP API and the CLI import it, never the reverse.
"""
