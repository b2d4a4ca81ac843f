"""Deterministic shards, so N pods of an Indexed Job cover the estate exactly once.

A target belongs to shard `crc32(target id) % N`: stable across processes, machines and
Python versions (unlike `hash()`), and independent of the order sources list things in.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class Shard:
    index: int = 0
    count: int = 1

    def owns(self, target_id: str) -> bool:
        return self.count == 1 or zlib.crc32(target_id.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`I/N` with 0 <= I < N (`JOB_COMPLETION_INDEX/N` in an Indexed Job)."""
    index, sep, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not sep or shard.count < 1 or not 0 <= shard.index < shard.count:
        raise ConfigError(f"--shard {text!r}: need 0 <= I < N")
    return shard
