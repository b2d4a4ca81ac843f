"""Logging in to the dashboard with an API token, when `api.read: token`.

The pages show what the API's reads show, so they are guarded by the same tokens and the
same check (`api_http.Access`): a person pastes a token with the role `read` once, and
the browser then carries a session cookie instead of the token. The cookie holds only
`name|expiry|signature`, an HMAC-SHA256 over the name and expiry: a stolen cookie ends
with its expiry (8 hours) and cannot be turned back into the token, and nobody without
the key can make or stretch one.

The key is `api.session_secret` (or PATHWARDEN_SESSION_SECRET) when replicas behind one
address must accept each other's cookies, else random per server start. The name is
looked up again on every request, so a token removed from the configuration (or one
whose `read` role was taken away) ends its sessions when the server reloads its settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials

from ...engine.api_settings import ApiSettings, TokenIdentity
from ..api_http import Access, ApiError

COOKIE = "pathwarden_session"
MAX_AGE = 8 * 3600
"""Seconds a login lasts: one working day, then the token is pasted again."""
ROLE = "read"
PURPOSE = b"pathwarden dashboard session v1\0"
"""Mixed into every signature, so a value signed for anything else never verifies here."""
MAX_FORM = 8192
"""Bytes of the login form read at most: a token is well under 100."""


NO_TOKENS = ("Reading needs a token (api.read: token), but no token is configured "
             "(api.tokens or PATHWARDEN_API_TOKEN), so nobody can log in. Ask whoever runs "
             "pathwarden to add one.")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a pasted token turned out to be: `identity` when it may read, else the HTTP
    status and a message that says what to do, never whether some name exists."""

    identity: TokenIdentity | None
    status: int
    message: str


class Sessions:
    """Issues and checks the session cookie; `api.read: open` makes every check pass."""

    def __init__(self, api: ApiSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.required = api.read == "token"
        self._access = Access(api)
        self.configured = bool(api.accepted())
        key = api.session_secret
        # A random key per start when none is configured: nothing to leak or rotate, at
        # the price of logging in again after a restart or on another replica.
        self._key = key.encode() if key else secrets.token_bytes(32)
        self._readers = {i.name for i in api.accepted() if i.has(ROLE)}
        self._clock = clock

    # --- the cookie ------------------------------------------------------------------

    def issue(self, name: str, *, now: float | None = None) -> str:
        """`name|expiry|signature` (expiry in Unix seconds; the signature base64url)."""
        expiry = int((self._clock() if now is None else now) + MAX_AGE)
        payload = f"{name}|{expiry}"
        return f"{payload}|{self._sign(payload)}"

    def viewer(self, value: str | None) -> str | None:
        """The name a cookie value vouches for, or None when it is missing, tampered
        with, expired, or names a token that may no longer read."""
        if not value:
            return None
        name, _, rest = value.partition("|")
        expiry_text, _, signature = rest.partition("|")
        if not name or not expiry_text.isdigit() or not signature:
            return None
        expected = self._sign(f"{name}|{expiry_text}")
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        now = self._clock()
        expiry = int(expiry_text)
        if expiry <= now or expiry > now + MAX_AGE + 60:  # 60 s: clocks of replicas
            return None
        return name if name in self._readers else None

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, PURPOSE + payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    # --- the token -------------------------------------------------------------------

    def login(self, token: str) -> LoginResult:
        """The API's own token check (`Access`), so the dashboard and the API can never
        disagree on who a token is or what it may do."""
        if not self.configured:
            return LoginResult(None, 403, NO_TOKENS)
        token = token.strip()
        try:
            identity = self._access.identify(
                HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token
                else None, "reads need a token")
        except ApiError:
            return LoginResult(None, 401, "That token is not valid. Paste the whole token, "
                               "or ask whoever gave it to you for a new one.")
        if not identity.has(ROLE):
            return LoginResult(None, 403, f"The token of {identity.name} may not read: it "
                               f"lacks the role {ROLE}. Ask for a token with the role "
                               f"{ROLE}.")
        return LoginResult(identity, 200, "")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: only a path on this server (`/waivers?show=active`),
    never another host (`//evil.example`, `https://…`, `/\\evil`), so the login cannot be
    used to send someone elsewhere."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x21 or c == "\\" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def same_origin(request: Request) -> bool:
    """The POST came from a page of this server: its `Origin` (or, without one, its
    `Referer`) names the host the request was sent to. A form on another site cannot fake
    either, which, with `SameSite=Lax`, keeps other sites from logging a browser in or
    out. Scheme is not compared: a proxy that ends TLS sends plain HTTP on."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    claimed = urlsplit(source).netloc.lower()
    hosts = {request.headers.get("host", "").lower()}
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded:
        hosts.add(forwarded.split(",")[0].strip().lower())
    return bool(claimed) and claimed in hosts


def is_https(request: Request) -> bool:
    """HTTPS as the browser sees it: directly, or through a proxy that says so. A false
    `X-Forwarded-Proto: https` only makes the cookie stricter."""
    proto = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or proto == "https"


async def read_form(request: Request) -> Mapping[str, str] | None:
    """The url-encoded login form (None when too large), without python-multipart."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
