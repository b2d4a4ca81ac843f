"""Rego modules for templates and constraints: what the policy set compiles.

A template becomes one module (its `violation` rules, translated to v1, in the package
`pathwarden.gatekeeper.templates.<kind>`) plus one per lib (`package lib.x` becomes
`pathwarden.gatekeeper.libs.<kind>.lib.x`, and the template's `data.lib.…` references
follow), so two templates may both ship a `lib.helpers` without clashing, as in
Gatekeeper. A constraint becomes a small generated module with a `deny` rule: the
template's violations, where its `spec.match` applies. That module is an ordinary pathwarden
Rego policy, so admission, audit, `eval` and both Rego backends run it unchanged.

As in Gatekeeper, a template may read only `input`, `data.inventory` and `data.lib.*`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Problem
from ..model import Location
from ..rego.results import RegoModule
from ..rego.source import KEYWORDS, read_source, tokenize
from .match import MATCH_MODULE_NAME, MATCH_PACKAGE, MATCH_REGO
from .objects import Constraint, RegoText, Template
from .translate import Edit, TranslationError, apply_edits, translate

TEMPLATES_PACKAGE = "pathwarden.gatekeeper.templates"
LIBS_PACKAGE = "pathwarden.gatekeeper.libs"
CONSTRAINTS_PACKAGE = "pathwarden.gatekeeper.constraints"
COMPAT_PACKAGE = "pathwarden.gatekeeper.compat"
COMPAT_MODULE_NAME = "pathwarden/gatekeeper/compat.rego"
COMPAT_REGO = f"""package {COMPAT_PACKAGE}

import rego.v1

# rego-cpp 1.5.2 keeps two forms of strings: the ones concat, upper, replace, format_int,
# ... make come out of sprintf in quotes (`<"ab">`), and the ones trim, trim_left,
# trim_right make are written out unescaped, so a result holding `"` is not even JSON.
# These functions give OPA's values without either fault.

# sprintf's values: trim_suffix(s, "") gives the plain string, escaped where it must be.
sprintf_args(values) := [plain(v) | some v in values]

plain(v) := trim_suffix(v, "") if is_string(v)

else := v

# trim, trim_left, trim_right by a regular expression, whose result is escaped, when the
# cutset is printable ASCII without `"` and `\\` (the forms differ on escaped characters);
# the builtin otherwise.
trim_cut(s, cutset) := regex.replace(s, concat("", ["^[", c, "]+|[", c, "]+$"]), "") if {{
	c := cut_class(cutset)
}} else := trim(s, cutset)

trim_left_cut(s, cutset) := regex.replace(s, concat("", ["^[", c, "]+"]), "") if {{
	c := cut_class(cutset)
}} else := trim_left(s, cutset)

trim_right_cut(s, cutset) := regex.replace(s, concat("", ["[", c, "]+$"]), "") if {{
	c := cut_class(cutset)
}} else := trim_right(s, cutset)

cut_class(cutset) := concat("", [cut_escape(ch) | some ch in split(cutset, "")]) if {{
	cutset != ""
	regex.match(`^[ !#-\\[\\]-~]+$`, cutset)
}}

cut_escape(ch) := concat("", [`\\`, ch]) if ch in {{"]", "[", "^", "-"}}

