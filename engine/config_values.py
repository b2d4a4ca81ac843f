"""Checks shared by every section parser of the configuration file.

Each names the section and the file, so a typo in a nested key is reported where it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError


def expect_keys(raw: Any, section: str, known: set[str], path: Path | None) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: {section} must be a mapping")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"config {path}: unknown key(s) {unknown} in {section}; "
                          f"known: {sorted(known)}")


def strings(raw: dict[str, Any], key: str, path: Path | None) -> list[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config {path}: {key} must be a list of strings")
    return value


def whole_number(raw: dict[str, Any], key: str, default: int, section: str,
                 path: Path | None, *, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"config {path}: {section}.{key} must be a whole number "
                          f">= {minimum}")
    return value
