"""A fork server for the bot's own processes in the tests (``tests/processes.py``).

A cold ``python -m bot run`` spends three to four seconds importing aiogram (its
few hundred pydantic models), SQLAlchemy, Alembic and the bot before it does
anything; the tests that start and kill real processes start dozens of them.
This process imports those once and then forks, on request, a child that runs
``python -m <module> <args>``: its own process id, the requested environment,
working directory and standard streams (every other descriptor closed),
``sys.argv`` and ``__main__`` as ``-m`` sets them, the signal handlers a new
interpreter has.  The child is a real process: SIGKILL kills it, SIGTERM reaches
the bot's own handler, its exit code is its own.  What differs from a cold start:
the modules of ``PRELOAD`` are imported already (a command that needs fewer, such
as ``seed-demo``, finds more loaded), and frozen out of the garbage collector's
way as ``bot run`` itself does when its delivery starts.

Protocol (one ``AF_UNIX`` ``SOCK_SEQPACKET`` socket, descriptor given as the only
argument): the client sends a JSON request ``{"argv": [...], "env": {...}, "cwd": ...}``
with four descriptors (stdin, stdout, stderr, and the write end of a pipe on which
this server writes the child's wait status once it has ended); the answer is the
child's process id, with a pidfd of it (a signal sent through it cannot reach another
process that got the same id later).  When the client's end closes, every child still
running is killed and this server exits.

Run as ``python -m tests.forkserver FD``; it imports nothing of the tests.
"""

from __future__ import annotations

import array
import gc
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import sys

# What ``python -m bot run`` imports before it serves (the other commands and
# ``python -m bot.delivery`` import subsets of it).
PRELOAD = ("bot.app", "bot.delivery", "models.database", "alembic.command", "alembic.script",
           "alembic.runtime.migration")
MAX_REQUEST = 1 << 20


def _receive(sock: socket.socket) -> tuple[dict[str, object], list[int]] | None:
    fds = array.array("i")
    data, ancdata, _flags, _addr = sock.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    return json.loads(data), list(fds)


def serve(sock: socket.socket) -> tuple[dict[str, object], list[int]]:
    """Fork a child per request; returns only in a child, with its request and descriptors."""
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    children: dict[int, tuple[int, int]] = {}  # pid -> (pidfd, status pipe)
    try:
        while True:
            for key, _ in sel.select():
                if key.data is not None:  # a child has ended: its status to the client
                    pid = key.data
                    pidfd, status = children.pop(pid)
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    _, wait_status = os.waitpid(pid, 0)
                    os.write(status, str(wait_status).encode())
                    os.close(status)
                    continue
                received = _receive(sock)
                if received is None:  # the client is gone
                    raise SystemExit(0)
                request, fds = received
                pid = os.fork()
                if pid == 0:
                    sel.close()
                    sock.close()
                    for pidfd, status in children.values():
                        os.close(pidfd)
                        os.close(status)
                    children.clear()
                    return request, fds
                for fd in fds[:3]:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                children[pid] = (pidfd, fds[3])
                sel.register(pidfd, selectors.EVENT_READ, pid)
                socket.send_fds(sock, [str(pid).encode()], [pidfd])  # signals reach this very process
    finally:
        for pid in children:  # this server is ending: so are its children
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def become(request: dict[str, object], fds: list[int]) -> None:
    """In the child: the state ``python -m <module>`` starts in, then run the module."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the server ignores it
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(str(request["cwd"]))
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = [str(a) for a in argv]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client ends this server by closing its socket
    sock = socket.socket(fileno=int(sys.argv[1]))
    for name in PRELOAD:
        importlib.import_module(name)
    # What is imported lives as long as a child does: out of the collector's way, as
    # ``bot run`` puts it too (bot/delivery/__init__.py).  Otherwise each child's
    # collections, the last one at its exit above all, walk every imported object and
    # copy the pages they are on (about a second a child).
    gc.freeze()
    sock.send(b"ready")
    become(*serve(sock))


if __name__ == "__main__":
    main()
