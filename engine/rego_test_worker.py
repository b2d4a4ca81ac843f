"""Worker process for `pathwarden test`: runs one Rego test file, prints JSON results.

Kept apart so that a native abort inside rego-cpp ends this process, not the test run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .policytest import rego_test_results


def main(argv: list[str]) -> int:
    test_file, *policies = argv
    print(json.dumps(rego_test_results([Path(p) for p in policies], Path(test_file))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
