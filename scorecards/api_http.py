"""The REST API's HTTP plumbing: JSON errors, bearer-token access, paging envelopes."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..engine.api_settings import ApiSettings, TokenIdentity
from ..engine.errors import StoreError

PREFIX = "/api/v1"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
log = logging.getLogger("pathwarden.api")


class ApiError(Exception):
    """An answer other than 2xx, rendered as `{"error": message, "detail": detail}`."""

    def __init__(self, status: int, message: str, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.detail, self.headers = status, message, detail, headers


# --- response shapes (for /docs; handlers return JSON directly, unvalidated) -------------

def install_error_handlers(app: FastAPI) -> None:
    """JSON errors for /api/v1; other routes mounted on this app (the dashboard) keep
    FastAPI's default answers."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return json_error(exc.status, exc.message, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_api(request):
            return await http_exception_handler(request, exc)
        return json_error(exc.status_code, str(exc.detail), None, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not _is_api(request):
            return await request_validation_exception_handler(request, exc)
        problems = [{"where": ".".join(str(p) for p in e.get("loc", ())),
                     "message": e.get("msg", ""), "type": e.get("type")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
        return json_error(422, f"invalid request: {message}", problems)

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        message = "the store cannot answer right now; the server log has the cause"
        if not _is_api(request):
            return PlainTextResponse(message, 503)
        return json_error(503, message)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(PREFIX + "/")


def json_error(status: int, message: str, detail: Any = None,
           headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message, "detail": detail}, status, headers=headers)


BEARER = HTTPBearer(auto_error=False, description="a token whose sha256 digest is in "
                    "api.tokens, or one given in PATHWARDEN_API_TOKEN")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


class Access:
    """Bearer tokens, compared as digests in constant time against every configured one,
    and the roles each token has (`api.tokens`).

    `read` and `write` guard the plain reads and writes; `role(...)` builds the guard of an
    endpoint that needs another role and wants to know who calls (the audit trail records
    the token's name). A missing or unknown token is 401, a known one without the role 403.
    """

    def __init__(self, api: ApiSettings) -> None:
        self._known = [(i.digest.encode(), i) for i in api.accepted()]
        self.read = self.role("read", refused="reads need a token (api.read: token)")
        self.write = self.role("write", refused="write endpoints are disabled")

    def role(self, *roles: str, refused: str = "this endpoint is disabled"
             ) -> Callable[..., TokenIdentity]:
        """A dependency that answers the caller's identity when its token has any of
        `roles` (`admin` has all)."""
        needs = " or ".join(roles)

        def guard(credentials: Credentials = None) -> TokenIdentity:
            identity = self.identify(credentials, refused)
            if not any(identity.has(r) for r in roles):
                raise ApiError(403, f"token {identity.name} lacks the role {needs}",
                               {"token": identity.name, "roles": sorted(identity.roles),
                                "needs": list(roles)})
            return identity

        guard.__name__ = "needs_" + "_or_".join(r.replace(":", "_") for r in roles)
        return guard

    def identify(self, credentials: HTTPAuthorizationCredentials | None,
                 refused: str) -> TokenIdentity:
        if not self._known:
            raise ApiError(403, f"{refused}: no API token is configured (api.tokens or "
                           "PATHWARDEN_API_TOKEN)")
        found = None if credentials is None else self._lookup(credentials.credentials)
        if found is None:
            raise ApiError(401, "a valid bearer token is required",
                           headers={"WWW-Authenticate": "Bearer"})
        return found

    def _lookup(self, token: str) -> TokenIdentity | None:
        digest = ApiSettings.digest(token).encode()
        found = None
        for known, identity in self._known:  # no early exit: timing tells nothing
            if hmac.compare_digest(digest, known):
                found = identity
        return found


# --- paging and small helpers ------------------------------------------------------------

class Paging(BaseModel):
    limit: int
    offset: int


def paging(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
           = DEFAULT_LIMIT,
           offset: Annotated[int, Query(ge=0, description="rows to skip")] = 0) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


def page_of(request: Request, items: list[Any], total: int, at: Paging,
          **extra: Any) -> Response:
    following = None
    if at.offset + at.limit < total:
        url = request.url.include_query_params(limit=at.limit, offset=at.offset + at.limit)
        following = f"{url.path}?{url.query}"
    return JSONResponse({"items": items, "total": total, "limit": at.limit,
                         "offset": at.offset, "next": following, **extra})


def page_in_memory(request: Request, items: Sequence[Any], at: Paging, **extra: Any) -> Response:
    return page_of(request, list(items[at.offset:at.offset + at.limit]), len(items), at, **extra)
