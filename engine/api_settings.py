"""The `api:` section: the REST API's address, its tokens with their names and roles, who
may read, and the dashboard's session key.

Tokens are kept as SHA-256 digests only; the plain value of PATHWARDEN_API_TOKEN is hashed
when read and never kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_values import expect_keys as _expect_keys
from .errors import ConfigError

ENV_PREFIX = "PATHWARDEN_"


ROLES = ("read", "write", "waivers:request", "waivers:approve", "admin")
"""What a token may do. `read`: the API's reads when `api.read: token`; `write`: scans on
demand and pipeline runs; `waivers:request`: ask for a waiver (and withdraw one's own
request); `waivers:approve`: approve, reject and revoke waivers; `admin`: all of them."""
DEFAULT_ROLES = frozenset({"read", "write"})
"""The roles of a token given without any: what every token could do before roles."""


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """Who a token belongs to: the name the audit trail records, and what it may do."""

    digest: str
    name: str
    roles: frozenset[str] = DEFAULT_ROLES

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles

    @staticmethod
    def default_name(digest: str) -> str:
        """Tells tokens apart in the audit trail without revealing anything usable."""
        return "token-" + digest.removeprefix("sha256:")[:8]


@dataclass(frozen=True, slots=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    tokens: tuple[str, ...] = ()
    """`sha256:<hex>` digests of the bearer tokens the API accepts: those of `api.tokens`
    (written hashed: `pathwarden token hash`) and of PATHWARDEN_API_TOKEN (plain,
    comma-separated, from a Secret; hashed when read). Plain tokens never stay in memory."""
    read: str = "open"
    """`open`: reads need no token (put the server behind the platform's SSO); `token`:
    reads need a bearer token with the role `read` too. Writes always need a token."""
    identities: tuple[TokenIdentity, ...] = ()
    """Names and roles of the tokens. A digest in `tokens` without one here is named
    `token-<first 8 hex digits>` and has the roles read and write."""
    session_secret: str | None = field(default=None, repr=False)
    """The key that signs dashboard session cookies (`api.session_secret`, or
    PATHWARDEN_SESSION_SECRET from a Secret). Unset, each server makes a random one at
    start: sessions then end with a restart and hold on one replica only, so replicas
    behind one address must share it. Kept out of `repr` so it never reaches a log."""

    @staticmethod
    def digest(token: str) -> str:
        """How a token is stored and compared. Tokens are random (`pathwarden token new`),
        so a plain SHA-256 suffices: there is no password to guess, only a leak to blunt."""
        import hashlib

        return "sha256:" + hashlib.sha256(token.encode()).hexdigest()

    def accepted(self) -> list[TokenIdentity]:
        """Every accepted token's identity: those configured with a name and roles, then
        the bare digests (settings built in code may give only `tokens`)."""
        named = {i.digest: i for i in self.identities}
        found = list(named.values())
        found += [TokenIdentity(d, TokenIdentity.default_name(d)) for d in self.tokens
                  if d not in named]
        return found


def parse_api(raw: Any, environ: Mapping[str, str], path: Path | None) -> ApiSettings:
    _expect_keys(raw, "api", {"host", "port", "tokens", "read", "session_secret"}, path)
    entries = raw.get("tokens") or []
    if not isinstance(entries, list):
        raise ConfigError(f"config {path}: api.tokens must be a list of `sha256:<hex>` digests "
                          "or of mappings {digest, name, roles}")
    identities: dict[str, TokenIdentity] = {}
    for i, entry in enumerate(entries):
        identity = _token_entry(entry, f"api.tokens[{i}]", path)
        known = identities.get(identity.digest)
        if known is not None and known != identity:
            raise ConfigError(f"config {path}: api.tokens[{i}] ({identity.name}) has the same "
                              f"digest as the entry named {known.name}, with other roles or "
                              "name; one token has one identity")
        identities.setdefault(identity.digest, identity)
    for item in (environ.get(ENV_PREFIX + "API_TOKEN") or "").split(","):
        identity = _env_token(item.strip())
        if identity is not None:
            identities.setdefault(identity.digest, identity)  # the config file's entry wins
    port = raw.get("port", 8080)
    if not isinstance(port, int) or isinstance(port, bool):
        raise ConfigError(f"config {path}: api.port must be a number")
    read = raw.get("read", "open")
    if read not in ("open", "token"):
        raise ConfigError(f"config {path}: api.read is {read!r}; use open or token")
    return ApiSettings(str(raw.get("host", "127.0.0.1")), port, tuple(identities), read,
                       tuple(identities.values()), _session_secret(raw, environ, path))


SESSION_SECRET_MIN = 32


def _session_secret(raw: Any, environ: Mapping[str, str], path: Path | None) -> str | None:
    """PATHWARDEN_SESSION_SECRET wins over `api.session_secret`. Too short a key could be
    guessed offline from one cookie, so fewer than 32 characters is refused; the message
    never repeats the value, a secret."""
    value = environ.get(ENV_PREFIX + "SESSION_SECRET") or raw.get("session_secret")
    if value is None:
        return None
    where = ("PATHWARDEN_SESSION_SECRET" if environ.get(ENV_PREFIX + "SESSION_SECRET")
             else "api.session_secret")
    if not isinstance(value, str) or len(value.strip()) < SESSION_SECRET_MIN:
        raise ConfigError(f"config {path}: {where} must be a string of at least "
                          f"{SESSION_SECRET_MIN} characters (e.g. `openssl rand -hex 32`)")
    return value.strip()


TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
"""Token names go into the audit trail; no `:`, so none can pose as `file:<path>`."""


def _token_entry(entry: Any, where: str, path: Path | None) -> TokenIdentity:
    """`sha256:<hex>`, or `{digest: sha256:<hex>, name: alice, roles: [...]}`.

    Messages never repeat a digest field's value: when it is not a digest it is most
    likely a plain token pasted by mistake, a secret."""
    if isinstance(entry, dict):
        _expect_keys(entry, where, {"digest", "name", "roles"}, path)
        digest = _digest(entry.get("digest"), f"{where}.digest", path)
        name = entry.get("name", TokenIdentity.default_name(digest))
        if not isinstance(name, str) or not TOKEN_NAME.match(name):
            raise ConfigError(f"config {path}: {where}.name must be letters, digits and "
                              ". _ @ + - (at most 100), e.g. alice or ci-deploy")
        roles = entry.get("roles", sorted(DEFAULT_ROLES))
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ConfigError(f"config {path}: {where} ({name}): roles must be a list of "
                              f"{list(ROLES)}")
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise ConfigError(f"config {path}: {where} ({name}): unknown role(s) {unknown}; "
                              f"known: {list(ROLES)}")
        return TokenIdentity(digest, name, frozenset(roles))
    digest = _digest(entry, where, path)
    return TokenIdentity(digest, TokenIdentity.default_name(digest))


def _digest(value: Any, where: str, path: Path | None) -> str:
    kind, _, hexdigest = value.strip().partition(":") if isinstance(value, str) else ("", "", "")
    if kind != "sha256" or len(hexdigest) != 64 or not all(
            c in "0123456789abcdefABCDEF" for c in hexdigest):
        raise ConfigError(
            f"config {path}: {where} is not a token digest: the config file holds "
            "tokens hashed, as `sha256:<64 hex digits>` (or a mapping whose `digest` is "
            "one). Hash it with `pathwarden token hash` (reads the token from stdin) and "
            "put that line there instead, or pass plain tokens in PATHWARDEN_API_TOKEN")
    return f"sha256:{hexdigest.lower()}"


def _env_token(item: str) -> TokenIdentity | None:
    """A plain token from PATHWARDEN_API_TOKEN, optionally named: `alice=<token>`.

    Roles stay read and write: roles belong in the reviewed configuration file. A value
    is taken as `name=token` only when the part before `=` is a valid name and the rest
    does not start with `=`, so base64 tokens with `=` padding are still read whole."""
    if not item:
        return None
    name, eq, token = item.partition("=")
    if eq and token and not token.startswith("=") and TOKEN_NAME.match(name):
        digest = ApiSettings.digest(token)
        return TokenIdentity(digest, name)
    digest = ApiSettings.digest(item)
    return TokenIdentity(digest, TokenIdentity.default_name(digest))
