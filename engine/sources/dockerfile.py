"""Dockerfile stages and users, read the way BuildKit reads them.

Only what supply-chain and runtime policies judge is extracted: each `FROM` (base image,
tag, digest, stage name, platform, whether it builds on an earlier stage) and the `USER`
the final image runs as. Global `ARG` defaults are substituted into `FROM` lines, because
`FROM python:${PY}` with `ARG PY=3.12` is how many teams pin versions; line continuations,
comments, the `escape` directive and heredocs are honoured so that line numbers point at
the instruction a person would edit.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
ROOT_USERS = frozenset({"root", "0"})


def is_dockerfile(path: str) -> bool:
    """`Dockerfile`, `Dockerfile.prod`, `api.Dockerfile`, `Containerfile` (not ignore files)."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(".dockerignore"):
        return False
    return (name in ("dockerfile", "containerfile") or name.startswith("dockerfile.")
            or name.endswith(".dockerfile"))


def parse_dockerfile(path: str, text: str) -> dict[str, Any]:
    """The `dockerfiles[]` entry of the repository document for one file."""
    stages: list[dict[str, Any]] = []
    global_args: dict[str, str | None] = {}
    scope: dict[str, str | None] = {}
    for keyword, args, line in instructions(text):
        if keyword == "FROM":
            stage = _stage(args, line, len(stages), global_args, stages)
            stages.append(stage)
            scope = {}
        elif not stages:
            if keyword == "ARG":
                global_args.update(_assignments(args, global_args))
        elif keyword in ("ARG", "ENV"):
            known = {**global_args, **scope}
            for key, value in _assignments(args, known, env=keyword == "ENV").items():
                # An ARG without a default inside a stage re-imports the global default.
                scope[key] = value if value is not None or keyword == "ENV" else \
                    global_args.get(key)
        elif keyword == "USER" and args.strip():
            stage = stages[-1]
            stage["user"] = expand(args.strip(), {**global_args, **scope})
            stage["user_line"] = line
    user, user_line = _effective_user(stages)
    return {
        "path": path,
        "stages": stages,
        "user": user,
        "user_line": user_line,
        "error": None if stages else "no FROM instruction",
    }


def is_root_user(user: str) -> bool:
    """`root`, `0`, `0:0`, `root:root`: the user part decides, a group cannot make it safe."""
    return user.split(":", 1)[0].strip() in ROOT_USERS


def instructions(text: str) -> Iterator[tuple[str, str, int]]:
    """(KEYWORD, arguments, first line) for each instruction; heredoc bodies are skipped."""
    escape = "\\"
    lines = text.splitlines()
    i, directives_allowed = 0, True
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if directives_allowed:
            directive = _DIRECTIVE.match(stripped)
            if directive and directive[1].lower() == "escape" and directive[2] in ("\\", "`"):
                escape = directive[2]
                i += 1
                continue
            if not directive:
                directives_allowed = False
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        parts: list[str] = []
        while True:
            content = lines[i].rstrip()
            if content.endswith(escape) and i + 1 < len(lines):
                parts.append(content[:-1])
                i += 1
                while i < len(lines) and (not lines[i].strip()
                                          or lines[i].lstrip().startswith("#")):
                    i += 1  # comments and blank lines inside a continuation are dropped
                if i >= len(lines):
                    break
                continue
            parts.append(content)
            i += 1
            break
        logical = " ".join(p.strip() for p in parts)
        keyword, _, args = logical.partition(" ")
        if keyword.upper() in ("RUN", "COPY", "ADD"):  # the instructions BuildKit gives heredocs
            i = _skip_heredocs(args, lines, i)
        yield keyword.upper(), args.strip(), start


def _skip_heredocs(args: str, lines: list[str], i: int) -> int:
    for strip_tabs, _, word in _HEREDOC.findall(args):
        while i < len(lines):
            body = lines[i].lstrip("\t") if strip_tabs else lines[i]
            i += 1
            if body.rstrip() == word:
                break
    return i


def expand(text: str, variables: dict[str, str | None]) -> str:
    """BuildKit's `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`; unknown ones stay
    as written so a policy can say the reference cannot be resolved."""

    def one(match: re.Match[str]) -> str:
        name = match[1] or match[4]
        value = variables.get(name)
        operator, word = match[2], match[3] or ""
        if operator in (":-", "-"):
            unset = value is None if operator == "-" else not value
            return word if unset else str(value)
        if operator in (":+", "+"):
            present = value is not None if operator == "+" else bool(value)
            return word if present else ""
        return match[0] if value is None else str(value)

    return _VAR.sub(one, text)


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """`registry:5000/team/app:1.2@sha256:…` -> (`registry:5000/team/app`, `1.2`, `sha256:…`)."""
    name, _, digest = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag or None, digest or None


def _stage(args: str, line: int, index: int, global_args: dict[str, str | None],
           earlier: list[dict[str, Any]]) -> dict[str, Any]:
    words = args.split()
    platform = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--platform="):
            platform = flag.split("=", 1)[1]
    reference = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    expanded = expand(reference, global_args)
    names = {s["name"].lower(): s["name"] for s in earlier if s["name"]}
    base_stage = names.get(expanded.lower())
    if base_stage is not None or expanded.lower() == "scratch":
        image, tag, digest = expanded, None, None
    else:
        image, tag, digest = split_image(expanded)
    return {"index": index, "from": reference, "image": image, "tag": tag, "digest": digest,
            "name": name, "platform": platform, "base_stage": base_stage, "line": line,
            "user": None, "user_line": None}


def _effective_user(stages: list[dict[str, Any]]) -> tuple[str | None, int | None]:
    """The final stage's USER, inherited through `FROM <earlier stage>` when it sets none."""
    by_name = {s["name"].lower(): s for s in stages if s["name"]}
    stage = stages[-1] if stages else None
    seen: set[int] = set()
    while stage is not None and stage["index"] not in seen:
        seen.add(stage["index"])
        if stage["user"] is not None:
            return stage["user"], stage["user_line"]
        base = stage["base_stage"]
        stage = by_name.get(base.lower()) if base else None
    return None, None


def _assignments(args: str, known: dict[str, str | None], *,
                 env: bool = False) -> dict[str, str | None]:
    """`ARG A=1 B`, `ENV A=1 B=2`, and the legacy `ENV A 1` form."""
    try:
        words = shlex.split(args, comments=False, posix=True)
    except ValueError:
        words = args.split()
    if env and words and "=" not in words[0]:
        return {words[0]: expand(" ".join(words[1:]), known)}
    result: dict[str, str | None] = {}
    for word in words:
        key, has_value, value = word.partition("=")
        if key:
            result[key] = expand(value, {**known, **result}) if has_value else None
    return result
