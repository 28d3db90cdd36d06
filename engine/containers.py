"""Container records: create (spec + image -> frozen config), look up, list, remove.

Creating validates everything first (image, name, values, bind sources) and
only then writes: the container row and its directory appear together or not
at all. Running and stopping live in lifecycle.py; both take the container's
file lock and reload its row before acting.
"""

from __future__ import annotations

import os
import sqlite3

from .errors import AlreadyExists, ConfigError, InvalidState, NotFound, PodiumError
from .locks import locked
from .names import check_name
from .state import status as st
from .timeutil import now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

if TYPE_CHECKING:
    from .engine import Engine
    from .spec import ContainerSpec

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_STOP_TIMEOUT = 10


class Containers:
    """Containers of one engine. Methods take names, ids or unique id prefixes."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.paths = engine.paths
        self.store = engine.store

    # ---- look-up ------------------------------------------------------------------
    def get(self, ref: str) -> dict[str, Any]:
        found = self.store.find_containers(ref)
        if not found:
            raise NotFound(f"no container with name or ID {ref!r} found: no such container")
        if len(found) > 1:
            raise ConfigError(f"more than one container matches {ref!r}: use a longer ID")
        return self.sync(found[0])

    def list(self, *, all: bool = True) -> list[dict[str, Any]]:
        out = [self.sync(c) for c in self.store.containers()]
        return out if all else [c for c in out if c["state"]["status"] in st.ACTIVE]

    def sync(self, c: dict[str, Any]) -> dict[str, Any]:
        """Fold in what conmon knows and the store does not yet (an exit not cleaned up yet).

        Read-only: the exit command (or the next lifecycle call) writes it down.
        """
        state = c["state"]
        if state["status"] in st.ACTIVE:
            code = read_exit_file(self.paths.exit_file(c["id"]))
            if code is not None:
                state.update(status=st.EXITED, exit_code=code, pid=0)
                try:
                    state["finished_at"] = _mtime_iso(self.paths.exit_file(c["id"]))
                except OSError:
                    pass
            elif not (self.paths.bundle(c["id"]) / "conmon.pid").exists():
                # The run root was wiped (a reboot): nothing can be running.
                state.update(status=st.EXITED, pid=0)
        return c

    def lock(self, cid: str):  # noqa: ANN201 - a context manager
        return locked(self.paths.lock(cid))

    def reload(self, cid: str) -> dict[str, Any]:
        c = self.store.container(cid)
        if c is None:
            raise NotFound(f"container {cid[:12]} was removed: no such container")
        return c

    # ---- create -------------------------------------------------------------------
    def create(self, spec: "ContainerSpec", *, pod_id: str | None = None,
               infra: bool = False) -> dict[str, Any]:
        """Validate ``spec`` against its image, then store the frozen config."""
        from .fsutil import rmtree
        from .names import generate_name
        pod: dict[str, Any] = {}
        if spec.pod:
            import copy
            pod = self.engine.pods.membership(spec)
            spec = copy.copy(spec)
            spec.network = pod["network"]
            pod_id = pod["pod_id"]
        images = self.engine.images
        image = images.resolve(spec.image)
        icfg = images.config_of(image)
        config = self._config(spec, image, icfg)
        cid = os.urandom(32).hex()
        config["hostname"] = pod.get("hostname") or spec.hostname or cid[:12]
        if pod.get("join_namespaces"):
            config["join_namespaces"] = pod["join_namespaces"]
        if infra:
            config["infra"] = True
        explicit = spec.name is not None
        name = check_name(spec.name) if explicit else generate_name()
        cdir = self.paths.container_dir(cid)
        created = now_iso()
        record = {"id": cid, "name": name, "image_id": image["id"], "pod_id": pod_id,
                  "created": created, "config": config,
                  "state": {"status": st.CREATED, "pid": 0, "exit_code": 0, "started_at": "",
                            "finished_at": "", "restart_count": 0, "stopped_by_user": False,
                            "error": ""}}
        for d in ("upper", "work", "merged"):
            (cdir / d).mkdir(parents=True, exist_ok=True)
        try:
            self._ensure_volumes(config)
            for attempt in range(20):
                try:
                    with self.store.write():
                        self.store.insert_container(record)
                    break
                except sqlite3.IntegrityError:
                    if explicit:
                        other = self.store.find_containers(name)
                        oid = other[0]["id"] if other else "another container"
                        raise AlreadyExists(
                            f"the container name {name!r} is already in use by {oid}. "
                            "You have to remove that container to be able to reuse that name"
                        ) from None
                    name = generate_name() if attempt < 10 else f"{generate_name()}_{os.urandom(2).hex()}"
                    record["name"] = name
        except BaseException:
            rmtree(cdir)
            raise
        self.engine.events.container(record, "create")
        return record

    def _config(self, spec: "ContainerSpec", image: dict[str, Any],
                icfg: dict[str, Any]) -> dict[str, Any]:
        from . import spec as specs

        if spec.entrypoint is not None:
            entrypoint, command = list(spec.entrypoint), list(spec.command or [])
        else:
            entrypoint = list(icfg.get("Entrypoint") or [])
            command = list(spec.command) if spec.command else list(icfg.get("Cmd") or [])
        args = entrypoint + command
        if not args:
            raise ConfigError("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")
        env: dict[str, str] = {}
        for line in icfg.get("Env") or [DEFAULT_PATH]:
            k, _, v = line.partition("=")
            env[k] = v
        env.setdefault("PATH", DEFAULT_PATH.split("=", 1)[1])
        env.update(spec.env)
        env.setdefault("TERM", "xterm")
        restart = specs.parse_restart(spec.restart)
        if restart["Name"] != "no" and spec.remove:
            raise ConfigError("the --rm option conflicts with a restart policy other than no")
        stop_signal = spec.stop_signal or icfg.get("StopSignal") or "SIGTERM"
        specs.parse_signal(stop_signal)
        mounts = self._mounts(spec, icfg)
        ulimits = [specs.parse_ulimit(u) for u in spec.ulimits]
        from . import health
        from .net import setup as netsetup
        net = netsetup.config_from_spec(self.engine, spec)
        return {
            "image": spec.image,
            "entrypoint": entrypoint, "command": command, "args": args,
            "env": [f"{k}={v}" for k, v in env.items()],
            "workdir": spec.workdir or icfg.get("WorkingDir") or "/",
            "user": spec.user if spec.user is not None else (icfg.get("User") or ""),
            "labels": {**(icfg.get("Labels") or {}), **spec.labels},
            "annotations": dict(spec.annotations),
            "mounts": mounts,
            "read_only": spec.read_only,
            "cap_add": list(spec.cap_add), "cap_drop": list(spec.cap_drop),
            "privileged": spec.privileged,
            "memory": specs.parse_memory(spec.memory) if spec.memory not in (None, "") else None,
            "cpus": specs.parse_cpus(spec.cpus) if spec.cpus not in (None, "") else None,
            "pids_limit": _pids(spec.pids_limit),
            "shm_size": specs.parse_size(spec.shm_size, what="shm size") if spec.shm_size else None,
            "restart_policy": restart,
            "init": spec.init,
            "stop_signal": stop_signal,
            "stop_timeout": DEFAULT_STOP_TIMEOUT if spec.stop_timeout is None else int(spec.stop_timeout),
            "interactive": spec.interactive, "tty": spec.tty,
            "remove": spec.remove,
            **net,
            **health.config_from_spec(spec, icfg),
            "exposed_ports": sorted((icfg.get("ExposedPorts") or {}).keys()),
            "ulimits": ulimits,
            "sysctls": dict(spec.sysctls),
            **specs.extra_config(spec),
        }

    def _mounts(self, spec: "ContainerSpec", icfg: dict[str, Any]) -> list[dict[str, Any]]:
        from . import spec as specs

        mounts: list[dict[str, Any]] = []
        for v in spec.volumes:
            m = specs.parse_volume(v)
            if m["type"] == "bind":
                src = os.path.abspath(m["source"])
                if not os.path.exists(src):
                    raise ConfigError(f"invalid bind mount {v!r}: source {src} does not exist")
                opts = ["rbind"] + m["options"] + ([] if m["rw"] else ["ro"])
                mounts.append({"type": "bind", "source": src, "destination": m["destination"],
                               "options": opts, "rw": m["rw"]})
            else:
                mounts.append({"type": "volume", "volume": m["source"] or None,
                               "anonymous": not m["source"], "destination": m["destination"],
                               "rw": m["rw"]})
        for m in spec.mounts:
            if m["type"] == "bind":
                src = os.path.abspath(m["source"])
                if not os.path.exists(src):
                    if not m.get("create_host_path"):
                        raise ConfigError(f"invalid bind mount: source {src} does not exist")
                    os.makedirs(src, exist_ok=True)
                m = {k: v for k, v in m.items() if k != "create_host_path"}
                m["source"] = src
            mounts.append(dict(m))
        for dest, opts in spec.tmpfs.items():
            o = ["rw", "noexec", "nosuid", "nodev"] + [x for x in opts.split(",") if x]
            mounts.append({"type": "tmpfs", "source": "tmpfs", "destination": dest, "options": o,
                           "rw": "ro" not in o})
        taken = {m["destination"].rstrip("/") or "/" for m in mounts}
        if len(taken) != len(mounts):
            raise ConfigError("duplicate mount destination: each container path may be mounted once")
        for dest in sorted((icfg.get("Volumes") or {}).keys()):
            if dest.rstrip("/") not in taken:
                mounts.append({"type": "volume", "volume": None, "anonymous": True,
                               "destination": dest, "rw": True})
        return mounts

    def _ensure_volumes(self, config: dict[str, Any]) -> None:
        vols = self.engine.volumes
        for m in config["mounts"]:
            if m["type"] != "volume":
                continue
            if m.get("anonymous"):
                m["volume"] = vols.create(anonymous=True)["name"]
            else:
                vols.create(m["volume"], exist_ok=True)
            m["source"] = vols.data_dir(m["volume"])
            if m.get("subpath"):
                m["source"] = _subpath(m["source"], m["subpath"], m["volume"])

    # ---- remove -------------------------------------------------------------------
    def remove(self, ref: str, *, force: bool = False, volumes: bool = False,
               timeout: int | None = None, infra_ok: bool = False) -> str:
        c = self.get(ref)
        if c["config"].get("infra") and not infra_ok:
            raise InvalidState(f"container {c['name']} is the infra container of a pod: "
                               "remove the pod instead (podium pod rm)")
        from . import lifecycle
        with self.lock(c["id"]):
            c = self.sync(self.reload(c["id"]))
            if c["state"]["status"] in st.ACTIVE:
                if not force:
                    raise InvalidState(
                        f"cannot remove container {c['id']} as it is {c['state']['status']} - "
                        "running or paused containers cannot be removed without force")
                lifecycle.stop_locked(self.engine, c, timeout=0 if timeout is None else timeout)
            lifecycle.cleanup_locked(self.engine, c["id"], restart=False)
            self.purge(c, volumes=volumes)
        return c["id"]

    def purge(self, c: dict[str, Any], *, volumes: bool) -> None:
        """Delete a stopped container's row and files (lock held)."""
        from .fsutil import rmtree
        from .net import setup as netsetup

        netsetup.release(self.engine, c)

        with self.store.write():
            self.store.delete_container(c["id"])
            self.engine.events.container(c, "destroy")
        rmtree(self.paths.container_dir(c["id"]))
        rmtree(self.paths.bundle(c["id"]))
        try:
            os.unlink(self.paths.lock(c["id"]))
        except OSError:
            pass
        for m in c["config"]["mounts"]:
            if volumes and m["type"] == "volume" and m.get("anonymous"):
                try:
                    self.engine.volumes.remove(m["volume"])
                except PodiumError:
                    pass

    def rename(self, ref: str, new: str) -> None:
        c = self.get(ref)
        check_name(new)
        try:
            with self.store.write():
                self.store.rename_container(c["id"], new)
                self.engine.events.container({**c, "name": new}, "rename", oldName=c["name"])
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"the container name {new!r} is already in use") from None


