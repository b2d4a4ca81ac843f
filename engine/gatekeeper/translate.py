"""Rego v0 -> v1, on the parsed structure of a module, for Gatekeeper templates.

Most published ConstraintTemplates are Rego v0 (`violation[{"msg": msg}] { … }`,
`f(x) = y { … }`, `default p = false`, `else = v { … }`); rego-cpp reads only v1 and
silently gives a v0 head another meaning. A line regex breaks on multi-line heads, on
comments and on strings that hold braces, so this walks the module's tokens (the lexer of
`engine.rego.source`, which knows strings, raw strings and comments) statement by
statement, finds each rule head by bracket depth, and edits the text in place:

| v0                                  | v1                                        |
|-------------------------------------|-------------------------------------------|
| `p { … }`                           | `p if { … }`                              |
| `p = v { … }` / `p = v`             | `p := v if { … }` / `p := v`              |
| `p[x] { … }` (partial set)          | `p contains x if { … }`                   |
| `p[k] = v { … }` (partial object)   | `p[k] := v if { … }`                      |
| `f(x) { … }` / `f(x) = y { … }`     | `f(x) if { … }` / `f(x) := y if { … }`    |
| `default p = v`                     | `default p := v`                          |
| `} else = v { … }` / `} else { … }` | `} else := v if { … }` / `} else if { … }`|
| `p { a } { b }` (two bodies)        | `p if { a }` and, at the end, `p if { b }`|
| `import future.keywords…`           | dropped (`import rego.v1` is added)       |
| `re_match`, `net.cidr_overlap`      | `regex.match`, `net.cidr_contains`        |
| `any(x)`, `all(x)`, `set_diff(a, b)`| `(true in x)`, a count comprehension, `(a - b)` |

These rewrites keep OPA's meaning and work around rego-cpp 1.5.2, which rejects, misreads
or crashes on the original:

- a ref with a wildcard inside a call or a collection (`lower(x[_])`, `[a[_].b]`) fails
  with "Invalid bracket argument": the ref is bound first, in the same statement,
  `__pw_w1 := x[_]; lower(__pw_w1)` (what OPA does itself). Negated statements are left
  alone (`not f(x[_])` means "for no element", which a binding would change);
- in a comprehension, `v = f(outer)` for a variable `v` of the comprehension alone fails
  with "Unable to unify due to cycle" when `f`'s arguments use a variable of the rule:
  `v := f(outer)` (the same, since `v` is unbound there);
- in a rule body, `v := a[_]` followed by a lookup keyed by `v` (`t[v]`) crashes the
  process: `v = a[_]` (the same, since `:=` declares a fresh variable).

For rego-cpp's sake, and only when asked (`sprintf_args`, `compat`), the values of every
`sprintf` are also passed through a function that returns them unchanged in OPA's
semantics, and builtins named in `compat` are called through replacements.

Every edit stays on its line, so rego-cpp's errors point at the template's own lines: the
package and `import rego.v1` go on two lines in front, and `first_line` pads the rest so
line N of the Rego lands on line `first_line + N - 1` (the YAML file's line). Only the
extra bodies of a multi-body rule move (to the end). Heads already in v1 are left alone,
so translating a v1 module changes nothing but the package and imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..rego.source import Token, read_source, tokenize
from .regocpp_rewrites import RegoCppRewrites

HEADER_LINES = 2
"""`package …` and `import rego.v1` come first; the translated text follows."""
_OPERAND_KEYWORDS = frozenset(("contains", "in", "not", "some", "every", "if", "else", "with",
                               "as", "default", "import", "package"))
_RENAMED = {"re_match": "regex.match"}
_WILDCARD_VAR = "__pw_w"


class TranslationError(ValueError):
    """The module cannot be translated; `line` is the line in the text given."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Edit:
    start: int
    end: int
    text: str


