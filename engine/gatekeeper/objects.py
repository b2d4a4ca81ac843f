"""ConstraintTemplates and constraints from YAML files, with the lines they came from.

Files are composed node by node (not only loaded) so that every problem can name the
line of the field it is about, and so the Rego of a `rego: |` block keeps the YAML file's
line numbers when it is compiled (see `translate.translate(first_line=…)`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem
from ..model import Location

TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
TARGET = "admission.k8s.gatekeeper.sh"
KIND_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class RegoText:
    """One Rego source of a template and where its first line sits in the YAML file."""

    text: str
    line: int
    exact: bool
    """True for block scalars (`rego: |`), whose lines map one to one onto the file's."""


@dataclass(frozen=True, slots=True)
class Template:
    kind: str
    name: str
    rego: RegoText
    libs: tuple[RegoText, ...]
    schema: dict[str, Any] | None
    annotations: dict[str, str]
    location: Location


@dataclass(frozen=True, slots=True)
class Constraint:
    kind: str
    name: str
    spec: dict[str, Any]
    annotations: dict[str, str]
    location: Location
    where: dict[str, Location] = field(default_factory=dict)
    """Locations of spec.match and spec.parameters, for messages about them."""
    node: yaml.Node | None = field(default=None, compare=False, repr=False)

    def location_of(self, *keys: str | int) -> Location:
        """The line of a field (e.g. a parameter the schema refuses), else the object's."""
        found = node_at(self.node, keys) if self.node is not None else None
        if found is None:
            return self.location
        return Location(self.location.file, found.start_mark.line + 1)


@dataclass(slots=True)
class Document:
    value: Any
    node: yaml.Node
    path: Path

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def location(self, *keys: str | int) -> Location:
        node = node_at(self.node, keys)
        return Location(str(self.path), (node or self.node).start_mark.line + 1)


def read_documents(path: Path, problems: list[Problem], *, quiet: bool = False
                   ) -> Iterator[Document]:
    """Every YAML document of `path`; `quiet`: a file that does not parse is skipped
    without a problem (policy directories may hold YAML that is not pathwarden's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem("load", f"cannot read: {exc}", Location(str(path))))
        return
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield Document(loader.construct_document(node), node, path)
    except yaml.YAMLError as exc:
        if quiet and "gatekeeper.sh" not in text:
            return
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem("load", f"invalid YAML: {reason}",
                                Location(str(path), mark.line + 1 if mark else None)))
    finally:
        loader.dispose()


def node_at(node: yaml.Node, keys: tuple[str | int, ...]) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            found = node.value[key] if key < len(node.value) else None
        else:
            found = None
        if found is None:
            return None
        node = found
    return node


def group_of(doc: Any) -> str:
    if not isinstance(doc, dict):
        return ""
    return str(doc.get("apiVersion") or "").rpartition("/")[0]


def is_template(doc: Any) -> bool:
    return group_of(doc) == TEMPLATE_GROUP and doc.get("kind") == "ConstraintTemplate"


def is_constraint(doc: Any) -> bool:
    return group_of(doc) == CONSTRAINT_GROUP


def parse_template(doc: Document) -> Template | Problem:
    value = doc.value

    def problem(message: str, *keys: str | int) -> Problem:
        return Problem("load", f"ConstraintTemplate: {message}", doc.location(*keys))

    meta = value.get("metadata") or {}
    spec = value.get("spec") or {}
    crd = ((spec.get("crd") or {}).get("spec") or {}) if isinstance(spec, dict) else {}
    kind = (crd.get("names") or {}).get("kind")
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        return problem(f"spec.crd.spec.names.kind must be a CamelCase kind, got {kind!r}",
                       "spec")
    name = meta.get("name") if isinstance(meta, dict) else None
    if name != kind.lower():
        return problem(f"metadata.name must be {kind.lower()!r} (the lowercase kind), as "
                       f"Gatekeeper requires; got {name!r}", "metadata")
    schema = (crd.get("validation") or {}).get("openAPIV3Schema")
    targets = spec.get("targets")
    if not isinstance(targets, list) or len(targets) != 1 or not isinstance(targets[0], dict):
        return problem("spec.targets must hold exactly one target", "spec")
    target = targets[0]
    if target.get("target") != TARGET:
        return problem(f"target {target.get('target')!r} is not supported; use {TARGET}",
                       "spec", "targets", 0)
    where: tuple[str | int, ...] = ("spec", "targets", 0)
    rego, libs = target.get("rego"), target.get("libs") or []
    if rego is None:
        for i, code in enumerate(target.get("code") or []):
            if isinstance(code, dict) and code.get("engine") == "Rego":
                source = code.get("source") or {}
                rego, libs = source.get("rego"), source.get("libs") or []
                where = ("spec", "targets", 0, "code", i, "source")
                break
    if rego is None:
        engines = [c.get("engine") for c in target.get("code") or [] if isinstance(c, dict)]
        return problem(f"{kind} has no Rego (engines: {engines or 'none'}); pathwarden runs "
                       "Rego templates only (K8sNativeValidation/CEL is not supported)",
                       *where)
    if not isinstance(rego, str) or not isinstance(libs, list) or not all(
            isinstance(lib, str) for lib in libs):
        return problem("rego must be a string and libs a list of strings", *where)
    return Template(
        kind=kind, name=name, rego=_rego_text(doc, rego, (*where, "rego")),
        libs=tuple(_rego_text(doc, lib, (*where, "libs", i)) for i, lib in enumerate(libs)),
        schema=schema if isinstance(schema, dict) else None,
        annotations=_annotations(meta), location=doc.location())


def parse_constraint(doc: Document) -> Constraint | Problem:
    value = doc.value
    kind, meta = value.get("kind"), value.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(kind, str) or not kind:
        return Problem("load", "constraint without a kind", doc.location())
    if not isinstance(name, str) or not name:
        return Problem("load", f"{kind} constraint without metadata.name",
                       doc.location("metadata"))
    spec = value.get("spec") or {}
    if not isinstance(spec, dict):
        return Problem("load", f"{kind}/{name}: spec must be a mapping", doc.location("spec"))
    where = {key: doc.location("spec", key) for key in ("match", "parameters",
                                                         "enforcementAction")}
    return Constraint(kind, name, spec, _annotations(meta), doc.location(), where, doc.node)


def _rego_text(doc: Document, text: str, keys: tuple[str | int, ...]) -> RegoText:
    node = node_at(doc.node, keys)
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        return RegoText(text, node.start_mark.line + 2, node.style == "|")
    line = node.start_mark.line + 1 if node is not None else doc.line
    return RegoText(text, line, False)


def _annotations(meta: Any) -> dict[str, str]:
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {str(k): str(v) for k, v in annotations.items() if v is not None}
