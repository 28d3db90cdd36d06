"""Network namespaces as files: create one, reach into it, remove it.

A container's network namespace outlives any single process while it is
configured, so it is kept the way ``ip netns`` keeps them: the namespace's
nsfs handle bind-mounted on a file (``RUNROOT/netns/<container id>``, never
/run/netns, which Podman shares). The namespace is made from a short-lived
thread that calls ``unshare(CLONE_NEWNET)`` -- namespaces are per thread, so the
rest of the process stays in the host's -- which also opens the netlink socket
that configures the inside. No process is started.
"""

from __future__ import annotations

import os
import threading

from ..storage import libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, TypeVar

    from .rtnl import Netlink

    T = TypeVar("T")

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2
EINVAL, ENOENT = 22, 2

# unshare(2) and setns(2): os has them only from Python 3.12 on.
libc.SIGNATURES.setdefault("unshare", "i")
libc.SIGNATURES.setdefault("setns", "ii")


def _call(name: str, *args: object) -> None:
    fn = libc.function(name)
    if fn is None:
        raise OSError(38, f"{name}: not available in this libc")
    if fn(*args) != 0:
        err = libc.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _in_thread(fn: "Callable[[], T]") -> "T":
    """Run ``fn`` in a fresh thread (which may change its own namespaces) and return its result."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=run, name="podium-netns")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class Creating:
    """A namespace being made in a thread while the caller does other work (see ``create``)."""

    def __init__(self, path: str) -> None:
        from .rtnl import Netlink

        self.path = path
        remove(path)  # a stale one from a crash
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDONLY | os.O_CLOEXEC, 0o644))
        self.box: dict[str, object] = {}

        def inside() -> None:
            try:
                _call("unshare", CLONE_NEWNET)
                _call("mount", b"/proc/thread-self/ns/net", os.fsencode(path), None, MS_BIND, None)
                self.box["value"] = Netlink()
            except BaseException as exc:  # noqa: BLE001 - re-raised by wait()
                self.box["error"] = exc
        self.thread = threading.Thread(target=inside, name="podium-netns")
        self.thread.start()

    def wait(self) -> "Netlink":
        """The netlink socket inside the new namespace (the namespace is removed on failure)."""
        self.thread.join()
        if "error" in self.box:
            remove(self.path)
            raise self.box["error"]  # type: ignore[misc]
        return self.box["value"]  # type: ignore[return-value]

    def cancel(self) -> None:
        self.thread.join()
        sock = self.box.get("value")
        if sock is not None:
            sock.close()  # type: ignore[attr-defined]
        remove(self.path)


def create(path: str) -> "Netlink":
    """Make a new network namespace pinned at ``path``; returns a netlink socket inside it."""
    return Creating(path).wait()


def enter(path: str) -> "Netlink":
    """A netlink socket inside the namespace pinned at ``path``."""
    from .rtnl import Netlink

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        def inside() -> Netlink:
            _call("setns", fd, CLONE_NEWNET)
            return Netlink()
        return _in_thread(inside)
    finally:
        os.close(fd)


def is_mounted(path: str) -> bool:
    """True if ``path`` holds a namespace (an nsfs bind mount), not just an empty file."""
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(path))
    except OSError:
        return False
    return st.st_dev != parent.st_dev


def remove(path: str) -> None:
    """Unpin and delete; the kernel frees the namespace (and its veth ends) once unused."""
    try:
        _call("umount2", os.fsencode(path), MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (EINVAL, ENOENT):
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
