"""Pseudo-terminals: ``run -t``, ``start -a`` of a ``-t`` container, ``exec -t``.

A container made with ``-t`` runs with ``process.terminal`` set; conmon (``-t``)
asks runc for the pty through a console socket, keeps its master end, logs what
comes out of it and relays it on the attach socket as stdout. An ``exec -t``
has no conmon: podium itself listens on a console socket, receives the master
from ``runc exec`` (SCM_RIGHTS) and relays it.

When podium's own stdin is a terminal it is put in raw mode for the session
(keys, Ctrl-C included, go to the container's terminal, which makes them
signals there) and restored afterwards; the container's window size follows
podium's terminal (conmon's ``ctl`` fifo, or TIOCSWINSZ on an exec's master).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct

from .fsutil import write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Callable, Iterator

RESIZE = 1  # conmon's ctl fifo: "<type> <height> <width>\n", type 1 resizes the pty


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on ``fd``, None when it is not a terminal."""
    import fcntl
    import termios
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def size_source(*fds: int | None) -> int | None:
    """The first of ``fds`` that is a terminal with a size: where a container's size comes from."""
    return next((fd for fd in fds if fd is not None and window_size(fd)), None)


def set_window_size(fd: int, size: tuple[int, int]) -> None:
    import fcntl
    import termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


def resize_via_ctl(bundle: "Path", size: tuple[int, int]) -> None:
    """Tell conmon to resize the container's pty (its ``ctl`` fifo in the bundle)."""
    try:
        fd = os.open(bundle / "ctl", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, f"{RESIZE} {size[0]} {size[1]}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def raw_terminal(fd: int | None) -> "Iterator[bool]":
    """Raw mode on ``fd`` for the block when it is a terminal (yields whether it is)."""
    if fd is None or not os.isatty(fd):
        yield False
        return
    import termios
    import tty
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def follow_resizes(source_fd: int | None, apply: "Callable[[tuple[int, int]], None]") -> "Iterator[None]":
    """Apply ``source_fd``'s window size now and on every SIGWINCH during the block."""
    import signal
    if source_fd is None or window_size(source_fd) is None:
        yield
        return

    def push(*_: object) -> None:
        size = window_size(source_fd)
        if size:
            apply(size)

    push()
    previous = signal.signal(signal.SIGWINCH, push)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


class ConsoleSocket:
    """A listening unix socket for ``runc --console-socket``; ``receive`` returns the pty master."""

    def __init__(self, path: "Path") -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self.sock.bind(self.path)
        self.sock.listen(1)

    def receive(self, timeout: float, alive: "Callable[[], bool]") -> int | None:
        """The master fd runc sends, or None when ``alive()`` turns false (runc failed) or time runs out."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([self.sock], [], [], 0.05)[0]:
                conn, _ = self.sock.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
                return fds[0] if fds else None
            if not alive():
                return None
        return None

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def relay(master: int, stdin_fd: int | None, stdout_fd: int) -> None:
    """Copy ``stdin_fd`` to the pty master and the master to ``stdout_fd`` until the pty
    closes (every process holding its other end has exited)."""
    watch = [master] + ([stdin_fd] if stdin_fd is not None else [])
    while True:
        try:
            ready, _, _ = select.select(watch, [], [])
        except InterruptedError:
            continue
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed
                return
            if not data:
                return
            write_all(stdout_fd, data)
        if stdin_fd is not None and stdin_fd in ready:
            data = os.read(stdin_fd, 8192)
            if not data:
                watch.remove(stdin_fd)
                stdin_fd = None
                write_all(master, b"\x04")  # end of input, as a terminal says it (Ctrl-D)
                continue
            write_all(master, data)
