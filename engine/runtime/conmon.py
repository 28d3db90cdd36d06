"""Driving conmon, the container monitor Podman uses, from Python.

conmon keeps a container's stdio, writes its k8s-file log and its exit file,
and runs podium's exit command when it ends, so no podium process has to stay
behind. The protocol (two SOCK_SEQPACKET socketpairs, a start byte, a JSON sync
message with the pid) is written up in shared/notes/conmon-runc.md; argv is
built by a pure function so tests can pin it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

from ..errors import CannotInvoke, CommandNotFound, RuntimeFailure

CONMON_CANDIDATES = ("/usr/bin/conmon", "/usr/libexec/podman/conmon", "/usr/local/bin/conmon")
ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_conmon() -> str:
    for p in CONMON_CANDIDATES:
        if os.access(p, os.X_OK):
            return p
    raise RuntimeFailure("conmon not found: install conmon (apt-get install conmon)")


def conmon_argv(
    *,
    conmon: str,
    cid: str,
    cuuid: str,
    name: str,
    runtime_path: str,
    runtime_root: Path,
    bundle: Path,
    log_path: Path,
    exit_dir: Path,
    persist_dir: Path,
    socket_dir: Path,
    stdin: bool = False,
    terminal: bool = False,
    exit_command: list[str] | None = None,
    log_level: str = "error",
) -> list[str]:
    """The conmon command line for one container, as Podman builds it (no systemd cgroups)."""
    argv = [
        conmon, "--api-version", "1", "-c", cid, "-u", cuuid, "-n", name,
        "-r", runtime_path, "-b", str(bundle),
        "-p", str(bundle / "pidfile"), "-P", str(bundle / "conmon.pid"),
        "-l", f"k8s-file:{log_path}",
        "--exit-dir", str(exit_dir), "--persist-dir", str(persist_dir),
        "--socket-dir-path", str(socket_dir), "--log-level", log_level,
        "--runtime-arg", f"--root={runtime_root}",
    ]
    if stdin:
        argv.append("-i")
    if terminal:  # conmon hands runc a console socket and keeps the pty's master end
        argv.append("-t")
    if exit_command:
        argv += ["--exit-command", exit_command[0]]
        for arg in exit_command[1:]:
            argv += ["--exit-command-arg", arg]
    return argv


class Launched:
    """A container created by the runtime under conmon, not yet started."""

    def __init__(self, pid: int, conmon_pid: int, sync: socket.socket) -> None:
        self.pid = pid
        self.conmon_pid = conmon_pid
        self.sync = sync

    def close(self) -> None:
        self.sync.close()


def launch(argv: list[str], *, bundle: Path) -> Launched:
    """Start conmon, let it create the container, and return the container's pid.

    Errors from the runtime (bad executable, bad config) arrive as the sync
    message and become typed errors with Podman's exit codes (126/127).
    """
    sync_parent, sync_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    start_parent, start_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    env = {"PATH": ENV_PATH, "_OCI_SYNCPIPE": str(sync_child.fileno()),
           "_OCI_STARTPIPE": str(start_child.fileno())}
    err_path = bundle / "conmon.err"
    with open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(argv, env=env, pass_fds=(sync_child.fileno(), start_child.fileno()),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)
        except OSError as exc:
            sync_parent.close(); start_parent.close()
            raise RuntimeFailure(f"cannot run conmon: {exc}") from exc
        finally:
            sync_child.close()
            start_child.close()
    try:
        start_parent.send(b"\0")
    except OSError:
        pass
    start_parent.close()
    rc = proc.wait()
    try:
        data = sync_parent.recv(65536)
    except OSError:
        data = b""
    if not data:
        sync_parent.close()
        detail = _read_tail(err_path) or f"conmon exited with {rc}"
        raise RuntimeFailure(f"conmon failed: {detail}")
    msg = json.loads(data.decode(errors="replace").strip().splitlines()[0])
    pid = int(msg.get("data", -1))
    if pid <= 0:
        sync_parent.close()
        raise runtime_error(msg.get("message") or _read_tail(err_path) or "container create failed")
    conmon_pid = int((bundle / "conmon.pid").read_text().strip())
    return Launched(pid, conmon_pid, sync_parent)


def runtime_error(message: str) -> RuntimeFailure:
    """Map a runtime's failure text to Podman's exit codes: 127 not found, 126 cannot invoke."""
    text = " ".join(message.split())
    low = text.lower()
    if "executable file not found" in low or "no such file or directory" in low and "exec" in low:
        return CommandNotFound(_short(text))
    if "permission denied" in low and "exec" in low:
        return CannotInvoke(_short(text))
    return RuntimeFailure(_short(text))


def _short(text: str) -> str:
    # "runc create failed: unable to start container process: exec: "x": executable file not found in $PATH"
    for marker in ("unable to start container process: ",):
        if marker in text:
            return text.split(marker, 1)[1]
    return text


def _read_tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def attach_socket(socket_dir: Path, cuuid: str) -> socket.socket:
    """Connect to conmon's attach socket; do it before ``runtime start`` so no output is lost."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(str(socket_dir / cuuid / "attach"))
    return s


def pidfd_exited(fd: int, timeout: float) -> bool:
    """Whether the process behind pidfd ``fd`` ends within ``timeout`` seconds (woken at once)."""
    import select
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


class ExitWatch:
    """Waits for a container's exit: its init process's pidfd, then conmon's exit file.

    A pidfd wakes the moment the process dies, where polling the exit file alone
    backs off to 50 ms between looks. The pidfd is opened before any signal is sent,
    so a reused pid can never be mistaken for the container. Without one (pid 0,
    already gone, old kernel) it is the exit file alone.
    """

    def __init__(self, pid: int, exit_file: Path) -> None:
        self.exit_file = exit_file
        self.fd = -1
        if pid > 0:
            try:
                self.fd = os.pidfd_open(pid)
            except (AttributeError, OSError):
                self.fd = -1

    def wait(self, timeout: float) -> bool:
        """Whether the exit file appeared within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        if self.fd < 0:
            return wait_for_file(self.exit_file, timeout)
        while not os.path.exists(self.exit_file):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # short slices: the exit file is the authority, whatever the pid does
            if pidfd_exited(self.fd, max(0.001, min(left, 0.05))):
                # conmon writes the exit file right after it reaps the process
                return wait_for_file(self.exit_file, max(0.0, deadline - time.monotonic()), interval=0.001)
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def wait_for_file(path: Path, timeout: float | None = None, *, interval: float = 0.002) -> bool:
    """Wait until ``path`` exists (conmon's exit file); backs off to 50 ms between looks."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not os.path.exists(path):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval)
        interval = min(interval * 1.5, 0.05)
    return True
