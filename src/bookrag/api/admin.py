"""The admin routes' guard: a bearer token (`BOOKRAG_ADMIN_TOKEN`).

Unset, the admin routes answer 404, saying how to turn them on; a missing or wrong token is 401 with
`WWW-Authenticate: Bearer`. The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bookrag.config import Settings


def require_admin(request: Request) -> None:
    """Let the request through only with `Authorization: Bearer <BOOKRAG_ADMIN_TOKEN>`."""
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        raise HTTPException(
            status_code=404, detail="admin routes are off: set BOOKRAG_ADMIN_TOKEN to use them"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.admin_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise HTTPException(
            status_code=401,
            detail="this route needs Authorization: Bearer <BOOKRAG_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Annotated[None, Depends(require_admin)]
