"""Running containers: start (conmon + runtime), stop, kill, wait, and cleanup at exit.

``cleanup`` is what conmon's exit command runs when a container ends, in a
fresh podium process: it records the exit code, deletes the runtime state,
unmounts the root filesystem, applies the restart policy and ``--rm``. Every
step here runs with the container's file lock held (lock, reload, act), so the
CLI and the exit command can race safely.
"""

from __future__ import annotations

import json
import os
import socket
import time

from .containers import read_exit_file
from .fsutil import rmtree
from .errors import InvalidState, PodiumError, RuntimeFailure
from . import health
from .net import setup as netsetup
from .runtime import conmon
from .state import status as st
from .timeutil import iso_from_ns, now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from .engine import Engine

INIT_BINARY = "/usr/bin/catatonit"
STOP_KILL_WAIT_S = 10.0
STOP_MARK = "stopping"  # in the bundle while a podium process stops the container


def cuuid(cid: str) -> str:
    """conmon's socket name: short, because a unix socket path is limited to 108 bytes."""
    return cid[:24]


def start(engine: "Engine", ref: str, *, attach: bool = False) -> tuple[dict[str, Any], socket.socket | None]:
    """Start a created or exited container; with ``attach`` also return its attach socket."""
    ctrs = engine.containers
    c = ctrs.get(ref)
    with ctrs.lock(c["id"]):
        c = ctrs.sync(ctrs.reload(c["id"]))
        status = c["state"]["status"]
        if status in st.ACTIVE:
            if attach:
                raise InvalidState(f"container {c['name']} is already running")
            return c, None
        if status == st.EXITED:
            cleanup_locked(engine, c["id"], restart=False)
            c = ctrs.reload(c["id"])
        start_dependencies(engine, c)
        launched, sock = start_locked(engine, c, attach=attach)
        launched.close()
        return ctrs.reload(c["id"]), sock


def start_dependencies(engine: "Engine", c: dict[str, Any]) -> None:
    """A container that joins another's namespaces (its pod's infra) needs that one running."""
    config = c["config"]
    refs = set((config.get("join_namespaces") or {}).values())
    mode = config.get("network_mode") or ""
    if mode.startswith("container:"):
        refs.add(mode.split(":", 1)[1])
    for ref in refs:
        other = engine.containers.get(ref)
        if other["state"]["status"] not in st.ACTIVE:
            start(engine, other["id"])


def start_locked(engine: "Engine", c: dict[str, Any], *, attach: bool = False,
                 exit_command: bool = True, tty_size: tuple[int, int] | None = None,
                 ) -> tuple[conmon.Launched, socket.socket | None]:
    """Mount, write config.json, launch conmon + runtime, start. ``exit_command=False``
    is for a foreground caller that stays to clean up itself (and proxies signals);
    ``tty_size`` (rows, columns) sizes a ``-t`` container's terminal before it starts."""
    from .runtime.ocispec import build_config
    from .runtime.oci import cgroup_v2_unified
    from .storage.overlay import mount_rootfs, unmount_rootfs
    from .net.etcfiles import write_etc_files

    paths, cid, config = engine.paths, c["id"], c["config"]
    image = engine.store.image(c["image_id"]) if c["image_id"] else None
    if image is None:
        raise RuntimeFailure(f"container {c['name']}: its image {c['image_id'][:12]} was removed")
    bundle = paths.bundle(cid)
    bundle.mkdir(parents=True, exist_ok=True)
    cdir = paths.container_dir(cid)
    merged = cdir / "merged"
    mounted = False
    if os.path.ismount(merged):  # a start killed half-way (SIGKILL) left its mount behind
        unmount_rootfs(merged)
    if (paths.runtime_root / cid).exists():  # ... or its runtime state, after `runc create`
        engine.runtime.delete(cid)
    try:
        mode = mount_rootfs(engine.images.layer_dirs(image), cdir / "upper", cdir / "work", merged)
        mounted = mode == "overlay"
        engine.volumes.mount_for(c)
        _prepare_volumes(config, merged)
        net = netsetup.attach(engine, c)
        etc = write_etc_files(bundle, config, paths, **net)
        _share_etc_files(engine, config, etc)
        spec = build_config(
            _runtime_config(engine, c, net), cid=cid, rootfs=str(merged), etc_files=etc,
            cgroup_path=f"/podium/podium-{cid}", cgroup_v2=cgroup_v2_unified(),
            init_path=INIT_BINARY if config.get("init") else None,
        )
        with open(bundle / "config.json", "w") as f:
            json.dump(spec, f)
        for stale in (paths.exit_file(cid), paths.socks / cuuid(cid), bundle / STOP_MARK):
            try:
                os.unlink(stale)
            except OSError:
                pass
        rmtree(paths.persist(cid))
        paths.persist(cid).mkdir(parents=True, exist_ok=True)
        argv = conmon.conmon_argv(
            conmon=conmon.find_conmon(), cid=cid, cuuid=cuuid(cid), name=c["name"],
            runtime_path=engine.runtime.path, runtime_root=paths.runtime_root, bundle=bundle,
            log_path=cdir / "ctr.log", exit_dir=paths.exits, persist_dir=paths.persist(cid),
            socket_dir=paths.socks, stdin=bool(config.get("interactive")), terminal=bool(config.get("tty")),
            exit_command=_exit_command(engine, cid) if exit_command else None,
        )
        launched = conmon.launch(argv, bundle=bundle)
    except BaseException as exc:
        engine.runtime.delete(cid) if isinstance(exc, PodiumError) else None
        netsetup.detach(engine, c)
        engine.volumes.unmount_for(c)
        if mounted:
            unmount_rootfs(merged)
        if isinstance(exc, PodiumError):
            _set_state(engine, c, error=str(exc))
        raise
    sock = None
    try:
        if attach:
            sock = conmon.attach_socket(paths.socks, cuuid(cid))
        if tty_size and config.get("tty"):
            from .tty import resize_via_ctl
            resize_via_ctl(bundle, tty_size)
        engine.runtime.start(cid)
    except BaseException:
        if sock is not None:
            sock.close()
        engine.runtime.kill(cid, "KILL")
        launched.close()
        raise
    _set_state(engine, c, status=st.RUNNING, pid=launched.pid, conmon_pid=launched.conmon_pid,
               started_at=now_iso(), finished_at="", exit_code=0, error="",
               stopped_by_user=False, attached=attach, network=net.get("status") or {})
    engine.events.container(c, "start")
    health.start_checker(engine, c)
    return launched, sock


