"""Import Python policy files by path, so organisation policy folders need no packaging."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from ..errors import Problem
from ..model import Location


def import_file(path: Path, step: str = "load") -> tuple[ModuleType | None, Problem | None]:
    """Import `path` under a private name; a failure becomes a Problem with file and line."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"pathwarden_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name], None
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None, Problem(step, "not an importable Python file", Location(str(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        return None, Problem(step, f"syntax error: {exc.msg}", Location(str(path), exc.lineno))
    except Exception as exc:  # any import-time error of a user file is reported, not raised
        del sys.modules[name]
        line = _line_in(path, exc)
        message = f"{type(exc).__name__}: {exc}"
        return None, Problem(step, message, Location(str(path), line))
    return module, None


def _line_in(path: Path, exc: BaseException) -> int | None:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve() == path.resolve():
            return frame.lineno
    return None
