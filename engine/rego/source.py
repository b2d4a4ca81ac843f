"""Reading Rego source without evaluating it: package, `# METADATA`, calls, v0 heads.

rego-cpp accepts only Rego v1 and reports some mistakes only at query time (an unknown
builtin answers with a non-JSON error string; a v0 head `deny[msg] { … }` silently means
something else). A small lexer that knows strings and comments lets the loader find those
before anything is evaluated, with the right line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

KEYWORDS = frozenset((
    "not", "some", "every", "in", "if", "contains", "else", "with", "as", "default",
    "import", "package", "true", "false", "null",
))
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:=|==|!=|<=|>=|[{}\[\]().,;:=|&<>+\-*/%])
  | (?P<other>.)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    line: int
    depth: int
    line_start: bool
    start: int = 0
    """Offset of the token in the text: lets a rewriter (the Gatekeeper v0->v1
    translation) edit the source in place and keep every comment and line where it was."""
    end: int = 0


@dataclass(slots=True)
class RegoSource:
    """What the loader needs to know about one module."""

    package: str | None = None
    package_line: int = 0
    metadata: dict | None = None
    metadata_line: int = 0
    imports: dict[str, str] = field(default_factory=dict)  # alias -> imported ref
    defined: set[str] = field(default_factory=set)  # rule and function names
    calls: list[tuple[str, int]] = field(default_factory=list)  # dotted name, line
    v0_heads: list[tuple[str, int]] = field(default_factory=list)  # head text, line
    input_paths: tuple[tuple[str, ...], ...] | None = ()
    """The `input.a.b` prefixes the module reads; None when it may read any of input."""


def tokenize(text: str) -> Iterator[Token]:
    line, depth, line_start = 1, 0, True
    for m in _TOKEN.finditer(text):
        kind, value = m.lastgroup or "other", m.group()
        if kind == "nl":
            line, line_start = line + 1, True
            continue
        if kind == "ws":
            continue
        if kind == "comment":
            yield Token(kind, value, line, depth, line_start, m.start(), m.end())
            continue
        if value in "}])":
            depth = max(0, depth - 1)
        yield Token(kind, value, line, depth, line_start, m.start(), m.end())
        if value in "{[(":
            depth += 1
        line += value.count("\n")
        line_start = False


def read_source(text: str) -> RegoSource:
    tokens = list(tokenize(text))
    src = RegoSource()
    _read_metadata(tokens, src)
    code = [t for t in tokens if t.kind != "comment"]
    for i, tok in enumerate(code):
        if tok.kind == "ident" and tok.text == "package" and tok.line_start and tok.depth == 0:
            src.package, src.package_line = _ref_text(code, i + 1), tok.line
        elif tok.kind == "ident" and tok.text == "import" and tok.line_start and tok.depth == 0:
            _read_import(code, i + 1, src)
    _read_rules(code, src)
    src.input_paths = _input_paths(code)
    return src


def _input_paths(code: list[Token]) -> tuple[tuple[str, ...], ...] | None:
    """Static `input.x.y` prefixes. Anything else that touches input (`input[k]`, `input`
    passed whole, `with`) means the whole input, so pruning never changes a result."""
    paths: set[tuple[str, ...]] = set()
    for i, tok in enumerate(code):
        if tok.kind != "ident":
            continue
        if tok.text == "with":
            return None
        if tok.text != "input" or (i > 0 and code[i - 1].text == "."):
            continue
        path: list[str] = []
        j = i + 1
        while (j + 1 < len(code) and code[j].text == "." and code[j + 1].kind == "ident"
               and code[j].line == code[j + 1].line):
            path.append(code[j + 1].text)
            j += 2
        if not path:
            return None
        paths.add(tuple(path))
    return tuple(sorted(paths))


def _read_metadata(tokens: list[Token], src: RegoSource) -> None:
    """The `# METADATA` block right before `package` holds the policy's metadata."""
    block: list[str] | None = None
    start = 0
    for tok in tokens:
        if tok.kind == "comment":
            body = tok.text[1:]
            if body.strip() == "METADATA":
                block, start = [], tok.line
            elif block is not None:
                block.append(body[1:] if body.startswith(" ") else body)
            continue
        if block is not None and tok.text == "package":
            parsed = yaml.safe_load("\n".join(block)) or {}
            if not isinstance(parsed, dict):
                raise ValueError(f"line {start}: # METADATA must be a YAML mapping")
            src.metadata, src.metadata_line = parsed, start
        if tok.text == "package":
            return
        block = None


def _ref_text(code: list[Token], i: int) -> str:
    parts = []
    while i < len(code) and (code[i].kind in ("ident", "string") or code[i].text in ".[]"):
        if code[i].line != code[i - 1].line and parts:
            break
        parts.append(code[i].text)
        i += 1
    return "".join(parts)


def _read_import(code: list[Token], i: int, src: RegoSource) -> None:
    ref = _ref_text(code, i)
    j = i
    while j < len(code) and code[j].line == code[i].line and code[j].text != "as":
        j += 1
    alias = code[j + 1].text if j + 1 < len(code) and code[j].text == "as" else ref.split(".")[-1]
    if ref.startswith("data.") or ref == "data" or ref.startswith("input"):
        src.imports[alias] = ref


def _read_rules(code: list[Token], src: RegoSource) -> None:
    in_head = False
    head_start = 0
    for i, tok in enumerate(code):
        if tok.depth == 0 and tok.line_start:
            in_head = tok.kind == "ident" and tok.text not in ("package", "import")
            head_start = i
            if in_head:
                name = tok.text if tok.text != "default" else _next_text(code, i)
                if name not in KEYWORDS:
                    src.defined.add(name)
        if tok.text == "{" and tok.depth == 0 and in_head:
            if _opens_v0_body(code[i - 1]) and not any(
                t.text == "if" for t in code[head_start:i]
            ):
                head = " ".join(t.text for t in code[head_start:i])
                src.v0_heads.append((head, code[head_start].line))
            in_head = False
        if tok.text == "(" and i > 0 and code[i - 1].kind == "ident":
            name, first = _call_name(code, i - 1)
            if code[first].line_start and code[first].depth == 0:
                continue  # a function definition: f(x) := …
            if name.split(".")[0] not in KEYWORDS:
                src.calls.append((name, tok.line))


def _opens_v0_body(prev: Token) -> bool:
    """A top-level `{` right after a head term (not after `:=`, `if`, …) is a v0 rule body."""
    if prev.text in ("]", ")") or prev.kind in ("string", "number", "raw"):
        return True
    return prev.kind == "ident" and prev.text not in ("if", "contains", "in", "else")


def _next_text(code: list[Token], i: int) -> str:
    return code[i + 1].text if i + 1 < len(code) else ""


def _call_name(code: list[Token], end: int) -> tuple[str, int]:
    """Walk back over `a.b.c` ending at code[end]; return the dotted name and first index."""
    parts = [code[end].text]
    i = end
    while i >= 2 and code[i - 1].text == "." and code[i - 2].kind == "ident":
        parts.append(code[i - 2].text)
        i -= 2
    return ".".join(reversed(parts)), i