def _share_etc_files(engine: "Engine", config: dict[str, Any], etc: dict[str, str]) -> None:
    """Containers in another's network namespace see its /etc/hosts and resolv.conf (Podman's way)."""
    mode = config.get("network_mode") or ""
    if mode.startswith("container:"):
        owner = engine.containers.get(mode.split(":", 1)[1])
        bundle = engine.paths.bundle(owner["id"])
        for dest, name in (("/etc/hosts", "hosts"), ("/etc/resolv.conf", "resolv.conf")):
            if (bundle / name).exists():
                etc[dest] = str(bundle / name)


def _runtime_config(engine: "Engine", c: dict[str, Any], net: dict[str, Any]) -> dict[str, Any]:
    """The frozen config with what only start time knows: the namespaces to join."""
    config = c["config"]
    mode = config.get("network_mode") or "none"
    joins = dict(config.get("join_namespaces") or {})
    if net.get("netns"):
        mode = "ns:" + net["netns"]
    elif mode.startswith("container:"):
        joins.setdefault("network", mode.split(":", 1)[1])
        mode = "none"
    if not joins:
        return {**config, "network_mode": mode} if mode != config.get("network_mode") else config
    namespaces = {}
    for kind, ref in joins.items():
        other = engine.containers.get(ref)
        if other["state"]["status"] != st.RUNNING or not other["state"].get("pid"):
            raise InvalidState(f"container {other['name']} must be running to join its {kind} namespace")
        ns_file = {"network": "net", "mount": "mnt"}.get(kind, kind)
        namespaces[kind] = f"/proc/{other['state']['pid']}/ns/{ns_file}"
    if "network" in namespaces:
        mode = "ns:" + namespaces.pop("network")
    return {**config, "network_mode": mode, "namespace_paths": namespaces}


def _prepare_volumes(config: dict[str, Any], rootfs: os.PathLike[str]) -> None:
    """Copy the image's content at a volume's mount point into the volume the first time."""
    for m in config["mounts"]:
        if m["type"] != "volume" or not m.get("source") or m.get("subpath"):
            continue  # a subpath is the volume's own content (the kubelet copies nothing either)
        src = os.path.join(rootfs, m["destination"].lstrip("/"))
        dst = m["source"]
        if os.path.isdir(src) and not os.path.islink(src) and not os.listdir(dst):
            import shutil
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)


