"""Rewrites that keep OPA's meaning and get templates past rego-cpp 1.5.2's faults.

Mixed into the translator's walker (`translate._Walker`), which provides the tokens, the
bracket structure and `edit`. See `translate`'s module docstring for the three faults:
a wildcard ref inside a call or a collection, `=` on a comprehension's own variable, and
an iterated variable later used as a lookup key.
"""

from __future__ import annotations

from collections.abc import Callable

from ..rego.source import KEYWORDS, Token

_WILDCARD_VAR = "__pw_w"
_CONTINUES = frozenset(("==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "&", "|",
                        "=", ":=", ",", "in", "with", "as", "not", "some", "every"))
"""A line ending in one of these goes on on the next line (`name ==` / `lower(x)`)."""


class RegoCppRewrites:
    text: str
    code: list[Token]
    bodies: list[tuple[int, int]]
    parent: list[int]
    match: dict[int, int]
    edit: Callable[[int, int, str], None]

    def _rego_cpp_workarounds(self) -> None:
        code, wildcards = self.code, 0
        comprehensions: dict[int, int] = {}  # opener -> its `|`
        rule_braces = {o for o, _ in self.bodies}  # `|` there is a set union
        for bar, p in enumerate(self.parent):
            if code[bar].text == "|" and p >= 0 and code[p].text in ("[", "{") and \
                    p not in rule_braces:
                comprehensions.setdefault(p, bar)
        bodies = [(o, o + 1, c) for o, c in self.bodies]
        bodies += [(p, bar + 1, self.match[p]) for p, bar in comprehensions.items()]
        for opener, first, close in sorted(bodies):
            for start, end in self._statements(first, close):
                if code[start].text in ("not", "some", "every", "default") or any(
                        code[k].text == "with" for k in range(start, end)):
                    continue
                wildcards = self._hoist_wildcards(opener, start, end, comprehensions,
                                                  wildcards)
                if opener in comprehensions:
                    self._assign_fresh(opener, comprehensions[opener], start, end)
                else:
                    self._unify_iteration(opener, start, end)

    def _statements(self, first: int, close: int) -> list[tuple[int, int]]:
        """The statements of the body from token `first` to its closer: split at `;` and at
        lines that start at the body's own depth, unless the line before ends in an
        operator that wants its right-hand side."""
        code, out, start = self.code, [], None
        depth = code[first].depth if first < close else -1
        for k in range(first, close):
            tok = code[k]
            ends = tok.text == ";" or (tok.line_start and code[k - 1].text not in _CONTINUES)
            if tok.depth == depth and ends and start is not None:
                out.append((start, k))
                start = None
            if tok.depth == depth and tok.text == ";":
                continue
            start = k if start is None else start
        if start is not None:
            out.append((start, close))
        return out

    def _hoist_wildcards(self, opener: int, start: int, end: int,
                         comprehensions: dict[int, int], count: int) -> int:
        code, depth, k = self.code, self.code[start].depth, start
        while k < end - 2:
            tok = code[k]
            if not (tok.text == "[" and code[k + 1].text == "_" and code[k + 2].text == "]"
                    and tok.depth > depth and self._directly_in(k, opener, comprehensions)):
                k += 1
                continue
            ref = self._ref_span(k)
            if ref is None:
                k += 3
                continue
            count += 1
            name, (r0, r1) = f"{_WILDCARD_VAR}{count}", ref
            ref_text = self.text[code[r0].start:code[r1 - 1].end]
            self.edit(code[start].start, code[start].start, f"{name} := {ref_text}; ")
            self.edit(code[r0].start, code[r1 - 1].end, name)
            k = r1
        return count

    def _directly_in(self, k: int, opener: int, comprehensions: dict[int, int]) -> bool:
        """Token `k` is in the body opened at `opener`, not in a comprehension inside it."""
        p = self.parent[k]
        while p != opener:
            if p < 0 or p in comprehensions:
                return False
            p = self.parent[p]
        return True

    def _ref_span(self, bracket: int) -> tuple[int, int] | None:
        """The tokens of the ref that `[_]` at `bracket` belongs to: `a.b[_].c[0]`. None when
        it is not a plain ref on one line (a call's result, a literal)."""
        code, j = self.code, bracket - 1
        while j >= 0:
            tok = code[j]
            if tok.text == "]":
                j = self.match[j] - 1
            elif tok.kind == "ident" and tok.text not in KEYWORDS:
                if j > 0 and code[j - 1].text == ".":
                    j -= 2
                else:
                    break
            else:
                return None
        if j < 0:
            return None
        k = bracket
        while k < self.n:
            if code[k].text == "[" and code[k].start == code[k - 1].end:
                k = self.match[k] + 1
            elif code[k].text == "." and k + 1 < self.n and code[k + 1].kind == "ident":
                k += 2
            else:
                break
        span = code[j:k]
        if any(t.text == "(" for t in span) or span[0].line != span[-1].line:
            return None
        return j, k

    def _unify_iteration(self, opener: int, start: int, end: int) -> None:
        """`v := a[_]` -> `v = a[_]` in a rule body: rego-cpp 1.5.2 crashes the process when
        a variable assigned by iterating is then used as a key (`t[v]`); with `=` it does
        not. The same for OPA: `:=` declares a variable that is fresh in the body."""
        code = self.code
        if end - start < 3 or code[start].kind != "ident" or code[start + 1].text != ":=":
            return
        name = code[start].text
        if (name in ("_", "input", "data") or name in KEYWORDS or name in self.defined
                or name in self.imported or not self._iterating_ref(start + 2, end)):
            return
        rule = next((r for r in self.rules if r[0] <= opener < r[1]), (0, self.n))
        if any(code[k].text == name and code[k].kind == "ident" for k in range(rule[0], start)):
            return  # a head variable, an argument, or bound before: leave it as written
        tok = code[start + 1]
        self.edit(tok.start, tok.end, "=")

    def _iterating_ref(self, first: int, end: int) -> bool:
        """Tokens `first`..`end` are one ref with a variable index: `a.b[_]`, `a[i].c`."""
        code = self.code
        if code[first].kind != "ident" or code[first].text in KEYWORDS:
            return False
        k, iterates = first + 1, False
        while k < end:
            if code[k].text == "." and k + 1 < end and code[k + 1].kind == "ident":
                k += 2
            elif code[k].text == "[" and code[k].start == code[k - 1].end:
                close = self.match[k]
                inner = code[k + 1:close]
                iterates = iterates or (len(inner) == 1 and inner[0].kind == "ident"
                                        and inner[0].text not in KEYWORDS)
                k = close + 1
            else:
                return False
        return iterates

    def _assign_fresh(self, opener: int, bar: int, start: int, end: int) -> None:
        """`v = expr` -> `v := expr` when `v` is the comprehension's own, unbound variable."""
        code = self.code
        if end - start < 3 or code[start].kind != "ident" or code[start + 1].text != "=":
            return
        name = code[start].text
        if (name == "_" or name in KEYWORDS or name in self.defined or name in self.imported
                or code[start + 1].depth != code[start].depth):
            return
        rule = next((r for r in self.rules if r[0] <= opener < r[1]), (0, self.n))
        for k in range(rule[0], rule[1]):
            if k == start or opener < k < bar:  # this statement, the comprehension's head
                continue
            named = code[k].text == name and code[k].kind == "ident" and (
                k == 0 or code[k - 1].text != ".")
            if named and (k < opener or k > self.match[opener] or bar < k < end):
                return  # bound outside, before, or read by its own expression
        tok = code[start + 1]
        self.edit(tok.start, tok.end, ":=")

    # --- builtins removed from Rego v1 --------------------------------------------------
