"""The OCI runtime binary (runc or crun): pick one, build its argv, run it.

Only commands and their failures live here; what to run and when is the
container layer's business. Every argv is built by a pure function so unit
tests can pin it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ..errors import NotFound, RuntimeFailure

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def cgroup_v2_unified() -> bool:
    """True on a pure cgroup v2 host (crun's requirement); hybrid and v1 hosts are False."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def pick_runtime(override: str | None = None) -> str:
    """Absolute path of the OCI runtime: ``override`` if given, crun on unified v2, else runc."""
    if override:
        import shutil
        path = override if os.path.isabs(override) else shutil.which(override, path=ENV["PATH"])
        if not path or not os.access(path, os.X_OK):
            raise NotFound(f"OCI runtime {override!r} not found")
        return path
    candidates = ("crun", "runc") if cgroup_v2_unified() else ("runc",)
    for name in candidates:
        for d in ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"):
            p = f"{d}/{name}"
            if os.access(p, os.X_OK):
                return p
    raise NotFound("no OCI runtime found: install runc (apt-get install runc)")


class OCIRuntime:
    """One runtime binary with podium's private state root (kept apart from /run/runc)."""

    def __init__(self, path: str, state_root: Path) -> None:
        self.path = path
        self.state_root = state_root
        self.name = os.path.basename(path)

    def argv(self, *args: str) -> list[str]:
        return [self.path, f"--root={self.state_root}", *args]

    def run(self, *args: str, check: bool = True, timeout: float | None = 60) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(self.argv(*args), capture_output=True, text=True, env=ENV,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeFailure(f"{self.name} {args[0]} timed out") from exc
        if check and proc.returncode != 0:
            raise RuntimeFailure(f"{self.name} {args[0]}: {_last_line(proc.stderr)}")
        return proc

    def start(self, cid: str) -> None:
        self.run("start", cid)

    def kill(self, cid: str, signal: str, *, all_procs: bool = False) -> bool:
        """Send ``signal``; False when the container is already gone or stopped."""
        args = ["kill", *(["--all"] if all_procs else []), cid, signal]
        proc = self.run(*args, check=False)
        if proc.returncode != 0:
            msg = proc.stderr.lower()
            if "not running" in msg or "does not exist" in msg or "process already finished" in msg:
                return False
            raise RuntimeFailure(f"{self.name} kill: {_last_line(proc.stderr)}")
        return True

    def delete(self, cid: str, *, force: bool = True) -> None:
        self.delete_wait(self.delete_start(cid, force=force))

    def delete_start(self, cid: str, *, force: bool = True) -> subprocess.Popen[str]:
        """Start ``delete`` and return at once, so the caller can unmount meanwhile."""
        return subprocess.Popen(self.argv("delete", *(["--force"] if force else []), cid), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def delete_wait(self, proc: subprocess.Popen[str]) -> None:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0 and "does not exist" not in err:
            raise RuntimeFailure(f"{self.name} delete: {_last_line(err)}")

    def state(self, cid: str) -> dict | None:
        proc = self.run("state", cid, check=False)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)

    def pids(self, cid: str) -> list[int]:
        proc = self.run("ps", "--format", "json", cid, check=False)
        if proc.returncode != 0:
            return []
        return json.loads(proc.stdout or "[]") or []

    def exec_argv(self, cid: str, process_json: Path, *, detach: bool = False,
                  console_socket: str | None = None, pid_file: str | None = None) -> list[str]:
        extra = ["--console-socket", console_socket] if console_socket else []
        extra += ["--pid-file", pid_file] if pid_file else []
        return self.argv("exec", "--process", str(process_json), *(["--detach"] if detach else []),
                         *extra, cid)

    def pause(self, cid: str) -> None:
        self.run("pause", cid)

    def resume(self, cid: str) -> None:
        self.run("resume", cid)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else "failed"
    # runc logs as logfmt: level=error msg="..."; keep the message
    if 'msg="' in line:
        line = line.split('msg="', 1)[1].rsplit('"', 1)[0]
    return line
