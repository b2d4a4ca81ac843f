"""Backstage entity names and references (`[kind:][namespace/]name`).

References are kept in one canonical form, `kind:namespace/name`, all lowercase: Backstage
compares references case-insensitively, so lowercasing once makes dictionary lookups and
duplicate detection agree with what Backstage would consider the same entity.
"""

from __future__ import annotations

import re

DEFAULT_NAMESPACE = "default"
MAX_NAME = 63
# Backstage: sequences of [a-zA-Z0-9] separated by single [-_.], 1-63 characters.
_NAME_RE = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
# Namespaces are DNS labels.
_NAMESPACE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KIND_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def name_error(name: object, what: str = "metadata.name") -> str | None:
    """Why `name` is not a valid Backstage entity name, or None."""
    if not isinstance(name, str) or not name:
        return f"{what} is required"
    if len(name) > MAX_NAME:
        return f"{what} {name!r} is longer than {MAX_NAME} characters"
    if not _NAME_RE.match(name):
        return (f"{what} {name!r} must be letters, digits and single '-', '_' or '.' "
                "between them")
    return None


def namespace_error(namespace: object) -> str | None:
    if not isinstance(namespace, str) or len(namespace) > MAX_NAME or \
            not _NAMESPACE_RE.match(namespace):
        return f"metadata.namespace {namespace!r} is not a DNS label (a-z, 0-9, '-')"
    return None


def make_ref(kind: str, namespace: str, name: str) -> str:
    return f"{kind}:{namespace}/{name}".lower()


def parse_ref(text: object, default_kind: str, default_namespace: str) -> str:
    """The canonical ref for `[kind:][namespace/]name`; ValueError when it is not one.

    Missing parts default the way Backstage's `parseEntityRef` does for relations: the kind
    the field implies (`group` for owners) and the namespace of the referring entity.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"entity reference {text!r} is empty or not a string")
    rest = text.strip()
    kind, namespace = default_kind, default_namespace
    if ":" in rest:
        kind, rest = rest.split(":", 1)
        if not _KIND_RE.match(kind):
            raise ValueError(f"entity reference {text!r} has an invalid kind")
    if "/" in rest:
        namespace, rest = rest.split("/", 1)
        if namespace_error(namespace.lower()):
            raise ValueError(f"entity reference {text!r} has an invalid namespace")
    if name_error(rest):
        raise ValueError(f"entity reference {text!r} has an invalid name")
    return make_ref(kind, namespace, rest)


def ref_name(ref: str) -> str:
    """`group:default/team-shop` -> `team-shop`."""
    return ref.rsplit("/", 1)[-1]
