"""Shared fixtures: writing policy directories and manifests into a temp folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """write("dir/file.rego", text) -> Path, with the text dedented."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


def rego_policy(policy_id: str, package: str, body: str, **custom: str) -> str:
    extra = "".join(f"#   {k}: {v}\n" for k, v in custom.items())
    return (
        "# METADATA\n# title: T\n# custom:\n"
        f"#   id: {policy_id}\n#   kinds: [Pod]\n{extra}"
        f"package {package}\n\nimport rego.v1\n\n{textwrap.dedent(body).strip()}\n"
    )
