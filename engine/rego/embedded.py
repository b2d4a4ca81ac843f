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
_ERROR_AT = re.compile(r"\(error (\d+):")
_ERROR_MSG = re.compile(r"\(errormsg (\d+):")
_SPAN = re.compile(r"\|(\d+)\|(\d+)")


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
        if problems:
            raise PolicyLoadError(problems)
        if data:
            self.interp.add_data_json(json.dumps(data))
        try:
            self.bundle = self.interp.build(None, entrypoints or ["pathwarden_empty/deny"])
        except regopy.RegoError as exc:
            raise PolicyLoadError(compile_problems(str(exc), sources, "bundle")) from exc
        if not self.bundle.ok():
            raise PolicyLoadError([Problem("compile", "rego-cpp could not build the bundle")])

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
        match = _ERROR_MSG.search(text)
        return None, _length_prefixed(text, match) if match else truncate(text)
    try:
        return json.loads(text)["expressions"][0], None
    except (ValueError, KeyError, IndexError, TypeError):
        return None, f"unreadable result from rego-cpp: {truncate(text, 200)}"


def _length_prefixed(text: str, match: re.Match[str]) -> str:
    """rego-cpp writes strings as `N:chars`; read exactly N characters."""
    start = match.end()
    return text[start : start + int(match.group(1))]


def compile_problems(error: str, sources: dict[str, str], fallback: str) -> list[Problem]:
    """Translate rego-cpp's S-expression error into `file:line: message` problems."""
    problems = []
    for at in _ERROR_AT.finditer(error):
        name = _length_prefixed(error, at)
        span = _SPAN.match(error, at.end() + len(name))
        offset = int(span.group(1)) if span else 0
        msg = _ERROR_MSG.search(error, at.end())
        message = _length_prefixed(error, msg) if msg else "compile error"
        text = sources.get(name, "")
        line = text.count("\n", 0, offset) + 1 if text else None
        column = offset - text.rfind("\n", 0, offset) if text else 0
        if column and line:
            message = f"{message} (column {column})"
        problems.append(Problem("compile", message, Location(name or fallback, line)))
    if not problems:
        problems.append(Problem("compile", truncate(error), Location(fallback)))
    return problems


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
