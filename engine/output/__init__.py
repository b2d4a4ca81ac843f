"""Output formats: one module per format behind one signature, chosen from FORMATS.

Every format renders a `Report`: the findings, the policies they came from (for titles,
remediation and links) and the problems met on the way (unreadable files, load errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import Problem
from ..model import Finding, Policy


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    policies: dict[str, Policy]
    problems: list[Problem] = field(default_factory=list)
    tool_version: str = "0.1.0"


Renderer = Callable[[Report], str]
FORMAT_NAMES = ("table", "json", "sarif", "junit")


def formats() -> dict[str, Renderer]:
    from . import json_format, junit, sarif, table

    return {
        "table": table.render,
        "json": json_format.render,
        "sarif": sarif.render,
        "junit": junit.render,
    }