def translate(text: str, *, package: str | None = None, first_line: int = 1,
              sprintf_args: str | None = None,
              compat: Mapping[str, str] | None = None) -> str:
    """The v1 module for `text`, optionally renamed to `package`.

    `first_line`: where line 1 of `text` should land in the result (>= 3 keeps every line
    exactly; smaller values shift the text down by the difference).
    `sprintf_args`: a function every `sprintf` argument list is passed through (see
    `modules.COMPAT_REGO`: rego-cpp 1.5.2 garbles strings that other builtins made).
    `compat`: builtin name -> the function called instead (same arguments and meaning)."""
    code = [t for t in tokenize(text) if t.kind != "comment"]
    check_brackets(code, shift=first_line - 1)
    walker = _Walker(text, code, sprintf_args, compat)
    walker.run()
    if walker.package is None:
        raise TranslationError("no package declaration", 1)
    body = apply_edits(text, walker.edits)
    moved = walker.moved_rules()
    if moved:
        body = body.rstrip("\n") + "\n" + "\n".join(moved) + "\n"
    pad = max(first_line - 1 - HEADER_LINES, 0)
    result = f"package {package or walker.package}\nimport rego.v1\n" + "\n" * pad + body
    shift = HEADER_LINES + pad
    for head, line in read_source(result).v0_heads:  # a self-check: nothing v0 may remain
        raise TranslationError(f"could not translate the rule head `{head}`", line - shift)
    return result


def check_brackets(code: list[Token], *, shift: int = 0) -> None:
    """Every bracket closed by its own kind: the structure below relies on it, and the
    message can name both lines, which rego-cpp's parser does not. `shift` turns a line
    of the text into a line of the file it came from, for the message."""
    pairs = {"}": "{", "]": "[", ")": "("}
    stack: list[Token] = []
    for tok in code:
        if tok.text in ("{", "[", "("):
            stack.append(tok)
        elif tok.text in pairs:
            if not stack:
                raise TranslationError(f"`{tok.text}` closes nothing", tok.line)
            opener = stack.pop()
            if opener.text != pairs[tok.text]:
                raise TranslationError(f"`{tok.text}` does not close the `{opener.text}` "
                                       f"opened on line {opener.line + shift}", tok.line)
    if stack:
        raise TranslationError(f"`{stack[-1].text}` is never closed", stack[-1].line)


def apply_edits(text: str, edits: list[Edit]) -> str:
    out, at = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < at:
            raise AssertionError(f"overlapping edits at offset {edit.start}")
        out.append(text[at:edit.start])
        out.append(edit.text)
        at = edit.end
    out.append(text[at:])
    return "".join(out)


def _term_end(tok: Token) -> bool:
    """Whether `tok` can end a term, so that a `{` after it opens a rule body."""
    if tok.kind in ("string", "raw", "number"):
        return True
    if tok.text in (")", "]", "}"):
        return True
    return tok.kind == "ident" and tok.text not in _OPERAND_KEYWORDS


