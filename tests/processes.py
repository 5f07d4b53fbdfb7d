"""The bot's own processes for the tests that start and kill them: ``python -m
<module>`` from the repository root, and how such a process is ended.

They are forked by a fork server (tests/forkserver.py) that has imported the bot
once, instead of each importing aiogram, SQLAlchemy and Alembic anew (three to
four seconds a process).  Each is still a process of its own, started with the
environment, working directory and streams asked for, killed and ended by real
signals; its exit code is its own.  A process whose environment changes how the
interpreter starts (a ``PYTHON*``, locale or zone variable other than the fork
server's) starts cold, as do the processes of other code in another directory
(tests/test_rolling_upgrade.py); tests/test_config.py and tests/test_migrations.py
start theirs cold too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]

PIPE = asyncio.subprocess.PIPE
STDOUT = asyncio.subprocess.STDOUT
DEVNULL = asyncio.subprocess.DEVNULL
Stream = int | IO[Any] | None


def _interpreter_env(env: dict[str, str]) -> dict[str, str]:
    """The variables that change how the interpreter starts (its paths, flags, locale, zone)."""
    return {k: v for k, v in env.items() if k.startswith(("PYTHON", "LC_")) or k in ("LANG", "TZ")}


class _ForkServer:
    """This process's fork server, started at the first request; it ends when this process does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._env: dict[str, str] = {}

    def serves(self, env: dict[str, str], cwd: Path) -> bool:
        """Whether a child of the fork server starts as ``python -m`` would: in the
        directory it was started in (the first entry of ``sys.path``), with the same
        interpreter settings, and no library preloaded into every process
        (``scripts/test-at``'s libfaketime starts each process's clock at the given
        moment, where a child would inherit the server's; and it does not survive a
        fork reliably: numpy's first import in a child's thread crashed).  Any dynamic-loader
        variable (``LD_*``) starts the process cold: the loader reads them only when a program starts."""
        if any(k.startswith("LD_") for k in (*env, *os.environ)):
            return False
        started = self._env if self._sock is not None else _interpreter_env(dict(os.environ))
        return cwd == ROOT and _interpreter_env(env) == started

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()
        self._env = _interpreter_env(dict(os.environ))
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.forkserver", str(theirs.fileno())], cwd=ROOT, env=dict(os.environ),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, pass_fds=[theirs.fileno()])
        ready = ours.recv(16)
        if ready != b"ready":
            self._failed(ours, "did not start")
        self._sock = ours
        atexit.register(self.close)
        return ours

    def _failed(self, sock: socket.socket, what: str) -> None:
        sock.close()
        self._sock = None
        log = b""
        if self._log is not None:
            self._log.seek(0)
            log = self._log.read()
        raise RuntimeError(f"the fork server {what}: {log.decode(errors='replace')[-3000:]}")

    def fork(self, argv: list[str], env: dict[str, str], cwd: Path, fds: list[int]) -> tuple[int, int]:
        """A child running ``python -m argv`` with ``fds`` as its stdin, stdout, stderr and
        status pipe; its process id and a pidfd of it."""
        with self._lock:
            sock = self._sock or self._start()
            request = json.dumps({"argv": argv, "env": env, "cwd": str(cwd)}).encode()
            socket.send_fds(sock, [request], fds)
            answer, pidfd, _flags, _addr = socket.recv_fds(sock, 32, 1)
            if not answer or len(pidfd) != 1:
                self._failed(sock, "ended")
            return int(answer), pidfd[0]

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._proc is not None:
                self._proc.wait()  # it ends at once: no timeout (its loop of sleeps fails under libfaketime)
                self._proc = None


_SERVER = _ForkServer()


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _stream_reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(fd, "rb", 0))
    return reader


