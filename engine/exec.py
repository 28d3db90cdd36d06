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
            stderr: int | None = None) -> int:
    """Run ``cmd`` in the container; its stdio is ours unless file descriptors are given
    (the REST API passes pipes and frames what comes out)."""
    from .runtime.users import resolve_in_root, resolve_user

    if not cmd:
        raise ConfigError("exec needs a command to run")
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
    proc["terminal"] = False
    if workdir:
        proc["cwd"] = workdir
    if user is not None:
        u = resolve_user(user, rootfs)
        proc["user"] = {"uid": u["uid"], "gid": u["gid"],
                        "additionalGids": u.get("additionalGids") or []}
    _check_command(cmd[0], envmap.get("PATH", ""), rootfs, proc.get("cwd", "/"), resolve_in_root)
    pfile = bundle / f"exec-{os.urandom(6).hex()}.json"
    pfile.write_text(json.dumps(proc))
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
