"""RUN: a command in a real container on the runtime, its changes committed as a layer.

The step's state so far (layers + config) becomes an intermediate image row
(with a nonce in its config, so it can never collide with, and then delete,
a user's image); a container is created from it through the engine exactly as
``podium run`` would create one (runc + conmon, the default seccomp profile,
network ``none`` unless asked), started attached so its output streams to the
build's progress, waited for, and cleaned up. Its upper directory (or, on the
copy fallback, its full root filesystem) is then diffed into a layer. The
container and the intermediate image are removed whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket

from ..errors import PodiumError, RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from ..engine import Engine
    from .executor import Stage

BUILD_LABEL = "io.podium.build"
PID_LABEL = "io.podium.build.pid"  # the building process: a dead one's leftovers are reaped


def _intermediate(engine: "Engine", st: "Stage") -> str:
    from ..timeutil import now_iso

    inner = {k: v for k, v in st.config.items()
             if k not in ("Volumes", "Healthcheck", "OnBuild") and v is not None}
    config = {"architecture": st.arch, "os": st.os or "linux", "config": inner,
              "rootfs": {"type": "layers", "diff_ids": st.diff_ids()},
              "podium.build.nonce": os.urandom(16).hex(), "podium.build.pid": os.getpid()}
    data = json.dumps(config, separators=(",", ":")).encode()
    iid = hashlib.sha256(data).hexdigest()
    with engine.store.write():
        engine.store.insert_image({"id": iid, "digest": "sha256:" + iid, "created": now_iso(),
                                   "size": sum(s for _, s in st.layers), "manifest": {},
                                   "config": config})
    return iid


def _drop_intermediate(engine: "Engine", iid: str) -> None:
    with engine.store.write():
        engine.store.delete_image(iid)  # rows only: its layers are the build's, kept as cache


def _stream(sock: socket.socket, say: Callable[[str], None]) -> None:
    buf = b""
    while True:
        data = sock.recv(8193)
        if not data:
            break
        buf += data[1:]
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            say(line.decode("utf-8", "replace"))
    if buf:
        say(buf.decode("utf-8", "replace"))


def run_step(engine: "Engine", st: "Stage", argv: list[str], *, env: dict[str, str],
             network: str, say: Callable[[str], None], where: str, text: str
             ) -> tuple[str, int]:
    """Run ``argv`` on top of ``st``; returns the new layer's (diff_id, size)."""
    from .. import lifecycle
    from ..attach import wait_exit_code
    from ..spec import ContainerSpec
    from .rootfs import changes_to_layer
    from . import commit

    iid = _intermediate(engine, st)
    cid = None
    ctrs = engine.containers
    try:
        spec = ContainerSpec(
            iid, command=list(argv), entrypoint=[], env=env,
            workdir=st.config.get("WorkingDir") or "/", user=st.config.get("User") or "",
            network="host" if network == "host" else
            ("none" if network == "none" else None),
            labels={BUILD_LABEL: "true", PID_LABEL: str(os.getpid())})
        try:
            c = ctrs.create(spec)
            cid = c["id"]
            with ctrs.lock(cid):
                c = ctrs.reload(cid)
                launched, sock = lifecycle.start_locked(engine, c, attach=True,
                                                        exit_command=False)
        except PodiumError as exc:  # e.g. no /bin/sh in the image: keep the class (126, 127)
            exc.message = f"{where}: RUN {text}: {' '.join(str(exc).split())}"
            exc.args = (exc.message,)
            raise
        launched.close()
        assert sock is not None
        try:
            sock.shutdown(socket.SHUT_WR)
            _stream(sock, say)
        finally:
            sock.close()
        code = wait_exit_code(engine, cid)
        with ctrs.lock(cid):
            lifecycle.cleanup_locked(engine, cid, restart=False)
        if code != 0:
            raise RuntimeFailure(f"{where}: RUN {text}: the command exited with code {code}")
        cdir = engine.paths.container_dir(cid)
        lowers = [engine.paths.layer(d) for d in reversed(st.diff_ids())]
        staging = cdir / "layer.tar"
        changes_to_layer(cdir / "upper", cdir / "merged", lowers, staging,
                         copied=os.path.exists(str(cdir / "merged") + ".copied"))
        return commit.store_layer(engine, staging)
    finally:
        if cid is not None:
            try:
                ctrs.remove(cid, force=True, timeout=0)
            except PodiumError:
                pass
        _drop_intermediate(engine, iid)


def _alive(pid: object) -> bool:
    try:
        os.kill(int(pid), 0)  # type: ignore[call-overload]
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def reap_stale(engine: "Engine") -> int:
    """Remove what a build killed mid-RUN (SIGKILL, a crash) left: its RUN containers and
    intermediate image rows. Those of builds still running are left alone."""
    removed = 0
    for c in engine.store.containers():
        labels = (c.get("config") or {}).get("labels") or {}
        if labels.get(BUILD_LABEL) == "true" and not _alive(labels.get(PID_LABEL)):
            try:
                engine.containers.remove(c["id"], force=True, timeout=0)
                removed += 1
            except PodiumError:
                pass
    for row in engine.store.query("SELECT id, config FROM images"):
        try:
            config = json.loads(row[1])
        except ValueError:
            continue
        if "podium.build.nonce" in config and not _alive(config.get("podium.build.pid")) \
                and not engine.store.containers_using_image(row[0]):
            _drop_intermediate(engine, row[0])
            removed += 1
    return removed
