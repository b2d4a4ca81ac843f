"""The REST API's HTTP plumbing: JSON errors, bearer-token access, paging envelopes."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
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

from ..engine.errors import StoreError
from ..engine.settings import ApiSettings

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
    """Bearer tokens, compared as digests in constant time against every configured one."""

    def __init__(self, api: ApiSettings) -> None:
        self._digests = [d.encode() for d in api.tokens]

        def read(credentials: Credentials = None) -> None:
            self._check(credentials, "reads need a token (api.read: token)")

        def write(credentials: Credentials = None) -> None:
            self._check(credentials, "write endpoints are disabled")

        self.read, self.write = read, write

    def _check(self, credentials: HTTPAuthorizationCredentials | None, refused: str) -> None:
        if not self._digests:
            raise ApiError(403, f"{refused}: no API token is configured (api.tokens or "
                           "PATHWARDEN_API_TOKEN)")
        if credentials is None or not self._known(credentials.credentials):
            raise ApiError(401, "a valid bearer token is required",
                           headers={"WWW-Authenticate": "Bearer"})

    def _known(self, token: str) -> bool:
        digest = ApiSettings.digest(token).encode()
        found = False
        for known in self._digests:  # no early exit: timing does not tell which one matched
            found |= hmac.compare_digest(digest, known)
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
