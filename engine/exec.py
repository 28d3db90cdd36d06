"""``exec``: run another process in a running container with plain ``runc exec``.

runc passes stdio straight through and exits with the process's code, which
is exactly what a non-interactive or ``-i`` exec needs (~30 ms); conmon would
only add a log nobody reads. The command is looked up inside the container
first so a missing one is Podman's exit 127, not a runtime error text.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess

from .errors import CannotInvoke, CommandNotFound, ConfigError
from .runtime.oci import ENV as RUNTIME_ENV
from .state import status as st

TYPE_CHECKING = False

if TYPE_CHECKING:
    from .engine import Engine


def exec_in(engine: "Engine", ref: str, cmd: list[str], *, env: dict[str, str] | None = None,
            workdir: str | None = None, user: str | None = None, interactive: bool = False,
            detach: bool = False, stdin: int | None = None, stdout: int | None = None,
            stderr: int | None = None, tty: bool = False) -> int:
    """Run ``cmd`` in the container; its stdio is ours unless file descriptors are given
    (the REST API passes pipes and frames what comes out). ``tty``: in a new
    pseudo-terminal relayed to our stdio (see tty.py)."""
    from .runtime.users import resolve_in_root, resolve_user

    if not cmd:
        raise ConfigError("exec needs a command to run")
    if tty and detach:
        raise ConfigError("exec -d with -t is not supported: drop -t (a detached exec keeps no terminal)")
    c = engine.containers.get(ref)
    st.require(c["name"], c["state"]["status"], (st.RUNNING,), "exec into")
    bundle = engine.paths.bundle(c["id"])
    with open(bundle / "config.json") as f:
        spec = json.load(f)
    rootfs = spec["root"]["path"]
    proc = spec["process"]
    envmap = dict(line.split("=", 1) for line in proc.get("env", []) if "=" in line)
    envmap.update(env or {})
    proc["env"] = [f"{k}={v}" for k, v in envmap.items()]
    proc["args"] = list(cmd)
    proc["terminal"] = tty
    if workdir:
        proc["cwd"] = workdir
    if user is not None:
        u = resolve_user(user, rootfs)
        proc["user"] = {"uid": u["uid"], "gid": u["gid"],
                        "additionalGids": u.get("additionalGids") or []}
    _check_command(cmd[0], envmap.get("PATH", ""), rootfs, proc.get("cwd", "/"), resolve_in_root)
    pfile = bundle / f"exec-{os.urandom(6).hex()}.json"
    pfile.write_text(json.dumps(proc))
    if tty:
        try:
            return _exec_tty(engine, c["id"], pfile, interactive=interactive,
                             stdin_fd=0 if stdin is None else stdin, stdout_fd=1 if stdout is None else stdout)
        finally:
            pfile.unlink(missing_ok=True)
    try:
        argv = engine.runtime.exec_argv(c["id"], pfile, detach=detach)
        if stdin is None and not interactive:
            stdin = subprocess.DEVNULL
        rc = subprocess.run(argv, env=RUNTIME_ENV, stdin=stdin, stdout=stdout, stderr=stderr).returncode
    finally:
        try:
            pfile.unlink()
        except OSError:
            pass
    return rc


def _exec_tty(engine: "Engine", cid: str, pfile: "os.PathLike[str]", *, interactive: bool,
              stdin_fd: int, stdout_fd: int) -> int:
    """``runc exec`` with a console socket: we get the pty's master and relay it.

    runc takes a console socket only with ``--detach``: it starts the process and
    exits. podium becomes a child subreaper first (what conmon is for Podman's
    execs), so the process is re-parented to podium and its exit code is ours to
    collect when the terminal closes.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from . import tty as ttys
    from .errors import RuntimeFailure

    _become_subreaper()
    tmp = Path(tempfile.mkdtemp(prefix="pdmtty", dir="/tmp"))  # short: a socket path has 108 bytes
    console = ttys.ConsoleSocket(tmp / "c")
    try:
        argv = engine.runtime.exec_argv(cid, Path(pfile), detach=True, console_socket=console.path,
                                        pid_file=str(tmp / "pid"))
        proc = subprocess.Popen(argv, env=RUNTIME_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        master = console.receive(30, lambda: proc.poll() is None)
        err = proc.communicate()[1].decode(errors="replace").strip().splitlines()
        if master is None or proc.returncode != 0:
            if master is not None:
                os.close(master)
            raise RuntimeFailure(f"exec: {err[-1] if err else 'the runtime sent no terminal'}")
        pid = int((tmp / "pid").read_text().strip())
        try:
            size_fd = ttys.size_source(stdin_fd, stdout_fd)
            with ttys.raw_terminal(stdin_fd if interactive else None), \
                    ttys.follow_resizes(size_fd, lambda size: ttys.set_window_size(master, size)):
                ttys.relay(master, stdin_fd if interactive else None, stdout_fd)
        finally:
            os.close(master)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) else 128 + os.WTERMSIG(status)
    finally:
        console.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _become_subreaper() -> None:
    import ctypes
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        from .errors import RuntimeFailure
        raise RuntimeFailure(f"exec -t: cannot become a child subreaper: {os.strerror(ctypes.get_errno())}")


def _check_command(name: str, path: str, rootfs: str, cwd: str, resolve) -> None:  # noqa: ANN001
    if "/" in name:
        candidates = [name if name.startswith("/") else os.path.join(cwd, name)]
    else:
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    for cand in candidates:
        host = resolve(rootfs, cand)
        try:
            s = os.stat(host)
        except OSError:
            continue
        if stat.S_ISREG(s.st_mode):
            if not s.st_mode & 0o111:
                raise CannotInvoke(f"{name}: permission denied: OCI permission denied")
            return
    raise CommandNotFound(f"{name}: executable file not found in $PATH: No such file or directory: "
                          "OCI runtime attempted to invoke a command that was not found")
