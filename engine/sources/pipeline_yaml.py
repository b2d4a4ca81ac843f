"""YAML for CI files: the data plus the line of every mapping key and list item.

Pipeline findings point at `file:line`, so the node tree is kept long enough to record
where each key and item starts. The two systems read YAML differently: GitHub Actions
follows YAML 1.2 (`on`, `yes`, `no` are strings; PyYAML's 1.1 rules would turn the
trigger key `on` into `True`), GitLab follows YAML 1.1 and adds its own `!reference` tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

Key = tuple[str | int, ...]
Dialect = Literal["github", "gitlab"]

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAX_DEPTH = 32


class GithubLoader(_Base):  # type: ignore[misc, valid-type]
    """YAML 1.2 booleans only (`true`/`false`) and no timestamps, as GitHub reads them."""


GithubLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
GithubLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclass(frozen=True, slots=True)
class Reference:
    """A GitLab `!reference [job, key, ...]`; resolved once includes and extends are merged."""

    path: tuple[str, ...]


class GitlabLoader(_Base):  # type: ignore[misc, valid-type]
    """YAML 1.1 as GitLab's Ruby parser reads it, plus `!reference`."""


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> Reference:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(
            None, None, "!reference takes a list, e.g. !reference [.setup, script]",
            node.start_mark)
    return Reference(tuple(str(v) for v in loader.construct_sequence(node)))


GitlabLoader.add_constructor("!reference", _reference)

_LOADERS: dict[str, type[yaml.SafeLoader]] = {"github": GithubLoader, "gitlab": GitlabLoader}


@dataclass(slots=True)
class Lines:
    """Where each key path starts: `lines.of("jobs", "build", "steps", 2)` -> 14."""

    at: dict[Key, int] = field(default_factory=dict)
    children: dict[Key, dict[str, int]] = field(default_factory=dict)

    def of(self, *key: str | int) -> int | None:
        return self.at.get(key)

    def keys(self, *key: str | int) -> dict[str, int]:
        """The lines of the keys directly under `key` (e.g. a job's `permissions:`)."""
        return dict(self.children.get(key, {}))

    def add(self, key: Key, line: int) -> None:
        """A key written twice (or merged in with `<<` and then overridden) is where it was
        written last, as the value is."""
        self.at[key] = line
        if isinstance(key[-1], str):
            self.children.setdefault(key[:-1], {})[key[-1]] = line


class YamlError(ValueError):
    """The file is not valid YAML; `line` is 1-based when the parser knows it."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def load(text: str, dialect: Dialect) -> tuple[Any, Lines]:
    """One YAML document and the 1-based line of every key/item path in it."""
    loader = _LOADERS[dialect](text)
    try:
        node, data = _document(loader, dialect)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"invalid YAML: {reason}", mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    lines = Lines()
    if node is not None:
        _record(node, (), lines, 0)
    return data, lines


def _document(loader: yaml.SafeLoader, dialect: Dialect) -> tuple[yaml.Node | None, Any]:
    """GitHub wants exactly one document; a GitLab file may put a `spec:` header first."""
    if dialect == "github":
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    documents = []
    while loader.check_node():
        node = loader.get_node()
        documents.append((node, loader.construct_document(node)))
    if not documents:
        return None, None
    if len(documents) == 2 and isinstance(documents[0][1], dict) and "spec" in documents[0][1]:
        return documents[1]
    if len(documents) > 1:
        raise yaml.composer.ComposerError(
            None, None, "expected one document (or a `spec:` header and one document)",
            documents[1][0].start_mark)
    return documents[0]


def _record(node: yaml.Node, key: Key, lines: Lines, depth: int) -> None:
    """Constructing has already folded `<<` merges into the nodes, so merged keys are found
    too (at the line of the anchor they came from)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                path = (*key, str(key_node.value))
                lines.add(path, key_node.start_mark.line + 1)
                _record(value_node, path, lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = (*key, index)
            lines.add(path, item.start_mark.line + 1)
            _record(item, path, lines, depth + 1)

