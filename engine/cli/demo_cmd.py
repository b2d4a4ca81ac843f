"""`pathwarden demo`: the main job on embedded defaults, over the bundled example estate.

At this stage it evaluates the example manifests with the built-in library and the
estate's configuration and prints the summary; later stages add the scan, scorecards
and dashboard.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import eval_cmd

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "estate"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run pathwarden on the bundled example estate")
    parser.add_argument("--estate", type=Path, default=EXAMPLES, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    estate: Path = args.estate
    if not (estate / "manifests").is_dir():
        print(f"error: demo: example estate not found at {estate} "
              "(run from a source checkout: pip install -e .)", file=sys.stderr)
        return 2
    print(f"pathwarden demo: evaluating {estate / 'manifests'} with the built-in policies\n")
    eval_args = argparse.Namespace(
        paths=[estate / "manifests"], format="table", config=estate / "pathwarden.yaml",
        policies=[], no_builtin=False, select=[],
    )
    code = eval_cmd.run(eval_args)
    print("\ndemo finished: the table above is what `pathwarden eval` prints in CI "
          f"(exit code there would be {code}).")
    return 0 if code in (0, 1) else code
