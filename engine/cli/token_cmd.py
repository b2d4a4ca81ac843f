"""`pathwarden token new|hash`: API tokens, and the digests the config file holds instead.

The config file is read by many (a ConfigMap, a repository), so `api.tokens` lists only
`sha256:` digests; the plain token goes to the client, or to the server through
PATHWARDEN_API_TOKEN from a Secret. With `--name` or `--role` the entry is printed in its
mapping form (`{digest, name, roles}`), because waivers are requested and approved by
named tokens with roles and the audit trail records the name.
Exit codes: 0 done; 2 no token given, or a bad name.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from ..api_settings import DEFAULT_ROLES, ROLES, TOKEN_NAME, ApiSettings

PREFIX = "pwt_"
"""Makes a leaked token recognisable to secret scanners and to people."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("token", help="API tokens: make a new one, hash one for api.tokens")
    actions = parser.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="print a new random token and its api.tokens entry")
    _identity_options(new)
    new.set_defaults(run=run_new)
    hashed = actions.add_parser(
        "hash", help="read tokens from stdin (one a line) and print their api.tokens entries")
    _identity_options(hashed)
    hashed.set_defaults(run=run_hash)


def _identity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="who holds the token (recorded in the waiver audit "
                        "trail); prints the entry as {digest, name, roles}")
    parser.add_argument("--role", action="append", choices=ROLES, default=None,
                        help="a role of the token, repeatable (default: read and write; "
                        "admin: all)")


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def entry(digest: str, name: str | None, roles: list[str] | None) -> str:
    """The api.tokens list item: the bare digest, or the mapping when a name or roles
    are given (YAML flow style, to paste under `api: tokens:`)."""
    if name is None and roles is None:
        return f"- '{digest}'"
    chosen = list(dict.fromkeys(roles)) if roles else sorted(DEFAULT_ROLES)
    parts = [f"digest: '{digest}'", *([f"name: {name}"] if name else []),
             f"roles: [{', '.join(chosen)}]"]
    return "- {" + ", ".join(parts) + "}"


def _bad_name(args: argparse.Namespace) -> bool:
    if args.name is not None and not TOKEN_NAME.match(args.name):
        print(f"error: --name {args.name!r}: use letters, digits and . _ @ + - (at most 100)",
              file=sys.stderr)
        return True
    return False


def run_new(args: argparse.Namespace) -> int:
    if _bad_name(args):
        return 2
    token = new_token()
    digest = ApiSettings.digest(token)
    print(f"token: {token}")
    print(f"hash:  {digest}")
    if args.name is not None or args.role:
        print(f"entry: {entry(digest, args.name, args.role)}")
    print("give the token to the client (or to the server in PATHWARDEN_API_TOKEN); put "
          "the hash (or the entry) in api.tokens", file=sys.stderr)
    return 0


def run_hash(args: argparse.Namespace) -> int:
    if _bad_name(args):
        return 2
    # On a terminal the token is not echoed, and so not left in the shell history.
    text = getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.read()
    tokens = [line.strip() for line in text.splitlines() if line.strip()]
    if not tokens:
        print("error: no token on stdin (e.g. `printf %s \"$TOKEN\" | pathwarden token hash`)",
              file=sys.stderr)
        return 2
    if args.name is not None and len(tokens) > 1:
        print("error: --name names one token; hash the tokens one by one", file=sys.stderr)
        return 2
    for token in tokens:
        digest = ApiSettings.digest(token)
        print(entry(digest, args.name, args.role) if args.name is not None or args.role
              else digest)
    return 0