else := ch
"""
SPRINTF_ARGS = f"data.{COMPAT_PACKAGE}.sprintf_args"
COMPAT_CALLS = {name: f"data.{COMPAT_PACKAGE}.{name}_cut"
                for name in ("trim", "trim_left", "trim_right")}
"""Builtins templates call through the compatibility functions instead."""
_UNSAFE = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True, slots=True)
class TemplateModules:
    template: Template
    package: str
    modules: tuple[RegoModule, ...]
    reads_inventory: bool


def library_modules() -> list[RegoModule]:
    """The match library and the rego-cpp compatibility functions templates call."""
    return [RegoModule(name, text, package, location=Location(name, 1),
                       source=read_source(text))
            for name, text, package in ((MATCH_MODULE_NAME, MATCH_REGO, MATCH_PACKAGE),
                                        (COMPAT_MODULE_NAME, COMPAT_REGO, COMPAT_PACKAGE))]


def template_modules(template: Template, name: str, problems: list[Problem]
                     ) -> TemplateModules | None:
    """The template's modules; `name` is the main module's name (its file path)."""
    kind = template.kind.lower()
    libs_prefix = f"{LIBS_PACKAGE}.{kind}"
    package = f"{TEMPLATES_PACKAGE}.{kind}"
    before = len(problems)
    modules, reads_inventory = [], False
    sources = [(template.rego, name, package)]
    for i, lib in enumerate(template.libs):
        lib_package = read_source(lib.text).package or ""
        if not lib_package.startswith("lib."):
            problems.append(Problem(
                "load", f"{template.kind}: libs[{i}] declares package {lib_package or '(none)'}"
                "; a template's libs must use packages under lib. (Gatekeeper's rule)",
                _where(template, lib, 1)))
            continue
        sources.append((lib, f"{name}#{template.kind}.libs[{i}]",
                        f"{libs_prefix}.{lib_package}"))
    for rego, module_name, module_package in sources:
        module = _module(template, rego, module_name, module_package, libs_prefix, problems)
        if module is None:
            continue
        modules.append(module[0])
        reads_inventory = reads_inventory or module[1]
    if len(problems) > before:
        return None
    main = modules[0]
    if main.source is None or "violation" not in main.source.defined:
        problems.append(Problem("load", f"{template.kind}: the template's Rego defines no "
                                "`violation` rule", _where(template, template.rego, 1)))
        return None
    return TemplateModules(template, package, tuple(modules), reads_inventory)


def _module(template: Template, rego: RegoText, name: str, package: str, libs_prefix: str,
            problems: list[Problem]) -> tuple[RegoModule, bool] | None:
    try:
        text, reads_inventory = _rewrite_data_refs(rego.text, libs_prefix)
        translated = translate(text, package=package, sprintf_args=SPRINTF_ARGS,
                               compat=COMPAT_CALLS,
                               first_line=rego.line if rego.exact else 1)
    except TranslationError as exc:
        problems.append(Problem("load", f"{template.kind}: {exc}",
                                _where(template, rego, exc.line)))
        return None
    source = read_source(translated)
    return RegoModule(name, translated, package, frozenset(),
                      _where(template, rego, 1), source), reads_inventory


def _where(template: Template, rego: RegoText, line: int) -> Location:
    if rego.exact:
        return Location(template.location.file, rego.line + line - 1)
    return Location(template.location.file, rego.line)


def _rewrite_data_refs(text: str, libs_prefix: str) -> tuple[str, bool]:
    """`data.lib.x` -> the template's own lib packages; anything in `data` other than
    `inventory` and `lib` is refused, as Gatekeeper refuses it."""
    code = [t for t in tokenize(text) if t.kind != "comment"]
    edits, reads_inventory = [], False
    for i, tok in enumerate(code):
        if tok.kind != "ident" or tok.text != "data" or (i and code[i - 1].text == "."):
            continue
        nxt = code[i + 2].text if i + 2 < len(code) and code[i + 1].text == "." else None
        if nxt == "lib":
            edits.append(Edit(tok.start, tok.end, f"data.{libs_prefix}"))
        elif nxt == "inventory":
            reads_inventory = True
        else:
            raise TranslationError(
                f"data.{nxt or '…'}: a template may read only data.inventory and data.lib.*",
                tok.line)
    return apply_edits(text, edits), reads_inventory


def constraint_module(constraint: Constraint, template: TemplateModules,
                      match: Mapping[str, Any]) -> RegoModule:
    """`deny`: the template's violations where `spec.match` selects the reviewed object."""
    package = f"{CONSTRAINTS_PACKAGE}.{constraint.kind.lower()}.{package_ident(constraint.name)}"
    literal = json.dumps(dict(match), sort_keys=True)
    text = (
        f"package {package}\n\nimport rego.v1\n\n"
        f"# {constraint.kind}/{constraint.name}: generated by pathwarden.\n"
        f"match_criteria := {literal}\n\n"
        "deny contains violation if {\n"
        f"\tdata.{MATCH_PACKAGE}.matches(match_criteria)\n"
        f"\tsome violation in data.{template.package}.violation\n"
        "}\n"
    )
    name = f"{constraint.location.file}#{constraint.kind}/{constraint.name}"
    return RegoModule(name, text, package, frozenset(("deny",)), constraint.location,
                      read_source(text))


def package_ident(name: str) -> str:
    """A Rego identifier for a constraint name (DNS names hold `-` and `.`)."""
    ident = _UNSAFE.sub("_", name.lower())
    if ident != name or ident[:1].isdigit() or ident in KEYWORDS:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        ident = f"c_{ident}_{digest}"
    return ident
