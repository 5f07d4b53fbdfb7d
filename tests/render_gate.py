"""``python -m tests.render_gate <module> <args>``: ``python -m <module> <args>`` with
every report's rendering held, in a bot process a test is about to kill
(``tests/e2e/test_durability.py``).

The rendering writes the file named by ``GRIDBOT_TEST_RENDER_GATE`` (the test waits
for it) and then waits for ever, in the rendering thread, so the kill lands while
the files render; the bot's own code is untouched.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
from pathlib import Path
from typing import Any


def _held(report: Any) -> Any:  # noqa: ARG001 - never rendered: the process dies here
    Path(os.environ["GRIDBOT_TEST_RENDER_GATE"]).write_text("rendering\n", encoding="utf-8")
    threading.Event().wait()  # never set
    raise AssertionError("the render gate was passed")


if __name__ == "__main__":
    from bot.services import reports

    reports.render_files = _held  # handlers.reports.router calls it as reports.render_files
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
