"""`pathwarden token new|hash`: API tokens, and the digests the config file holds instead.

The config file is read by many (a ConfigMap, a repository), so `api.tokens` lists only
`sha256:` digests; the plain token goes to the client, or to the server through
PATHWARDEN_API_TOKEN from a Secret. Exit codes: 0 done; 2 no token given.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from ..settings import ApiSettings

PREFIX = "pwt_"
"""Makes a leaked token recognisable to secret scanners and to people."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("token", help="API tokens: make a new one, hash one for api.tokens")
    actions = parser.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="print a new random token and its api.tokens entry")
    new.set_defaults(run=run_new)
    hashed = actions.add_parser(
        "hash", help="read tokens from stdin (one a line) and print their api.tokens entries")
    hashed.set_defaults(run=run_hash)


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def run_new(args: argparse.Namespace) -> int:
    token = new_token()
    print(f"token: {token}")
    print(f"hash:  {ApiSettings.digest(token)}")
    print("give the token to the client (or to the server in PATHWARDEN_API_TOKEN); put "
          "the hash in api.tokens", file=sys.stderr)
    return 0


def run_hash(args: argparse.Namespace) -> int:
    # On a terminal the token is not echoed, and so not left in the shell history.
    text = getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.read()
    tokens = [line.strip() for line in text.splitlines() if line.strip()]
    if not tokens:
        print("error: no token on stdin (e.g. `printf %s \"$TOKEN\" | pathwarden token hash`)",
              file=sys.stderr)
        return 2
    for token in tokens:
        print(ApiSettings.digest(token))
    return 0
