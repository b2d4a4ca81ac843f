"""Packaging: what a real install (the wheel, the container image) holds and runs.

Every Python package folder is in pyproject's explicit `packages` list: the editable
install used in development finds unlisted folders anyway, so only a real install would
miss them. The wheel is built from exactly what deploy/image/Dockerfile copies, installed
alone, and run; there is no Docker engine here to build the image itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages"


# --- the wheel and the image ------------------------------------------------------------------

DOCKERFILE = ROOT / "deploy" / "image" / "Dockerfile"
RUN_MAIN = ("import sys; from pathwarden.engine.cli.main import main; "
            "sys.exit(main(sys.argv[1:]))")


def copied_sources() -> list[str]:
    """What the Dockerfile's build stage copies from the build context."""
    sources = []
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            sources += parts[1:-1]
    return sources


def test_the_dockerfile_copies_files_that_exist_and_versions_agree():
    sources = copied_sources()
    assert {"pyproject.toml", "engine", "policies", "scorecards", "webhook"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert f'org.opencontainers.image.version="{version}"' in DOCKERFILE.read_text("utf-8")
    images = [line.split("image:", 1)[1].strip()
              for path in (ROOT / "deploy").rglob("*.yaml")
              for line in path.read_text("utf-8").splitlines()
              if "image: ghcr.io/pathwarden/pathwarden" in line]
    assert images and set(images) == {f"ghcr.io/pathwarden/pathwarden:{version}"}
    chart = (ROOT / "deploy/helm/pathwarden/Chart.yaml").read_text("utf-8")
    assert f'appVersion: "{version}"' in chart


def test_the_wheel_holds_every_runtime_file_and_runs_without_the_source_tree(tmp_path):
    # The image's build context: exactly what the Dockerfile copies.
    context = tmp_path / "context"
    context.mkdir()
    for source in copied_sources():
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, context / source,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / source, context / source)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(wheels), str(context)], check=True, capture_output=True, timeout=600)
    [wheel] = wheels.glob("pathwarden-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    assert "pathwarden = pathwarden.engine.cli.main:main" in entry_points
    runtime = [p for folder, pattern in (("policies", "**/*.rego"), ("policies", "**/*.yaml"),
                                         ("policies", "**/*.py"),
                                         ("scorecards/templates", "*"),
                                         ("scorecards/static", "*"),
                                         ("scorecards/builtin", "*.yaml"),
                                         ("engine/output", "*.json"),
                                         ("engine/store/migrations", "**/*"))
               for p in (ROOT / folder).glob(pattern)
               if p.is_file() and "__pycache__" not in p.parts]
    missing = [str(p.relative_to(ROOT)) for p in runtime
               if f"pathwarden/{p.relative_to(ROOT)}" not in names]
    assert missing == [], "files the running product reads are not in the wheel"

    # Installed on its own and run with site processing off (-S), so the development
    # checkout's editable install cannot stand in for it; dependencies from the venv.
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=600)
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), site])}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-S", "-c", RUN_MAIN, *args], env=env,
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)

    where = subprocess.run([sys.executable, "-S", "-c", "import pathwarden.policies as p; "
                            "print(p.__file__)"], env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(target)), where
    listed = run("policies")
    assert listed.returncode == 0, listed.stderr
    assert "pss-baseline-host-namespaces" in listed.stdout
    judged = run("eval", str(ROOT / "examples/estate/manifests"), "--format", "json")
    assert judged.returncode in (0, 1), judged.stderr
    assert json.loads(judged.stdout)
    upgraded = run("db", "upgrade", "--database-url", f"sqlite:///{tmp_path / 'pw.db'}")
    assert upgraded.returncode == 0, upgraded.stderr
