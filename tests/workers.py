"""Worker processes for tests that kill or stop one: `lumabot worker`, as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`lumabot worker` with `env` as its whole environment, its output appended to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [LUMABOT, "worker"], env=env, stdout=sink, stderr=sink, stdin=subprocess.DEVNULL
        )
