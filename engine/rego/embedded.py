"""The default Rego backend: rego-cpp through `regopy`, compiled once, no server.

Measured on this project's 2-core machine (see bench/eval.py): turning a Python dict into
a regopy input costs far more than evaluating a rule body, so each input is converted
once per target and shared by every package evaluated on it. regopy's own converter walks
the value with abstract-type checks; `_convert` does the same C calls with exact-type
dispatch and is about twice as fast.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import regopy
from regopy import rego_shared as _c

from ..errors import PolicyLoadError, Problem, truncate
from ..model import Location
from .results import RULES, RegoModule, RuleResult, rule_value
from .source import KEYWORDS, Token, tokenize


def _quiet_shutdown() -> None:
    """regopy's finalizers call module globals that are already gone at interpreter exit
    and print a traceback for every live bundle; the process is ending, so skip them."""
    import regopy.interpreter as interpreter

    for name in ("Bundle", "Interpreter"):
        cls = getattr(interpreter, name, None)
        if cls is not None:
            cls.__del__ = lambda self: None


atexit.register(_quiet_shutdown)

# The input builders are tiny C calls, hundreds per object. Through regopy's CDLL each one
# releases and retakes the GIL, and under a threaded server every retake can wait for
# another thread's switch interval; the same library through PyDLL keeps the GIL.
_lib = ctypes.PyDLL(_c.path)
for _name in ("regoInputString", "regoInputObjectItem", "regoInputObject", "regoInputArray",
              "regoInputBoolean", "regoInputInt", "regoInputFloat", "regoInputNull"):
    _fn, _shared = getattr(_lib, _name), getattr(_c.rego, _name)
    _fn.argtypes, _fn.restype = _shared.argtypes, _shared.restype
# rego-cpp prints errors as S-expressions (trieste's node format): `(error`, one per
# error, at the top or as a child of `(rego-errorseq`; `(kind N:name|offset|length` for a
# node whose source differs from its parent's; strings as `N:bytes`. Lengths and offsets
# count bytes, not characters, so the text is read as bytes.
_ERROR_START = re.compile(rb"^(?:  )?\(error\b", re.M)
_ERROR_MSG = re.compile(rb"\(errormsg (\d+):")
_NAMED_NODE = re.compile(rb"\([\w-]+ (\d+):")
_SPAN = re.compile(rb"\|(\d+)\|(\d+)")
_HINTS = {
    "Invalid bracket argument": "rego-cpp 1.5.2 refuses a `x[_]` ref among the arguments of "
    "a call or the items of a collection: bind it first (`v := x[_]; f(v)`); for "
    "`not f(x[_])` write `count([1 | v := x[_]; f(v)]) == 0`",
}
"""A sentence for rego-cpp messages that do not say what to change."""


class Compiled:
    """An interpreter with a built bundle: set an input once, query entrypoints."""

    def __init__(self, modules: list[RegoModule], data: dict[str, Any] | None,
                 entrypoints: list[str]):
        self.lock = threading.Lock()
        self.interp = regopy.Interpreter()
        self.interp.log_level = regopy.LogLevel.NONE
        sources = {m.name: m.text for m in modules}
        problems: list[Problem] = []
        for module in modules:
            try:
                self.interp.add_module(module.name, module.text)
            except regopy.RegoError as exc:
                problems.extend(compile_problems(str(exc), sources, module.name))
        problems.extend(unknown_function_problems(modules, self.interp.is_builtin))
        problems.extend(arity_problems(modules))
        if problems:
            raise PolicyLoadError(in_files(problems, modules))
        if data:
            self.interp.add_data_json(json.dumps(data))
        try:
            self.bundle = self.interp.build(None, entrypoints or ["pathwarden_empty/deny"])
        except regopy.RegoError as exc:
            raise PolicyLoadError(in_files(compile_problems(str(exc), sources, None),
                                           modules)) from exc
        if not self.bundle.ok():
            raise PolicyLoadError(in_files(bundle_problems(self.bundle, sources), modules))

    def set_input(self, document: dict[str, Any]) -> None:
        """Convert and install the input; callers hold `lock` across set_input and queries."""
        handle = _convert(document)
        try:
            _c.rego_set_input(self.interp._impl, handle)
        finally:
            _c.rego_free_input(handle)

    def query(self, entrypoint: str) -> tuple[Any, str | None]:
        out = _c.rego_bundle_query_entrypoint(self.interp._impl, self.bundle._impl, entrypoint)
        try:
            ok = _c.rego_output_ok(out)
            text = _c.rego_output_string(out)
        finally:
            _c.rego_free_output(out)
        return _read_output(ok, text)


class EmbeddedRego:
    """A compiled bundle of every policy package, queried one entrypoint at a time."""

    def __init__(self, modules: list[RegoModule], data: dict[str, Any] | None = None):
        entrypoints = [f"{m.entry_path}/{r}" for m in modules for r in RULES if r in m.rules]
        self._compiled = Compiled(modules, data, entrypoints)
        self._reads = input_trie(modules)
        self._probe([m for m in modules if m.rules])

    def evaluate(self, packages: list[RegoModule], document: dict[str, Any]) -> list[RuleResult]:
        if self._reads is not None:
            document = pruned(document, self._reads)
        with self._compiled.lock:
            self._compiled.set_input(document)
            return [self._query_package(m) for m in packages]

    def _query_package(self, module: RegoModule) -> RuleResult:
        result = RuleResult()
        for rule in RULES:
            if rule not in module.rules:
                continue
            raw, error = self._compiled.query(f"{module.entry_path}/{rule}")
            values, shape_error = (None, None) if error else rule_value(rule, raw)
            if error or shape_error:
                result.error = f"{module.package}.{rule}: {error or shape_error}"
                return result
            result.values[rule] = values or []
        return result

    def _probe(self, modules: list[RegoModule]) -> None:
        """Query every entrypoint once on an empty input: shape and builtin errors show here."""
        problems = []
        for module, result in zip(modules, self.evaluate(modules, {}), strict=True):
            if result.error and not result.error.endswith(_RUNTIME_ERROR):
                problems.append(Problem("compile", result.error, module.location))
        if problems:
            raise PolicyLoadError(problems)


_RUNTIME_ERROR = "evaluation error (rego-cpp gives no detail; often conflicting values "
_RUNTIME_ERROR += "for a complete rule or function)"


def _read_output(ok: bool, text: str) -> tuple[Any, str | None]:
    if not ok:
        return None, _RUNTIME_ERROR
    if text == "undefined":
        return None, None
    if text.startswith("(error"):
        raw = text.encode()
        match = _ERROR_MSG.search(raw)
        return None, _length_prefixed(raw, match) if match else truncate(text)
    try:
        return json.loads(text)["expressions"][0], None
    except (ValueError, KeyError, IndexError, TypeError):
        return None, f"unreadable result from rego-cpp: {truncate(text, 200)}"


def _length_prefixed(raw: bytes, match: re.Match[bytes]) -> str:
    """rego-cpp writes strings as `N:bytes`; read exactly N bytes (N counts UTF-8 bytes)."""
    start = match.end()
    return raw[start : start + int(match.group(1))].decode("utf-8", errors="replace")


def compile_problems(error: str, sources: dict[str, str], fallback: str | None
                     ) -> list[Problem]:
    """Translate rego-cpp's S-expression errors into `file:line: message` problems.

    `sources`: module name -> text, to turn byte offsets into lines and columns;
    `fallback`: the file named when an error carries no location in a known module.
    """
    raw = error.encode()
    starts = [m.start() for m in _ERROR_START.finditer(raw)]
    if not starts:
        return [Problem("compile", truncate(error), Location(fallback) if fallback else None)]
    ends = [*starts[1:], len(raw)]
    return [_error_problem(raw[a:b], sources, fallback) for a, b in zip(starts, ends,
                                                                        strict=True)]


def _error_problem(raw: bytes, sources: dict[str, str], fallback: str | None) -> Problem:
    msg = _ERROR_MSG.search(raw)
    message = _length_prefixed(raw, msg) if msg else "compile error"
    hint = _HINTS.get(message)
    at = _source_position(raw, sources)
    if at is None:
        where = Location(fallback) if fallback else None
        return Problem("compile", f"{message}: {hint}" if hint else message, where)
    name, offset = at
    line, column = _line_column(sources[name], offset)
    message = f"{message} (column {column})"
    return Problem("compile", f"{message}: {hint}" if hint else message, Location(name, line))


def _source_position(raw: bytes, sources: dict[str, str]) -> tuple[str, int] | None:
    """The module and byte offset of an error: its own location when it has one, else the
    first located node of its AST (rego-cpp leaves some errors, e.g. "Unable to unify due
    to cycle", without a location of their own). Names not among `sources` are skipped:
    rego-cpp's internal sources are no file to show anyone."""
    for node in _NAMED_NODE.finditer(raw):
        name_end = node.end() + int(node.group(1))
        span = _SPAN.match(raw, name_end)
        if span is None:
            continue  # a string value (errormsg, a var's name), not a source name
        name = raw[node.end():name_end].decode("utf-8", errors="replace")
        if name in sources:
            return name, int(span.group(1))
    return None


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset into `text`."""
    data = text.encode()
    offset = min(offset, len(data))
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def bundle_problems(bundle: regopy.Bundle, sources: dict[str, str]) -> list[Problem]:
    """Why a build failed, from the bundle itself.

    For errors found while compiling (e.g. "Invalid bracket argument"), rego-cpp 1.5.2 does
    not fail `regoBuild`: it returns a bundle whose `ok()` is false, sets no interpreter
    error and prints the reasons only to stderr (not even that at log level NONE). The
    reasons are in the bundle's node, an error sequence whose children print as the same
    S-expressions `add_module` raises, so they are read the same way. The nodes belong to
    the bundle and are not freed here.
    """
    root = _c.rego_bundle_node(bundle._impl)
    problems: list[Problem] = []
    for node in _error_nodes(root):
        try:
            text = _c.rego_node_json(node)
        except regopy.RegoError:
            continue
        problems.extend(compile_problems(text, sources, None))
    return problems or [Problem("compile", "rego-cpp could not build the bundle and gave no "
                                           "reason (not even in the bundle's error nodes)")]


def _error_nodes(root: int | None) -> list[int]:
    if not root:
        return []
    kind = _c.rego.regoNodeType(root)
    if kind == _c.NodeKind.Error:
        return [root]
    if kind != _c.NodeKind.ErrorSeq:
        return []
    children = (_c.rego_node_get(root, i) for i in range(_c.rego_node_size(root)))
    return [c for c in children if c and _c.rego.regoNodeType(c) == _c.NodeKind.Error]


def in_files(problems: list[Problem], modules: list[RegoModule]) -> list[Problem]:
    """Problems on a module named `file#part` (a Gatekeeper template's lib, a second
    template in one file, a constraint's generated module) are reported in that file.

    A template's Rego (and each lib's) is translated so its lines are the YAML file's
    lines (see `gatekeeper.translate`), so the line stays; the part is named because one
    file may hold several modules. Two cases keep the module's own line, which is not the
    file's: Rego in a quoted or folded YAML scalar, and a constraint's generated module
    (pathwarden's own text, not expected to fail).
    """
    by_name = {m.name: m for m in modules}
    out = []
    for problem in problems:
        where = problem.location
        module = by_name.get(where.file) if where else None
        file = module.location.file if module and module.location else None
        if where and file and where.file.startswith(f"{file}#"):
            part = where.file[len(file) + 1:]
            problem = Problem(problem.step, f"{problem.message} (in {part})",
                              Location(file, where.line))
        out.append(problem)
    return out


def unknown_function_problems(
    modules: list[RegoModule], is_builtin: Callable[[str], bool]
) -> list[Problem]:
    """rego-cpp compiles a call to a function it lacks and fails only when it is reached."""
    defined = set().union(*(m.source.defined for m in modules if m.source))
    problems = []
    for module in modules:
        if module.source is None:
            continue
        for name, line in module.source.calls:
            head = name.split(".")[0]
            if head == "data" or head in module.source.imports:
                continue
            if name in defined or is_builtin(name):
                continue
            problems.append(Problem(
                "compile", f"unknown function {name}(): not a builtin of the embedded evaluator "
                f"(rego-cpp {regopy.rego_version()}) nor defined in a loaded module",
                Location(module.name, line)))
    return problems


def arity_problems(modules: list[RegoModule]) -> list[Problem]:
    """A function defined with two numbers of arguments in one package.

    OPA refuses this when compiling; rego-cpp 1.5.2 crashes the process building such a
    bundle (an abort or a segmentation fault, depending on what was freed before; at best
    an "Unable to unify due to cycle" with no location of its own), so it is found here,
    before the build.
    """
    first: dict[tuple[str, str], tuple[int, Location]] = {}
    problems = []
    for module in modules:
        code = [t for t in tokenize(module.text) if t.kind != "comment"]
        for i, tok in enumerate(code[:-1]):
            if not (tok.kind == "ident" and tok.line_start and tok.depth == 0
                    and code[i + 1].text == "(") or tok.text in KEYWORDS:
                continue
            arity, where = _arity(code, i + 1), Location(module.name, tok.line)
            seen = first.setdefault((module.package, tok.text), (arity, where))
            if seen[0] != arity:
                problems.append(Problem(
                    "compile", f"function {tok.text} takes {_arguments(arity)} here but "
                    f"{_arguments(seen[0])} at {seen[1]}: a function has one number of "
                    "arguments (rego-cpp 1.5.2 would crash on this)", where))
    return problems


def _arity(code: list[Token], paren: int) -> int:
    """Arguments between `code[paren]` (an opening parenthesis) and its closer."""
    depth, commas, empty = code[paren].depth, 0, True
    for tok in code[paren + 1:]:
        if tok.depth == depth:
            break
        empty = False
        commas += tok.depth == depth + 1 and tok.text == ","
    return 0 if empty else commas + 1


def _arguments(count: int) -> str:
    return f"{count} argument{'s' if count != 1 else ''}"


Trie = dict[str, "Trie | None"]


def input_trie(modules: list[RegoModule]) -> Trie | None:
    """What of `input` any module of the bundle reads, as a trie (None: all of it).

    Converting the input into rego-cpp costs more than the query itself and grows with the
    object; an UPDATE carries two. Every module counts, not only the queried packages,
    because a policy may call a library module that reads input too.
    """
    trie: Trie = {}
    for module in modules:
        paths = module.source.input_paths if module.source else None
        if paths is None:
            return None
        for path in paths:
            node = trie
            for key in path[:-1]:
                child = node.setdefault(key, {})
                if child is None:
                    break
                node = child
            else:
                node[path[-1]] = None
    return trie


def pruned(document: dict[str, Any], trie: Trie) -> dict[str, Any]:
    out = {}
    for key, sub in trie.items():
        if key in document:
            value = document[key]
            out[key] = pruned(value, sub) if sub is not None and isinstance(value, dict) \
                else value
    return out


def _convert(value: Any) -> int:
    handle = _c.rego_new_input()
    try:
        _add(handle, value)
    except BaseException:
        _c.rego_free_input(handle)
        raise
    return handle


def _add(h: int, v: Any) -> None:
    t = type(v)
    if t is str:
        _lib.regoInputString(h, v.encode())
    elif t is dict:
        for key, item in v.items():
            _lib.regoInputString(h, str(key).encode())
            _add(h, item)
            _lib.regoInputObjectItem(h)
        _lib.regoInputObject(h, len(v))
    elif t is list or t is tuple:
        for item in v:
            _add(h, item)
        _lib.regoInputArray(h, len(v))
    elif t is bool:
        _lib.regoInputBoolean(h, v)
    elif t is int:
        _lib.regoInputInt(h, v)
    elif t is float:
        _lib.regoInputFloat(h, v)
    elif v is None:
        _lib.regoInputNull(h)
    else:
        _add(h, json.loads(json.dumps(v, default=str)))
