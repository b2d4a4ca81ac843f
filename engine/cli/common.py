"""What several commands share: policy options, building the policy set, printing problems."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError, PolicyLoadError, Problem
from ..loading.configured import configured_policy_dirs, configured_policy_set
from ..policyset import PolicySet
from ..settings import Settings, load_settings


def setup_logging(level: int, *, timestamps: bool = False) -> None:
    """Log to stderr; long-running commands stamp times, one-shot ones stay terse. alembic's
    per-migration INFO lines are noise next to them."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, stream=sys.stderr,
                        format=f"%(asctime)s {fmt}" if timestamps else fmt)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="pathwarden YAML configuration file")
    parser.add_argument("--policies", "-p", type=Path, action="append", default=[],
                        metavar="DIR", help="extra policy directory (repeatable)")
    parser.add_argument("--no-builtin", action="store_true",
                        help="do not load the built-in policy library")
    parser.add_argument("--select", "-s", action="append", default=[], metavar="ID|TAG",
                        help="only policies whose id or tag matches (globs: pss:*)")


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, os.environ)


def policy_dirs(args: argparse.Namespace, settings: Settings) -> list[Path]:
    return configured_policy_dirs(settings, extra_dirs=args.policies, no_builtin=args.no_builtin)


def build_policy_set(args: argparse.Namespace, settings: Settings) -> PolicySet:
    """Load, select and parameterise; raises PolicyLoadError / ConfigError."""
    return configured_policy_set(settings, extra_dirs=args.policies,
                                 no_builtin=args.no_builtin, select=args.select)


def report_problems(problems: Iterable[Problem], stream=None) -> None:
    stream = stream or sys.stderr
    for problem in problems:
        print(f"error: {problem}", file=stream)


def load_or_report(args: argparse.Namespace) -> tuple[Settings, PolicySet] | None:
    """Settings and policy set, or None after printing why they could not be had."""
    try:
        settings = settings_from(args)
        return settings, build_policy_set(args, settings)
    except PolicyLoadError as exc:
        report_problems(exc.problems)
        print(f"{len(exc.problems)} policy problem(s); nothing was evaluated", file=sys.stderr)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return None