class _Walker(RegoCppRewrites):
    """One pass over the top-level statements: package, imports, rules."""

    def __init__(self, text: str, code: list[Token], sprintf_args: str | None = None,
                 compat: Mapping[str, str] | None = None):
        self.text, self.code, self.n = text, code, len(code)
        self.sprintf_args = sprintf_args
        self.compat = dict(compat or {})
        self.edits: list[Edit] = []
        self.moved: list[tuple[int, int, str]] = []  # body start, end, translated head
        self.moved_edits: dict[int, list[Edit]] = {}
        self.package: str | None = None
        self.defined: set[str] = set()
        self.imported: set[str] = set()
        self.rules: list[tuple[int, int]] = []  # token ranges of the rules
        self.bodies: list[tuple[int, int]] = []  # `{` and `}` of each rule body
        self.parent, self.match = _structure(code)

    def moved_rules(self) -> list[str]:
        """The extra bodies of multi-body rules, as rules of their own, with the edits made
        inside them (they are blanked where they were)."""
        out = []
        for start, end, head in self.moved:
            inner = self.moved_edits.get(start, [])
            body = apply_edits(self.text[start:end], [Edit(e.start - start, e.end - start,
                                                           e.text) for e in inner])
            out.append(f"{head} if {body}")
        return out

    def edit(self, start: int, end: int, text: str) -> None:
        self.edits.append(Edit(start, end, text))

    def run(self) -> None:
        i = 0
        while i < self.n:
            tok = self.code[i]
            if tok.text == "package" and tok.depth == 0:
                i = self._package(i)
            elif tok.text == "import" and tok.depth == 0:
                i = self._import(i)
            elif tok.kind == "ident" and tok.depth == 0:
                i = self._rule(i)
            else:
                raise TranslationError(f"unexpected `{tok.text}` where a rule should start",
                                       tok.line)
        self._rego_cpp_workarounds()
        self._deprecated_builtins()
        self._blank_moved_bodies()

    def _line_end(self, i: int) -> int:
        j = i + 1
        while j < self.n and self.code[j].line == self.code[i].line:
            j += 1
        return j

    def _package(self, i: int) -> int:
        end = self._line_end(i)
        self.package = "".join(t.text for t in self.code[i + 1:end])
        self.edit(self.code[i].start, self.code[end - 1].end, "")
        return end

    def _import(self, i: int) -> int:
        end = self._line_end(i)
        ref = "".join(t.text for t in self.code[i + 1:end])
        if ref == "rego.v1" or ref == "future.keywords" or ref.startswith("future.keywords."):
            self.edit(self.code[i].start, self.code[end - 1].end, "")
        else:
            self.imported.add(self.code[end - 1].text)  # the alias, or the last segment
        return end

    # --- rules --------------------------------------------------------------------------

    def _rule(self, i: int) -> int:
        code = self.code
        is_default = code[i].text == "default"
        head_start = i + 1 if is_default else i
        if head_start >= self.n:
            raise TranslationError("`default` without a rule", code[i].line)
        self.defined.add(code[head_start].text)
        head_end = self._head_end(head_start)
        head_edits = self._head(head_start, head_end, is_default)
        self.edits.extend(head_edits)
        if is_default:
            self.rules.append((i, head_end))
            return head_end
        rule_start, i = i, self._body(head_end)
        extra = False
        while i < self.n and code[i].depth == 0:
            if code[i].text == "else":
                if extra:
                    raise TranslationError("`else` after a second rule body is not supported",
                                           code[i].line)
                i = self._else(i)
            elif code[i].text == "{":
                extra = True
                i = self._extra_body(i, head_start, head_end, head_edits)
            else:
                break
        self.rules.append((rule_start, i))
        return i

    def _head_end(self, start: int) -> int:
        """The first token after the head: `if`, the body's `{`, or the next statement."""
        code, j = self.code, start + 1
        while j < self.n:
            tok = code[j]
            if tok.depth == 0:
                if tok.text == "if" or (tok.text == "{" and _term_end(code[j - 1])):
                    return j
                if tok.text == "else" or (tok.line_start and tok.kind == "ident"):
                    return j
            j += 1
        return j

    def _head(self, start: int, end: int, is_default: bool) -> list[Edit]:
        code = self.code
        top = [k for k in range(start, end) if code[k].depth == 0]
        assign = next((k for k in top if code[k].text in ("=", ":=")), None)
        if assign is not None:
            tok = code[assign]
            return [Edit(tok.start, tok.end, ":=")] if tok.text == "=" else []
        if is_default:
            raise TranslationError("`default` rule without a value", code[start].line)
        if any(code[k].text == "contains" for k in top):
            return []
        last = code[end - 1]
        if last.text != "]" or end - 1 == start:
            return []  # `p`, `f(x)`, `a.b`: complete rules and functions keep their head
        opener = next(k for k in range(end - 2, start - 1, -1)
                      if code[k].text == "[" and code[k].depth == 0)
        if opener == start:
            raise TranslationError("a rule head cannot start with `[`", last.line)
        return [Edit(code[opener].start, code[opener].end, " contains "),
                Edit(last.start, last.end, "")]

    def _close(self, i: int) -> int:
        """The index of the `}`, `]` or `)` that closes the bracket at `i`."""
        code, depth = self.code, self.code[i].depth
        closer = {"{": "}", "[": "]", "(": ")"}[code[i].text]
        for j in range(i + 1, self.n):
            if code[j].depth == depth and code[j].text == closer:
                return j
        raise TranslationError(f"`{code[i].text}` is never closed", code[i].line)

    def _body(self, i: int) -> int:
        """Past the body at `i` (`if {…}`, `if expr`, or v0 `{…}`, made `if {…}`)."""
        code = self.code
        if i >= self.n or code[i].depth != 0:
            return i
        if code[i].text == "{":
            self.edit(code[i].start, code[i].start, "if ")
            self.bodies.append((i, self._close(i)))
            return self._close(i) + 1
        if code[i].text != "if":
            return i  # no body: `p := 1`, `p contains "a"`
        j = i + 1
        if j < self.n and code[j].text == "{" and code[j].depth == 0:
            self.bodies.append((j, self._close(j)))
            return self._close(j) + 1
        while j < self.n and not (j > i + 1 and code[j].depth == 0 and code[j].line_start):
            j += 1
        return j

    def _else(self, i: int) -> int:
        code, j = self.code, i + 1
        if j < self.n and code[j].text in ("=", ":=") and code[j].depth == 0:
            if code[j].text == "=":
                self.edit(code[j].start, code[j].end, ":=")
            j += 1
            value = j
            while j < self.n:
                tok = code[j]
                if tok.depth == 0 and j > value and (
                        tok.text == "if" or (tok.text == "{" and _term_end(code[j - 1]))
                        or tok.line_start):
                    break
                j += 1
        return self._body(j)

    def _extra_body(self, i: int, head_start: int, head_end: int,
                    head_edits: list[Edit]) -> int:
        """v0 `p { a } { b }`: the second body becomes its own rule at the module's end."""
        code = self.code
        close = self._close(i)
        self.bodies.append((i, close))
        h0, h1 = code[head_start].start, code[head_end - 1].end
        head = apply_edits(self.text[h0:h1], [Edit(e.start - h0, e.end - h0, e.text)
                                               for e in head_edits])
        self.moved.append((code[i].start, code[close].end, head))
        return close + 1

    def _blank_moved_bodies(self) -> None:
        """Each extra body is blanked where it was (its lines stay); `moved_rules` writes it
        again, with its edits, at the end. The edits inside it leave the main text."""
        for start, end, _ in self.moved:
            inside = [e for e in self.edits if start <= e.start and e.end <= end]
            self.moved_edits[start] = inside
            self.edits = [e for e in self.edits if e not in inside]
            self.edit(start, end, re.sub(r"[^\n]", " ", self.text[start:end]))

    def _deprecated_builtins(self) -> None:
        code = self.code
        for i, tok in enumerate(code[:-1]):
            if tok.kind != "ident" or code[i + 1].text != "(" or tok.text in self.defined:
                continue
            if i > 0 and code[i - 1].text == ".":
                if (tok.text == "cidr_overlap" and i > 1 and code[i - 2].text == "net"
                        and (i < 3 or code[i - 3].text != ".")):
                    self.edit(tok.start, tok.end, "cidr_contains")
                continue
            paren = code[i + 1]
            if tok.text == "sprintf" and self.sprintf_args:
                self._wrap_second_argument(i + 1, self.sprintf_args)
            elif tok.text in self.compat:
                self.edit(tok.start, tok.end, self.compat[tok.text])
            elif tok.text in _RENAMED:
                self.edit(tok.start, tok.end, _RENAMED[tok.text])
            elif tok.text == "any":
                self.edit(tok.start, paren.end, "(true in ")
            elif tok.text == "all":
                close = code[self._close(i + 1)]
                var = f"__pw_all{i}"
                self.edit(tok.start, paren.end, f"(count([{var} | some {var} in ")
                self.edit(close.start, close.end, f"; {var} != true]) == 0)")
            elif tok.text == "set_diff":
                close_index = self._close(i + 1)
                commas = [k for k in range(i + 2, close_index)
                          if code[k].text == "," and code[k].depth == paren.depth + 1]
                if len(commas) != 1:
                    raise TranslationError("set_diff takes two arguments", tok.line)
                self.edit(tok.start, paren.end, "(")
                self.edit(code[commas[0]].start, code[commas[0]].end, " -")

    def _wrap_second_argument(self, paren_index: int, function: str) -> None:
        code = self.code
        close = self._close(paren_index)
        depth = code[paren_index].depth + 1
        commas = [k for k in range(paren_index + 1, close)
                  if code[k].text == "," and code[k].depth == depth]
        if len(commas) != 1:
            return  # not sprintf(format, values): rego-cpp reports it
        first = code[commas[0] + 1]
        self.edit(first.start, first.start, f"{function}(")
        self.edit(code[close].start, code[close].start, ")")


def _structure(code: list[Token]) -> tuple[list[int], dict[int, int]]:
    """For each token the index of the innermost bracket around it (-1: none), and each
    bracket's partner (brackets are known to be balanced: `check_brackets`)."""
    parent, match, stack = [], {}, []
    for k, tok in enumerate(code):
        if tok.text in ("}", "]", ")") and stack:
            opener = stack.pop()
            match[opener], match[k] = k, opener
        parent.append(stack[-1] if stack else -1)
        if tok.text in ("{", "[", "("):
            stack.append(k)
    return parent, match
