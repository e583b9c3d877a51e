"""What an API process imports: the bot's and the charts' libraries only when they are used.

Each `lumabot api --workers N` process imports the app itself, so a library on its import path
is paid for N times at every start; aiogram alone took about 3 s. The webhook mode, the
worker's notifications and a Gemini key load theirs when they are on (`api.telegram`,
`activities.notify`, `api.main._rubric_reader`).
"""

from __future__ import annotations

import json
import subprocess
import sys

# Heavy libraries an API without the bot's webhook, Gemini or a worker has no use for.
NOT_AT_START = ("aiogram", "matplotlib", "google.genai")


def test_importing_the_api_leaves_the_bot_charts_and_gemini_unloaded() -> None:
    probe = (
        "import json, sys\n"
        "from api.main import app_from_environment, create_app\n"
        f"print(json.dumps([m for m in {NOT_AT_START!r} if m in sys.modules]))\n"
    )
    # A fresh interpreter: this one has loaded them for other tests.
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