def _set_state(engine: "Engine", c: dict[str, Any], **changes: Any) -> None:
    c["state"].update(changes)
    with engine.store.write():
        engine.store.set_container_state(c["id"], c["state"])


def stop(engine: "Engine", ref: str, *, timeout: int | None = None) -> str:
    ctrs = engine.containers
    c = ctrs.get(ref)
    with ctrs.lock(c["id"]):
        c = ctrs.sync(ctrs.reload(c["id"]))
        was_active = c["state"]["status"] in st.ACTIVE
        if was_active:
            stop_locked(engine, c, timeout=timeout)
        cleanup_locked(engine, c["id"], restart=False)
        if was_active:
            engine.events.container(c, "stop")
    return c["name"]


def _exit_command(engine: "Engine", cid: str) -> list[str]:
    """conmon's exit command: ``podium container cleanup``, unless a stop is under way.

    The process that stops a container cleans up after it itself (every caller of
    ``stop_locked`` runs ``cleanup_locked`` next), so the new Python process conmon
    would start for the same job only competed for the CPU and the lock (``compose
    down`` of three containers started three). ``stop_locked`` leaves a mark in the
    bundle holding its pid; the shell finds it, sees that process alive, and ends.
    Any other exit still gets its cleanup, and so does one whose stopper was killed.
    """
    mark = str(engine.paths.bundle(cid) / STOP_MARK)
    return ["/bin/sh", "-c", 'read p < "$0" 2>/dev/null && [ -n "$p" ] && [ -d "/proc/$p" ] && exit 0; '
            'exec "$@"', mark, *engine.self_command(), "container", "cleanup", cid]


def stop_locked(engine: "Engine", c: dict[str, Any], *, timeout: int | None = None) -> None:
    """Stop signal, grace period, then SIGKILL; the exit file tells us it is over.

    The caller cleans up next (see ``_exit_command``)."""
    cid, config = c["id"], c["config"]
    grace = config.get("stop_timeout", 10) if timeout is None else timeout
    paused = c["state"].get("status") == st.PAUSED
    _set_state(engine, c, status=st.STOPPING, stopped_by_user=True)
    exit_file = engine.paths.exit_file(cid)
    mark = engine.paths.bundle(cid) / STOP_MARK
    try:
        mark.write_text(f"{os.getpid()}\n")
    except OSError:
        pass
    exited = conmon.ExitWatch(c["state"].get("pid") or 0, exit_file)
    try:
        if paused:  # a frozen cgroup holds every signal, SIGKILL too, until it thaws
            engine.runtime.resume(cid)
        if grace > 0 and engine.runtime.kill(cid, config.get("stop_signal") or "SIGTERM"):
            if exited.wait(grace):
                return
        engine.runtime.kill(cid, "KILL", all_procs=False)
        if not exited.wait(STOP_KILL_WAIT_S):
            try:
                mark.unlink()  # whenever it does exit, conmon's exit command cleans up
            except OSError:
                pass
            raise RuntimeFailure(f"container {c['name']} did not exit after SIGKILL")
    finally:
        exited.close()


def kill(engine: "Engine", ref: str, *, signal: str = "SIGKILL") -> str:
    from .spec import parse_signal
    num = parse_signal(signal)
    ctrs = engine.containers
    c = ctrs.get(ref)
    with ctrs.lock(c["id"]):
        c = ctrs.sync(ctrs.reload(c["id"]))
        st.require(c["name"], c["state"]["status"], (st.RUNNING, st.PAUSED, st.STOPPING), "kill")
        if num in (9, 15, 2):  # a kill that ends the container counts as a user's stop (Docker)
            _set_state(engine, c, stopped_by_user=True)
        engine.runtime.kill(c["id"], str(num))
        engine.events.container(c, "kill", signal=num)
    return c["name"]


def pause(engine: "Engine", ref: str) -> str:
    """Freeze every process of a running container (``runc pause``: the cgroup freezer)."""
    return _freeze(engine, ref, thaw=False)


def unpause(engine: "Engine", ref: str) -> str:
    """Thaw a paused container (``runc resume``)."""
    return _freeze(engine, ref, thaw=True)


def _freeze(engine: "Engine", ref: str, *, thaw: bool) -> str:
    ctrs = engine.containers
    c = ctrs.get(ref)
    action = "unpause" if thaw else "pause"
    with ctrs.lock(c["id"]):
        c = ctrs.sync(ctrs.reload(c["id"]))
        st.require(c["name"], c["state"]["status"], (st.PAUSED,) if thaw else (st.RUNNING,), action)
        (engine.runtime.resume if thaw else engine.runtime.pause)(c["id"])
        _set_state(engine, c, status=st.RUNNING if thaw else st.PAUSED)
        engine.events.container(c, action)
    return c["name"]


