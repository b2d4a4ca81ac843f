"""The `pathwarden` command: one subcommand per module, registered from one table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import (
    certs_cmd,
    db_cmd,
    demo_cmd,
    eval_cmd,
    notify_cmd,
    policies_cmd,
    report_cmd,
    scan_cmd,
    serve_cmd,
    test_cmd,
    token_cmd,
    verify_cmd,
    webhook_cmd,
    webhook_config_cmd,
)

COMMANDS = (
    eval_cmd, test_cmd, verify_cmd, policies_cmd, demo_cmd, scan_cmd, serve_cmd, webhook_cmd,
    certs_cmd, webhook_config_cmd, db_cmd, token_cmd, report_cmd, notify_cmd,
)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="pathwarden",
        description="Policy and compliance for golden paths: admission, audit, scorecards.",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
