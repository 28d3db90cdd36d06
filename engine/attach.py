"""Foreground containers: stream conmon's attach socket to our stdio, then return the exit code.

conmon sends one packet per read of the container's output: a stream byte
(2 stdout, 3 stderr) and up to 8192 bytes. What we write goes to the
container's stdin (only with ``-i``); shutting down our write side closes it.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time

from . import lifecycle
from .containers import read_exit_file
from .fsutil import write_all
from .state import status as st

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from .engine import Engine

STDOUT, STDERR = 2, 3


def run_attached(engine: "Engine", c: dict[str, Any], *, stdin_fd: int | None = 0,
                 stdout_fd: int = 1, stderr_fd: int = 2) -> int:
    """Start ``c`` attached, copy its output until it ends, clean up; returns its exit code.

    Like Podman's attached run, signals sent to podium (Ctrl-C, TERM, HUP, ...) are
    passed on to the container, and podium stays until it ends. Containers
    without a restart policy then need no exit command: this process records the
    exit and cleans up itself, which spares a second podium process per run.
    """
    import signal

    from . import tty as ttys

    ctrs = engine.containers
    policy = (c["config"].get("restart_policy") or {}).get("Name", "no")
    terminal = bool(c["config"].get("tty"))
    size_fd = ttys.size_source(stdin_fd, stdout_fd) if terminal else None
    lifecycle.start_dependencies(engine, c)
    with ctrs.lock(c["id"]):
        c = ctrs.reload(c["id"])
        launched, sock = lifecycle.start_locked(engine, c, attach=True, exit_command=policy != "no",
                                                tty_size=ttys.window_size(size_fd) if size_fd is not None else None)
    launched.close()
    assert sock is not None

    def proxy(signum: int, _frame: object) -> None:
        try:
            engine.runtime.kill(c["id"], str(signum))
        except Exception:  # noqa: BLE001 - the container may be gone already
            pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                signal.SIGUSR2):
        signal.signal(sig, proxy)
    interactive = bool(c["config"].get("interactive")) and stdin_fd is not None
    if interactive:
        threading.Thread(target=_pump_stdin, args=(stdin_fd, sock), daemon=True).start()
    else:
        sock.shutdown(socket.SHUT_WR)
    bundle = engine.paths.bundle(c["id"])
    try:
        # a -t container's keys (Ctrl-C too) go to its terminal as they are typed
        with ttys.raw_terminal(stdin_fd if terminal and interactive else None), \
                ttys.follow_resizes(size_fd, lambda size: ttys.resize_via_ctl(bundle, size)):
            copy_output(sock, stdout_fd, stderr_fd)
    finally:
        sock.close()
    code = wait_exit_code(engine, c["id"])
    with ctrs.lock(c["id"]):
        lifecycle.cleanup_locked(engine, c["id"], restart=True)
    if engine.store.container(c["id"]) is None:
        try:
            os.unlink(engine.paths.exit_file(c["id"]))
        except OSError:
            pass
    return code


def copy_output(sock: socket.socket, stdout_fd: int, stderr_fd: int) -> None:
    while True:
        data = sock.recv(8193)
        if not data:
            return
        fd = stderr_fd if data[0] == STDERR else stdout_fd
        write_all(fd, data[1:])


def _pump_stdin(fd: int, sock: socket.socket) -> None:
    try:
        while True:
            r, _, _ = select.select([fd], [], [])
            data = os.read(fd, 8192)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def wait_exit_code(engine: "Engine", cid: str) -> int:
    """The exit code, from conmon's exit file or, once the exit command ran, from the store."""
    exit_file = engine.paths.exit_file(cid)
    interval = 0.001
    while True:
        code = read_exit_file(exit_file)
        if code is not None:
            return code
        c = engine.store.container(cid)
        if c is not None and c["state"]["status"] == st.EXITED:
            return int(c["state"].get("exit_code", 0))
        if c is None:
            code = read_exit_file(exit_file)
            return code if code is not None else 0
        time.sleep(interval)
        interval = min(interval * 2, 0.05)
