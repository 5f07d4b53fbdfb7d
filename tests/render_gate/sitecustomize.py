"""Holds a report's files in the middle of their rendering, in a bot process a
test is about to kill (``tests/e2e/test_durability.py``).

Python imports ``sitecustomize`` at start from the first directory of its path
that has one: the test puts this directory on the ``PYTHONPATH`` of that one
``python -m bot run`` and names a file in ``GRIDBOT_TEST_RENDER_GATE``.  Every
report's rendering then writes that file (the test waits for it) and waits for
ever, in the rendering thread, so the kill lands while the files render; the
bot's own code is untouched.  Without the variable this does nothing.
"""

from __future__ import annotations

import os

_GATE = os.environ.get("GRIDBOT_TEST_RENDER_GATE")

if _GATE:
    import sys
    import threading
    from pathlib import Path
    from typing import Any

    # This runs before ``-m`` puts the working directory on the path: the bot's
    # modules are taken from this checkout (the one the test runs), as they will be.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bot.services import reports

    def _held(report: Any) -> Any:  # noqa: ARG001 - never rendered: the process dies here
        Path(_GATE).write_text("rendering\n", encoding="utf-8")
        threading.Event().wait()  # never set
        raise AssertionError("the render gate was passed")

    reports.render_files = _held  # handlers.reports.router calls it as reports.render_files
