"""The repository's key files, found among its tracked paths and parsed for policies.

Each function reads at most a handful of files: a repository scan must stay cheap when an
estate has thousands of repositories, so nothing here walks file contents wholesale.
Parse errors are recorded in the document (a broken catalog-info.yaml is itself a finding),
never raised.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .repo_reader import RepoReader

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_CATALOG_FILES = 50
MAX_TEST_FILES = 200

CATALOG_NAMES = ("catalog-info.yaml", "catalog-info.yml")
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
DOC_DIRS = ("", ".github/", "docs/")
TEST_DIRS = frozenset({"tests", "test", "__tests__", "spec"})
_TEST_FILE = re.compile(
    r"(_test\.go|^test_.*\.py|_test\.py|\.(test|spec)\.[cm]?[jt]sx?|Tests?\.(java|kt|cs)"
    r"|_spec\.rb)$")
SKIPPED_DIRS = frozenset({"node_modules", "vendor", "third_party", "testdata", "fixtures",
                          "__fixtures__", ".venv", "venv"})


def skipped(path: str) -> bool:
    """Vendored code and fixtures are somebody else's project, not this repository's."""
    return any(part in SKIPPED_DIRS for part in path.split("/")[:-1])


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


# --- catalog-info.yaml -------------------------------------------------------------------

def catalog(reader: RepoReader) -> list[dict[str, Any]]:
    """Every document of every catalog-info.yaml (root first; monorepos have several).

    Scaffolder template skeletons (`skeleton/catalog-info.yaml`) hold placeholders, not
    entities, and are left out."""
    paths = [p for p in reader.files if basename(p) in CATALOG_NAMES and not skipped(p)
             and "skeleton" not in p.split("/")[:-1]]
    paths.sort(key=lambda p: (p.count("/"), p))
    entries: list[dict[str, Any]] = []
    for path in paths[:MAX_CATALOG_FILES]:
        text, error = reader.read(path)
        if text is None:
            entries.append({"path": path, "line": None, "entity": None, "error": error})
            continue
        entries.extend(_yaml_documents(path, text))
    return entries


def _yaml_documents(path: str, text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            entity = loader.construct_document(node)
            if entity is not None:
                found.append({"path": path, "line": line, "entity": entity, "error": None})
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        found.append({"path": path, "line": mark.line + 1 if mark else None, "entity": None,
                      "error": f"invalid YAML: {reason}"})
    finally:
        loader.dispose()
    return found


# --- CODEOWNERS --------------------------------------------------------------------------

_SECTION = re.compile(r"^\^?\[([^\]]+)\](?:\[\d+\])?\s*(.*)$")


def codeowners(reader: RepoReader) -> dict[str, Any] | None:
    """The CODEOWNERS file GitHub would use (`.github/`, root, `docs/`; then `.gitlab/`)."""
    path = reader.first(CODEOWNERS_PATHS)
    if path is None:
        return None
    text, error = reader.read(path)
    return {"path": path, "rules": parse_codeowners(text or ""), "error": error}


def parse_codeowners(text: str) -> list[dict[str, Any]]:
    """Rules in file order (the last matching rule wins, as on GitHub and GitLab).

    GitLab sections (`[Backend] @team`) give their default owners to rules without any.
    """
    rules: list[dict[str, Any]] = []
    section: str | None = None
    section_owners: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            section = header[1].strip()
            section_owners = _owners(header[2])
            continue
        pattern, owners = _split_rule(line)
        rules.append({"pattern": pattern, "owners": owners or list(section_owners),
                      "line": number, "section": section})
    return rules


def _split_rule(line: str) -> tuple[str, list[str]]:
    match = re.match(r"((?:\\.|\S)+)\s*(.*)$", line)
    assert match is not None  # a non-empty stripped line always has a first word
    pattern = re.sub(r"\\(.)", r"\1", match[1])
    return pattern, _owners(match[2])


def _owners(text: str) -> list[str]:
    owners = []
    for word in text.split():
        if word.startswith("#"):
            break  # an inline comment
        owners.append(word)
    return owners


# --- README, SECURITY.md, LICENSE ----------------------------------------------------------

def readme(reader: RepoReader) -> dict[str, Any] | None:
    path = _doc_file(reader, "readme")
    if path is None:
        return None
    text, error = reader.read(path)
    return {"path": path, "size": reader.size(path), "headings": headings(path, text or ""),
            "error": error}


def security_policy(reader: RepoReader) -> str | None:
    return _doc_file(reader, "security")


def _doc_file(reader: RepoReader, stem: str) -> str | None:
    """`README.md` before `README.rst` before `README`, in the root, then .github/, docs/."""
    for folder in DOC_DIRS:
        names = [f"{folder}{stem}{ext}" for ext in (".md", ".markdown", ".rst", ".adoc",
                                                    ".txt", "")]
        found = reader.first(names, ignore_case=True)
        if found:
            return found
    return None


_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_RST_ADORNMENT = re.compile(r"^([=\-~^\"'*+#`:.])\1{2,}\s*$")


def headings(path: str, text: str) -> list[dict[str, Any]]:
    """Section titles (`level`, `text`, `line`) of Markdown, reStructuredText or AsciiDoc,
    so a policy can ask for "Getting started" or "Runbook" without parsing Markdown."""
    lines = text.splitlines()
    if path.lower().endswith(".rst"):
        return _rst_headings(lines)
    if path.lower().endswith(".adoc"):
        return [{"level": len(m[1]), "text": m[2].strip(), "line": i}
                for i, line in enumerate(lines, start=1)
                if (m := re.match(r"^(={1,6})\s+(.+)$", line))]
    found, fenced = [], False
    for i, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append({"level": len(atx[1]), "text": atx[2].strip(), "line": i})
        elif i < len(lines) and line.strip() and not line.startswith(("    ", "\t")):
            under = lines[i].strip()
            if under and set(under) <= {"="}:
                found.append({"level": 1, "text": line.strip(), "line": i})
            elif len(under) >= 2 and set(under) <= {"-"} and not line.lstrip().startswith("-"):
                found.append({"level": 2, "text": line.strip(), "line": i})
    return found


def _rst_headings(lines: list[str]) -> list[dict[str, Any]]:
    found, order = [], []
    for i in range(len(lines) - 1):
        title, under = lines[i].rstrip(), lines[i + 1].rstrip()
        if title.strip() and _RST_ADORNMENT.match(under) and len(under) >= len(title.strip()) \
                and not _RST_ADORNMENT.match(title):
            if under[0] not in order:
                order.append(under[0])
            found.append({"level": order.index(under[0]) + 1, "text": title.strip(),
                          "line": i + 1})
    return found


LICENSE_NAMES = tuple(f"{stem}{ext}" for stem in ("LICENSE", "LICENCE", "COPYING")
                      for ext in ("", ".md", ".txt", ".rst"))


def license_file(reader: RepoReader) -> dict[str, Any] | None:
    path = reader.first(LICENSE_NAMES, ignore_case=True)
    if path is None:  # LICENSE-MIT / LICENSE-APACHE of dual-licensed projects
        path = next((p for p in reader.files if "/" not in p
                     and p.upper().startswith(("LICENSE-", "LICENCE-"))), None)
    if path is None:
        return None
    text, error = reader.read(path)
    return {"path": path, "spdx": guess_spdx(text or ""), "error": error}


def guess_spdx(text: str) -> str | None:
    """The SPDX id of the common licences from their well-known wording; None otherwise
    (a guess that is wrong is worse than no guess for a licence policy)."""
    declared = re.search(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+-]+)", text)
    if declared:
        return declared[1]
    flat = " ".join(text.split())
    low = flat.lower()
    if "apache license" in low and "version 2.0" in low:
        return "Apache-2.0"
    if "mozilla public license" in low and ("version 2.0" in low or "v. 2.0" in low):
        return "MPL-2.0"
    if "GNU GENERAL PUBLIC LICENSE" in flat and re.search(r"version 3\b", low):
        return "GPL-3.0"
    if ("permission is hereby granted, free of charge, to any person obtaining a copy" in low
            and "the above copyright notice and this permission notice shall be included" in low
            and "x consortium" not in low and "not evil" not in low):
        return "MIT"
    if ("redistribution and use in source and binary forms" in low
            and "neither the name of" in low and "all advertising materials" not in low):
        return "BSD-3-Clause"
    return None


# --- tests and pipelines ---------------------------------------------------------------------

def tests(reader: RepoReader) -> dict[str, Any]:
    """Where the tests are: topmost test folders, and test files (by folder or by name)."""
    dirs: set[str] = set()
    files: list[str] = []
    for path in reader.files:
        if skipped(path):
            continue
        parts = path.split("/")
        folder = next((i for i, part in enumerate(parts[:-1]) if part in TEST_DIRS), None)
        if folder is not None:
            dirs.add("/".join(parts[:folder + 1]) + "/")
            files.append(path)
        elif _TEST_FILE.search(parts[-1]):
            files.append(path)
    return {"dirs": sorted(dirs), "files": files[:MAX_TEST_FILES], "file_count": len(files)}


def workflows(reader: RepoReader) -> list[str]:
    """CI definitions, listed only: the pipeline source parses them."""
    return [p for p in reader.files
            if (p.startswith(".github/workflows/") and p.count("/") == 2
                and p.endswith((".yml", ".yaml"))) or p == ".gitlab-ci.yml"]
