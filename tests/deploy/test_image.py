"""The production image holds the product and nothing of the local stand-ins.

The image is built from the Dockerfile's `COPY` lines; this rebuilds that file set in a
temporary folder and imports every module of it in a Python that cannot see the checkout,
so a product module that needs a stand-in fails here, not in production.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IMPORT_ALL = r"""
import importlib, pkgutil, sys
sys.path = [p for p in sys.path if p not in ("", {root!r})]
sys.path.insert(0, {image!r})
failed = []
for package in {packages!r}:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name.startswith(("migrations.versions", "migrations.env")):
            continue  # Alembic runs these itself, inside its own context
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{{info.name}}: {{exc!r}}")
importlib.import_module("worker")
try:
    importlib.import_module("standins")
except ModuleNotFoundError:
    pass
else:
    failed.append("standins is importable")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def copied_paths() -> list[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    paths: list[str] = []
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        paths.extend(sources.split())
    return paths


def test_dockerfile_copies_no_standin() -> None:
    assert not [path for path in copied_paths() if path.startswith("standins")]


def test_every_product_module_imports_without_the_standins(tmp_path: Path) -> None:
    image = tmp_path / "app"
    image.mkdir()
    for path in copied_paths():
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, image / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, image / path)
    packages = sorted(p.name for p in image.iterdir() if (p / "__init__.py").exists())
    script = IMPORT_ALL.format(root=str(ROOT), image=str(image), packages=packages)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