def _subpath(data: str, sub: str, volume: str) -> str:
    """A directory (made if missing, as the kubelet does) or file inside a volume, never outside it."""
    if sub.startswith("/") or ".." in sub.split("/"):
        raise ConfigError(f"invalid subpath {sub!r} of volume {volume}: a relative path without '..' is needed")
    path = os.path.join(data, sub)
    real = os.path.realpath(path)
    if real != os.path.realpath(data) and not real.startswith(os.path.realpath(data) + "/"):
        raise ConfigError(f"subpath {sub!r} of volume {volume} leads outside the volume")
    if not os.path.lexists(path):
        os.makedirs(path, exist_ok=True)
    return real


def read_exit_file(path: os.PathLike[str] | str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _mtime_iso(path: os.PathLike[str]) -> str:
    from .timeutil import iso_from_ns
    return iso_from_ns(os.stat(path).st_mtime_ns)


def _pids(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid pids limit {value!r}: expected a number") from None
    return n


def each(items: Iterable[str], fn) -> list[tuple[str, Any, PodiumError | None]]:  # noqa: ANN001
    """Run ``fn`` per item; one report (item, result, error) each — bulk verbs never stop early."""
    out = []
    for item in items:
        try:
            out.append((item, fn(item), None))
        except PodiumError as exc:
            out.append((item, None, exc))
    return out
