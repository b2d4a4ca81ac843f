"""Reading Backstage catalog files into a Catalog.

Catalogs are written by many teams, so one bad file or entity must not hide the rest:
everything invalid becomes a `catalog` problem with the file and the line of its document,
and every valid entity still loads. `Location` entities are followed like Backstage does,
relative to the file that declares them; only local files are read (no network during a
scan), and each file is read once, so Locations that point at each other cannot loop.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..model import Location
from ..sources.manifests import read_documents
from .entities import RawEntity, build_catalog, check_entity
from .model import Catalog
from .repos import is_url

CATALOG_NAMES = ("catalog-info.yaml", "catalog-info.yml")
CATALOG_SUFFIX = ".catalog.yaml"
_GLOB_CHARS = frozenset("*?[")


def is_catalog_file(path: Path) -> bool:
    return path.name in CATALOG_NAMES or path.name.endswith(CATALOG_SUFFIX)


def catalog_files(directory: Path) -> Iterator[Path]:
    """Catalog files under `directory`, recursively, skipping hidden folders (`.git`)."""
    for child in sorted(directory.rglob("*")):
        rel = child.relative_to(directory).parts
        if is_catalog_file(child) and child.is_file() and not any(
                p.startswith(".") for p in rel[:-1]):
            yield child


def read_catalog(paths: list[Path], *,
                 documents: Iterable[tuple[dict[str, Any], Location]] = ()) -> Catalog:
    """Files (any name) and directories (their catalog files), then extra documents that
    other sources found; entities read first win over later duplicates."""
    reader = _Reader()
    for path in paths:
        reader.read_path(Path(path), None)
    reader.add_documents(documents)
    return build_catalog(reader.entities, reader.problems)


def catalog_from_documents(docs: Iterable[tuple[dict[str, Any], Location]]) -> Catalog:
    """A catalog from documents already parsed elsewhere (e.g. catalog-info.yaml found in
    repositories); their Locations are followed relative to the given file when it exists."""
    return read_catalog([], documents=docs)


class _Reader:
    def __init__(self) -> None:
        self.entities: list[RawEntity] = []
        self.problems: list[Problem] = []
        self._where: dict[str, Location] = {}
        self._files: set[Path] = set()

    def problem(self, message: str, location: Location) -> None:
        self.problems.append(Problem("catalog", message, location))

    def read_path(self, path: Path, asked_by: Location | None) -> None:
        if path.resolve() in self._files:
            return
        if path.is_dir():
            for file in catalog_files(path):
                self.read_file(file)
        elif path.is_file():
            self.read_file(path)
        elif asked_by is None:
            self.problem("no such file or directory", Location(str(path)))
        else:
            self.problem(f"location target {path} does not exist", asked_by)

    def read_file(self, file: Path) -> None:
        key = file.resolve()
        if key in self._files:
            return
        self._files.add(key)
        found: list[Problem] = []
        for doc, line in read_documents(file, found):
            self.add(doc, Location(str(file), line))
        self.problems.extend(Problem("catalog", p.message, p.location) for p in found)

    def add_documents(self, documents: Iterable[tuple[dict[str, Any], Location]]) -> None:
        docs = list(documents)
        # Mark the files as read first, so a Location pointing back at one does not read
        # it from disk a second time.
        self._files.update(Path(loc.file).resolve() for _, loc in docs if loc.file)
        for doc, location in docs:
            self.add(doc, location)

    def add(self, doc: Any, location: Location) -> None:
        if doc is None:
            return
        if not isinstance(doc, dict):
            self.problem(f"expected a catalog entity, got a {type(doc).__name__}", location)
            return
        checked = check_entity(doc, location)
        if checked is None:
            return
        if isinstance(checked, str):
            self.problem(checked, location)
            return
        if first := self._where.get(checked.ref):
            self.problem(f"duplicate entity {checked.ref}; the one at {first} is used", location)
            return
        self._where[checked.ref] = location
        self.entities.append(checked)
        if checked.kind == "Location":
            self._follow(checked)

    def _follow(self, raw: RawEntity) -> None:
        spec = raw.document.get("spec") or {}
        targets = spec.get("targets") or []
        if not isinstance(targets, list):
            self.problem(f"Location {raw.name}: spec.targets must be a list", raw.location)
            return
        if "target" in spec:
            targets = [spec["target"], *targets]
        if not targets:
            self.problem(f"Location {raw.name}: spec.target or spec.targets is required",
                         raw.location)
        base = Path(raw.location.file).parent
        for target in targets:
            self._follow_target(target, base, raw.location)

    def _follow_target(self, target: Any, base: Path, location: Location) -> None:
        if not isinstance(target, str) or not target.strip():
            self.problem(f"location target {target!r} is not a path", location)
            return
        text = target.strip().removeprefix("file://").removeprefix("file:")
        if is_url(text):
            self.problem(f"location target {target} is not a local file; not followed "
                         "(pathwarden reads local catalog files only)", location)
            return
        path = Path(os.path.normpath(base / text))
        if not _GLOB_CHARS.intersection(text):
            self.read_path(path, location)
            return
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches:
            self.problem(f"location target {target} matches no file", location)
        for match in matches:
            self.read_path(Path(match), location)
