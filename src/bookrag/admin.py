"""The guard of the admin routes: a bearer token from `BOOKRAG_ADMIN_TOKEN`.

Without a token the admin routes do not exist for a client (404); a missing or wrong token
gets 401 with `WWW-Authenticate: Bearer`. The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bookrag.config import Settings

_bearer = HTTPBearer(auto_error=False)


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with `Authorization: Bearer $BOOKRAG_ADMIN_TOKEN`."""
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        raise HTTPException(status_code=404, detail="Not Found")
    supplied = credentials.credentials if credentials is not None else ""
    expected = settings.admin_token.get_secret_value()
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong admin token",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)
