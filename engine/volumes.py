"""Named and anonymous volumes: directories under the storage root, tracked in the store.

A ``-v name:/path`` creates the named volume on first use (Podman's habit); an
anonymous volume (``-v /path`` or an image VOLUME) gets a random name and goes
away with ``rm -v``. Content under the mount point in the image is copied into
an empty volume the first time a container mounts it (lifecycle._prepare_volumes).

Volumes of the ``local`` driver may carry mount options, as Podman's do:
``-o type=tmpfs -o device=tmpfs -o o=size=64m`` (any ``mount -t TYPE -o O DEVICE``).
Such a volume is mounted on its ``_data`` directory when the first container
using it starts and unmounted when the last one is cleaned up. Who holds it is
one empty file per container under ``RUNROOT/volumes/<name>/``, changed under
a per-volume file lock: the holder is added *before* the runtime creates the
container, so a concurrent cleanup of another user never unmounts under a
starting container. The run root is a tmpfs, so a reboot forgets holders and
mounts together.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3

from .errors import AlreadyExists, ConfigError, InUse, NotFound, PodiumError, RuntimeFailure
from .names import NAME_RE
from .timeutil import now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

if TYPE_CHECKING:
    from .engine import Engine

DRIVERS = ("local",)
LOCAL_OPTIONS = ("type", "device", "o")
_FS_TYPE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
FILTER_KEYS = ("name", "label", "label!", "driver", "dangling", "opt")


def parse_options(values: list[str] | dict[str, str] | None) -> dict[str, str]:
    """``-o type=tmpfs -o o=size=64m`` -> {"type": "tmpfs", "o": "size=64m"}, checked."""
    if not values:
        return {}
    pairs = values.items() if isinstance(values, dict) else (v.partition("=")[::2] for v in values)
    opts: dict[str, str] = {}
    for key, val in pairs:
        key = key.strip()
        if key not in LOCAL_OPTIONS:
            raise ConfigError(f"invalid volume option {key!r} for driver local: "
                              f"use {', '.join(k + '=' for k in LOCAL_OPTIONS)}")
        if key == "o" and "o" in opts:  # -o o=a -o o=b: Podman joins them
            val = opts["o"] + "," + val
        opts[key] = val
    if "type" in opts and not _FS_TYPE.fullmatch(opts["type"]):
        raise ConfigError(f"invalid volume option type={opts['type']!r}: not a file system type")
    if opts.get("device", "").startswith("-"):
        raise ConfigError(f"invalid volume option device={opts['device']!r}: must not start with '-'")
    if opts and "type" not in opts and "device" not in opts:
        raise ConfigError("invalid volume options: o= needs type= (and device= unless type=tmpfs)")
    if "type" in opts and opts["type"] != "tmpfs" and not opts.get("device"):
        raise ConfigError(f"invalid volume options: type={opts['type']} needs device=")
    return opts


def mount_argv(opts: dict[str, str], target: str) -> list[str]:
    """The ``mount`` command for a volume with options (pure)."""
    argv = ["mount"]
    if opts.get("type"):
        argv += ["-t", opts["type"]]
    if opts.get("o"):
        argv += ["-o", opts["o"]]
    device = opts.get("device") or opts.get("type") or "none"
    return argv + ["--", device, target]


class Volumes:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.store = engine.store
        self.paths = engine.paths

    # ---- records ----------------------------------------------------------------------
    def data_dir(self, name: str) -> str:
        return str(self.paths.volume_dir(name) / "_data")

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM volumes WHERE name=?", (name,))
        if not rows:
            return None
        return {"name": rows[0]["name"], "created": rows[0]["created"], **json.loads(rows[0]["config"])}

    def require(self, name: str) -> dict[str, Any]:
        v = self.get(name)
        if v is None:
            raise NotFound(f"no volume with name {name!r} found: no such volume")
        return v

    def exists(self, name: str) -> bool:
        return self.get(name) is not None

    def list(self) -> list[dict[str, Any]]:
        return [{"name": r["name"], "created": r["created"], **json.loads(r["config"])}
                for r in self.store.query("SELECT * FROM volumes ORDER BY name")]

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None,
               driver: str = "local", options: list[str] | dict[str, str] | None = None,
               anonymous: bool = False, exist_ok: bool = False) -> dict[str, Any]:
        if name is None:
            name = os.urandom(32).hex()
        elif not NAME_RE.fullmatch(name) or len(name) > 253:
            raise ConfigError(f"invalid volume name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        if (driver or "local") not in DRIVERS:
            raise ConfigError(f"volume driver {driver!r} is not supported: use local")
        config = {"driver": "local", "labels": dict(labels or {}), "anonymous": anonymous,
                  "options": parse_options(options)}
        data = self.paths.volume_dir(name) / "_data"
        try:
            with self.store.write() as db:
                db.execute("INSERT INTO volumes(name, created, config) VALUES (?,?,?)",
                           (name, now_iso(), json.dumps(config)))
                self.engine.events.record("volume", "create", name, name, {"driver": "local", **config["labels"]})
                data.mkdir(parents=True, exist_ok=True)
        except sqlite3.IntegrityError:
            if exist_ok:
                return self.get(name) or {}
            raise AlreadyExists(f"volume with name {name} already exists: volume already exists") from None
        return self.get(name) or {"name": name, **config}

    def users(self, name: str) -> list[str]:
        """Names of the containers (any state) whose config mounts the volume."""
        return [c["name"] for c in self._user_records(name)]

    def _user_records(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.store.containers()
                if any(m.get("volume") == name for m in c["config"].get("mounts", []))]

    # ---- Podman's shapes --------------------------------------------------------------
    def inspect(self, name: str) -> dict[str, Any]:
        return self.describe(self.require(name))

    def describe(self, v: dict[str, Any]) -> dict[str, Any]:
        """``podman volume inspect``'s object for a volume record."""
        out = {
            "Name": v["name"], "Driver": v.get("driver", "local"), "Mountpoint": self.data_dir(v["name"]),
            "CreatedAt": v["created"], "Labels": dict(v.get("labels") or {}), "Scope": "local",
            "Options": dict(v.get("options") or {}), "MountCount": len(self._holders(v["name"])),
            "NeedsCopyUp": True, "NeedsChown": True,
        }
        if v.get("anonymous"):
            out["Anonymous"] = True
        return out

    def matches(self, v: dict[str, Any], filters: list[tuple[str, str]],
                used: set[str] | None = None) -> bool:
        """Podman's volume filters: values of one key OR-ed (labels AND-ed), keys AND-ed."""
        by_key: dict[str, list[bool]] = {}
        for key, val in filters:
            if key in ("label", "label!"):
                k, sep, want = val.partition("=")
                labels = v.get("labels") or {}
                ok = k in labels and (not sep or labels[k] == want)
                ok = ok if key == "label" else not ok
            elif key == "name":
                try:
                    ok = re.search(val, v["name"]) is not None
                except re.error:
                    raise ConfigError(f"invalid filter name={val!r}: not a regular expression") from None
            elif key == "driver":
                ok = v.get("driver", "local") == val
            elif key == "dangling":
                if val.lower() not in ("true", "false", "1", "0"):
                    raise ConfigError(f"invalid filter dangling={val!r}: use true or false")
                in_use = v["name"] in used if used is not None else bool(self.users(v["name"]))
                ok = (not in_use) == (val.lower() in ("true", "1"))
            elif key == "opt":
                k, sep, want = val.partition("=")
                opts = v.get("options") or {}
                ok = k in opts and (not sep or opts[k] == want)
            else:
                raise ConfigError(f"invalid filter {key}={val}: use one of "
                                  + ", ".join(f + "=" for f in FILTER_KEYS))
            by_key.setdefault(key, []).append(ok)
        return all(all(r) if k in ("label", "label!") else any(r) for k, r in by_key.items())

    def used_names(self) -> set[str]:
        return {m["volume"] for c in self.store.containers() for m in c["config"].get("mounts", [])
                if m.get("type") == "volume" and m.get("volume")}

    # ---- remove -----------------------------------------------------------------------
    def remove(self, name: str, *, force: bool = False, timeout: int | None = None) -> None:
        """Remove a volume; ``force`` first removes the containers using it (Podman's ``rm -f``)."""
        self.require(name)
        users = self._user_records(name)
        if users and not force:
            raise InUse(f"volume {name} is being used by the following container(s): "
                        f"{', '.join(c['id'] for c in users)}: volume is being used")
        for c in users:
            try:
                self.engine.containers.remove(c["id"], force=True, timeout=timeout)
            except NotFound:
                pass
        import shutil

        with self._lock(name):
            if self._user_records(name):  # a new user appeared meanwhile
                raise InUse(f"volume {name} is being used: volume is being used")
            with self.store.write() as db:
                db.execute("DELETE FROM volumes WHERE name=?", (name,))
                self.engine.events.record("volume", "destroy", name, name, {"driver": "local"})
            data = self.data_dir(name)
            if _is_mountpoint(data):
                _umount(data, lazy=True)
            shutil.rmtree(self.paths.volume_dir(name), ignore_errors=True)
            shutil.rmtree(self._run_dir(name), ignore_errors=True)
        try:
            os.unlink(self._lock_path(name))
        except OSError:
            pass

    def prune(self, *, filters: list[tuple[str, str]] | None = None) -> list[tuple[str, PodiumError | None]]:
        """Remove every volume no container uses (in any state); one report per volume."""
        used = self.used_names()
        out: list[tuple[str, PodiumError | None]] = []
        for v in self.list():
            if v["name"] in used or not self.matches(v, filters or [], used):
                continue
            try:
                self.remove(v["name"])
                out.append((v["name"], None))
            except PodiumError as exc:
                out.append((v["name"], exc))
        return out

    # ---- mounts for volumes with options ------------------------------------------------
    def _run_dir(self, name: str) -> "Path":
        return self.paths.runroot / "volumes" / name

    def _lock_path(self, name: str) -> "Path":
        return self.paths.lock("volume-" + name)

    def _lock(self, name: str):  # noqa: ANN202 - a context manager
        from .locks import locked
        path = self._lock_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return locked(path)

    def _holders(self, name: str) -> list[str]:
        try:
            return sorted(os.listdir(self._run_dir(name)))
        except OSError:
            return []

    def _option_volumes(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        names = dict.fromkeys(m["volume"] for m in c["config"].get("mounts", [])
                              if m.get("type") == "volume" and m.get("volume"))
        vols = [self.get(n) for n in names]
        return [v for v in vols if v and v.get("options")]

    def mount_for(self, c: dict[str, Any]) -> None:
        """Before ``c`` starts: mount its volumes that have options, and hold them."""
        for v in self._option_volumes(c):
            name = v["name"]
            with self._lock(name):
                run_dir = self._run_dir(name)
                run_dir.mkdir(parents=True, exist_ok=True)
                data = self.data_dir(name)
                if not _is_mountpoint(data):
                    os.makedirs(data, exist_ok=True)
                    _mount(v["options"], data, name)
                (run_dir / c["id"]).touch()

    def unmount_for(self, c: dict[str, Any]) -> None:
        """After ``c`` stopped: let go of its volumes; the last holder unmounts."""
        for v in self._option_volumes(c):
            name = v["name"]
            with self._lock(name):
                run_dir = self._run_dir(name)
                try:
                    os.unlink(run_dir / c["id"])
                except OSError:
                    pass
                # holders whose container is gone (removed without cleanup) do not count
                holders = [h for h in self._holders(name) if self.store.container(h) is not None]
                data = self.data_dir(name)
                if not holders and _is_mountpoint(data):
                    _umount(data)
                if not holders:
                    try:
                        os.rmdir(run_dir)
                    except OSError:
                        pass


def _mountpoints() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {_unescape(line.split()[4]) for line in f}


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _is_mountpoint(path: str) -> bool:
    return os.path.realpath(path) in _mountpoints()


def _mount(opts: dict[str, str], target: str, name: str) -> None:
    import subprocess

    proc = subprocess.run(mount_argv(opts, target), capture_output=True, text=True)
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.split()) or f"mount exited {proc.returncode}"
        raise RuntimeFailure(f"volume {name}: cannot mount {opts.get('type') or opts.get('device')}: {msg}")


def _umount(target: str, *, lazy: bool = False) -> None:
    import subprocess

    proc = subprocess.run(["umount", *(["-l"] if lazy else []), target], capture_output=True, text=True)
    if proc.returncode != 0 and not lazy:
        subprocess.run(["umount", "-l", target], capture_output=True, text=True)