class ForkedProcess:
    """A child of the fork server, with the interface of :class:`asyncio.subprocess.Process`
    that the tests use."""

    def __init__(self, pid: int, pidfd: int, status: int, stdout: asyncio.StreamReader | None,
                 stderr: asyncio.StreamReader | None) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdout = stdout
        self.stderr = stderr
        self._pidfd = pidfd
        self._status = status
        self._ended: asyncio.Future[None] | None = None

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it has ended: nothing to do (as Popen)
                signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        if self.returncode is None:
            if self._ended is None:  # one reader of the status, however many wait
                self._ended = asyncio.ensure_future(self._read_status())
            await asyncio.shield(self._ended)
        assert self.returncode is not None
        return self.returncode

    async def _read_status(self) -> None:
        """The wait status, written by the fork server once the child has ended."""
        loop = asyncio.get_running_loop()
        status = b""
        try:
            while True:
                try:
                    data = os.read(self._status, 64)
                except BlockingIOError:
                    readable = loop.create_future()
                    loop.add_reader(self._status, _set_once, readable)
                    try:
                        await readable
                    finally:
                        loop.remove_reader(self._status)
                    continue
                if not data:
                    break
                status += data
        finally:
            os.close(self._status)
            os.close(self._pidfd)
        if not status:
            raise RuntimeError(f"the fork server ended before its child {self.pid}")
        self.returncode = os.waitstatus_to_exitcode(int(status))

    async def communicate(self) -> tuple[bytes | None, bytes | None]:
        async def read(stream: asyncio.StreamReader | None) -> bytes | None:
            return None if stream is None else await stream.read()

        out, err = await asyncio.gather(read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err


async def python_m(*args: str, env: dict[str, str], cwd: Path = ROOT, stdin: Stream = DEVNULL,
                   stdout: Stream = None, stderr: Stream = None) -> ForkedProcess | asyncio.subprocess.Process:
    """``python -m <args>`` with ``env`` in ``cwd``; the streams as for
    :func:`asyncio.create_subprocess_exec` (PIPE, DEVNULL, STDOUT for stderr, a file, or
    None: this process's own)."""
    if not _SERVER.serves(env, Path(cwd)):
        return await asyncio.create_subprocess_exec(sys.executable, "-m", *args, cwd=cwd, env=env,
                                                    stdin=stdin, stdout=stdout, stderr=stderr)
    given: list[int] = []  # the child's ends, closed here once it has them
    readers: list[int | None] = [None, None]
    null = os.open(os.devnull, os.O_RDWR)
    given.append(null)

    def child_end(stream: Stream, index: int) -> int:
        if stream is None:
            return index
        if stream == DEVNULL:
            return null
        if stream == PIPE:
            read, write = os.pipe()
            readers[index - 1] = read
            given.append(write)
            return write
        if isinstance(stream, int):
            return stream
        return stream.fileno()

    fds = [child_end(stdin, 0), child_end(stdout, 1)]
    fds.append(fds[1] if stderr == STDOUT else child_end(stderr, 2))
    status_read, status_write = os.pipe()
    given.append(status_write)
    try:
        pid, pidfd = await asyncio.to_thread(_SERVER.fork, list(args), env, cwd, [*fds, status_write])
    except BaseException:
        for fd in (status_read, *(r for r in readers if r is not None)):
            os.close(fd)
        raise
    finally:
        for fd in given:
            os.close(fd)
    os.set_blocking(status_read, False)
    out = None if readers[0] is None else await _stream_reader(readers[0])
    err = None if readers[1] is None else await _stream_reader(readers[1])
    return ForkedProcess(pid, pidfd, status_read, out, err)


async def spawn_module(env: dict[str, str], log: Path, *args: str) -> ForkedProcess | asyncio.subprocess.Process:
    """``python -m <args>`` with ``env``, its output appended to ``log``."""
    with log.open("ab") as fh:
        return await python_m(*args, env=env, stdout=fh, stderr=fh)


async def end_process(proc: ForkedProcess | asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` and wait (30 s at most) for the exit code; kill it if it is still there."""
    if proc.returncode is None:
        proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
