"""Kubernetes manifests on disk -> k8s targets.

Multi-document YAML, JSON and `kind: List` files, directories walked recursively. A file
that does not parse is reported with its line and skipped; every other file (and the
documents before the error) is still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem
from ..k8s import make_target
from ..model import Location, Target

SUFFIXES = (".yaml", ".yml", ".json")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(slots=True)
class ManifestObjects:
    """Objects read from disk, where each came from, and what could not be read."""

    objects: list[tuple[dict[str, Any], Location]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def targets(self) -> list[Target]:
        return [make_target(obj, location=loc) for obj, loc in self.objects]


def manifest_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.suffix in SUFFIXES and not any(p.startswith(".") for p in rel):
                    yield child
        else:
            yield path


def read_manifests(paths: list[Path]) -> ManifestObjects:
    found = ManifestObjects()
    for path in paths:
        if not path.exists():
            found.problems.append(Problem("read", "no such file or directory", Location(str(path))))
    for file in manifest_files([p for p in paths if p.exists()]):
        for doc, line in read_documents(file, found.problems):
            _add_object(doc, Location(str(file), line), found)
    return found


def read_documents(file: Path, problems: list[Problem]) -> Iterator[tuple[Any, int]]:
    """Each YAML document (or the JSON document) of a file with its first line; what
    cannot be read becomes a problem naming the file and line."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem("read", f"cannot read: {exc}", Location(str(file))))
        return
    if file.suffix == ".json":
        try:
            yield json.loads(text), 1
        except json.JSONDecodeError as exc:
            problems.append(Problem("parse", f"invalid JSON: {exc.msg}",
                                    Location(str(file), exc.lineno)))
        return
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield loader.construct_document(node), node.start_mark.line + 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem("parse", f"invalid YAML: {reason}",
                                Location(str(file), mark.line + 1 if mark else None)))
    finally:
        loader.dispose()


def _add_object(doc: Any, location: Location, found: ManifestObjects) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        found.problems.append(Problem(
            "parse", f"expected a Kubernetes object, got a {type(doc).__name__}", location))
        return
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            _add_object(item, location, found)
        return
    if not doc.get("apiVersion") or not kind:
        found.problems.append(Problem(
            "parse", "not a Kubernetes object: apiVersion and kind are required", location))
        return
    found.objects.append((doc, location))