def restart(engine: "Engine", ref: str, *, timeout: int | None = None) -> str:
    stop(engine, ref, timeout=timeout)
    start(engine, ref)
    return engine.containers.get(ref)["name"]


def wait(engine: "Engine", ref: str, *, conditions: tuple[str, ...] = ("exited", "stopped"),
         interval: float = 0.05) -> int:
    """Block until the container leaves running; returns its exit code (Podman's wait)."""
    ctrs = engine.containers
    c = ctrs.get(ref)
    cid = c["id"]
    want = {"stopped" if s == "exited" else s for s in conditions}
    while True:
        status = c["state"]["status"]
        if status == st.EXITED and ("stopped" in want or "exited" in want):
            return int(c["state"].get("exit_code", 0))
        if status in want:
            return int(c["state"].get("exit_code", 0))
        time.sleep(interval)
        c = engine.store.container(cid)
        if c is None:
            code = read_exit_file(engine.paths.exit_file(cid))
            if code is not None:
                return code
            raise PodiumError(f"container {ref} was removed before it exited")
        ctrs.sync(c)


def cleanup(engine: "Engine", cid: str) -> None:
    """conmon's exit command: record the exit, tidy up, restart or remove as configured."""
    with engine.containers.lock(cid):
        cleanup_locked(engine, cid, restart=True)


def cleanup_locked(engine: "Engine", cid: str, *, restart: bool) -> None:
    from .storage.overlay import unmount_rootfs

    c = engine.store.container(cid)
    if c is None:
        return
    state, paths = c["state"], engine.paths
    if (state["status"] == st.CREATED and not (paths.bundle(cid) / "config.json").exists()
            and not os.path.ismount(paths.container_dir(cid) / "merged")):
        return  # never started, and no start was killed half-way: nothing to undo
    exit_file = paths.exit_file(cid)
    code = read_exit_file(exit_file)
    was_active = state["status"] in st.ACTIVE
    if was_active:
        if code is None:
            rs = engine.runtime.state(cid)
            if rs and rs.get("status") in ("running", "created", "paused"):
                return  # still alive: nothing to clean up
        state.update(status=st.EXITED, pid=0, exit_code=-1 if code is None else code,
                     finished_at=iso_from_ns(os.stat(exit_file).st_mtime_ns) if code is not None else now_iso())
        engine.events.container(c, "die", exitCode=state["exit_code"])
    deleting = engine.runtime.delete_start(cid)
    health.stop_checker(engine, c)
    unmount_rootfs(paths.container_dir(cid) / "merged")
    engine.runtime.delete_wait(deleting)
    netsetup.detach(engine, c)
    engine.volumes.unmount_for(c)
    attached = state.pop("attached", False)
    for p in (paths.socks / cuuid(cid),):
        try:
            os.unlink(p)
        except OSError:
            pass
    rmtree(paths.persist(cid))
    for leftover in ("pidfile", "conmon.pid", "attach", "ctl", "winsz", "conmon.err", STOP_MARK):
        try:
            os.unlink(paths.bundle(cid) / leftover)
        except OSError:
            pass
    config = c["config"]
    policy = config.get("restart_policy") or {"Name": "no"}
    if restart and was_active and _should_restart(policy, state):
        state["restart_count"] = state.get("restart_count", 0) + 1
        _set_state(engine, c)
        time.sleep(min(0.1 * (2 ** min(state["restart_count"], 6)), 5.0))
        try:
            launched, _ = start_locked(engine, engine.store.container(cid) or c)
            launched.close()
        except PodiumError:
            pass
        return
    _set_state(engine, c)
    if config.get("remove"):
        engine.containers.purge(c, volumes=True)
        if attached and restart:
            return  # the attached CLI reads, then removes, the exit file
    try:
        os.unlink(exit_file)
    except OSError:
        pass


def _should_restart(policy: dict[str, Any], state: dict[str, Any]) -> bool:
    name = policy.get("Name", "no")
    if state.get("stopped_by_user") or name == "no":
        return False
    if name == "on-failure":
        limit = int(policy.get("MaximumRetryCount") or 0)
        return state.get("exit_code", 0) != 0 and (limit == 0 or state.get("restart_count", 0) < limit)
    return name in ("always", "unless-stopped")
