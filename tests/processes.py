"""The bot's own processes for the tests that start and kill them: ``python -m
<module>`` from the repository root, and how such a process is ended."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def spawn_module(env: dict[str, str], log: Path, *args: str) -> asyncio.subprocess.Process:
    """``python -m <args>`` with ``env``, its output appended to ``log``."""
    with log.open("ab") as fh:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", *args, cwd=ROOT, env=env, stdout=fh, stderr=fh,
            stdin=asyncio.subprocess.DEVNULL,
        )


async def end_process(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` and wait (30 s at most) for the exit code; kill it if it is still there."""
    if proc.returncode is None:
        proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
