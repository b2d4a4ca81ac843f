"""The periodic audit: sources -> catalog mapping -> evaluate -> store, as one scan."""

from __future__ import annotations

from .run import ScanOutcome, run_scan
from .shards import Shard, parse_shard

__all__ = ["ScanOutcome", "Shard", "parse_shard", "run_scan"]
